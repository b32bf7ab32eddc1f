"""`covlens watch`: a first run at start, another after a file changes, a one-screen summary after each."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from covlens.config import load
from covlens.store import Store
from covlens.watch.terminal import watch_async


class Screen(io.StringIO):
    """The terminal: sets an event each time a summary has been printed."""

    def __init__(self) -> None:
        super().__init__()
        self.summaries = 0
        self.printed = asyncio.Event()

    def write(self, text: str) -> int:
        n = super().write(text)
        if "watching for changes" in text:
            self.summaries += 1
            self.printed.set()
        return n

    async def next_summary(self) -> None:
        await self.printed.wait()
        self.printed.clear()


def make_project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "calc").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text('[tool.covlens]\nsource = ["calc"]\n\n[tool.pytest.ini_options]\n'
                                        'testpaths = ["tests"]\npythonpath = ["."]\n')
    (root / "calc" / "__init__.py").write_text("")
    (root / "calc" / "ops.py").write_text("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n")
    (root / "tests" / "test_ops.py").write_text("from calc.ops import add\n\n\ndef test_add():\n"
                                                "    assert add(1, 2) == 3\n")
    return root


async def test_watch_runs_at_start_and_again_when_a_test_file_changes(tmp_path: Path):
    root = make_project(tmp_path)
    screen = Screen()
    stop = asyncio.Event()
    task = asyncio.create_task(watch_async(load(root), debounce=0.05, out=screen, stop=stop))
    try:
        await asyncio.wait_for(screen.next_summary(), 120)
        first = Store(root).project()
        assert first.files[str(root / "calc" / "ops.py")].missing == {6}
        assert "1 passed" in screen.getvalue() and "calc.ops" in screen.getvalue()

        (root / "tests" / "test_ops.py").write_text(
            "from calc.ops import add, sub\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
            "def test_sub():\n    assert sub(3, 2) == 2\n")
        await asyncio.wait_for(screen.next_summary(), 120)
        second = Store(root).project()
        assert second.files[str(root / "calc" / "ops.py")].missing == frozenset()
        assert second.tests["tests/test_ops.py::test_sub"].outcome == "failed"
        assert "FAILED tests/test_ops.py::test_sub" in screen.getvalue().split("run 2")[-1]
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 60) == 0
    assert screen.getvalue().rstrip().endswith("covlens watch: stopped")
