"""The observer: relevant source changes reach the callback; VCS, virtualenvs, caches and build output never do."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from covlens.watch.observer import IgnoreRules, ProjectObserver

WAIT = 30.0  # an upper bound on how long a file event may take to arrive, not a delay


class Collector:
    """Callback target: collects changed paths and lets the test wait until a given path has been seen."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._cond = threading.Condition()

    def __call__(self, paths: frozenset[str]) -> None:
        with self._cond:
            self.paths.extend(paths)
            self._cond.notify_all()

    def wait_for(self, path: Path) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: str(path) in self.paths, timeout=WAIT), \
                f"no change reported for {path}; got {self.paths}"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for folder in ("pkg/__pycache__", ".git/objects", ".venv/lib", "node_modules/x", "build/lib", "dist",
                   "shop.egg-info", ".tox/py", ".nox/s", ".mypy_cache", ".pytest_cache", ".covlens", "envs/myenv/lib",
                   "venv/lib"):
        (root / folder).mkdir(parents=True)
    (root / "envs" / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    (root / "pkg" / "__init__.py").write_text("")
    return root


def test_ignore_rules_skip_vcs_virtualenvs_caches_and_build_output(tree: Path):
    rules = IgnoreRules(str(tree))
    for rel in (".git/objects/ab.py", ".venv/lib/x.py", "venv/lib/x.py", "node_modules/x/a.py",
                "pkg/__pycache__/m.py", ".covlens/covlens.py", "build/lib/m.py", "dist/m.py", "shop.egg-info/x.py",
                ".tox/py/m.py", ".nox/s/m.py", ".mypy_cache/m.py", ".pytest_cache/m.py", "envs/myenv/lib/m.py"):
        assert rules.ignored(str(tree / rel)), rel
        assert not rules.relevant(str(tree / rel)), rel
    for rel in ("pkg/m.py", "pkg/m.pyi", "pyproject.toml", "tests/conftest.py", "setup.cfg", "envs/tool.py"):
        assert rules.relevant(str(tree / rel)), rel
    for rel in ("pkg/data.json", "pkg/.m.py.swp", "pkg/m.py~", "notes.txt"):
        assert not rules.relevant(str(tree / rel)), rel
    assert rules.ignored("/elsewhere/m.py")


def test_observer_reports_source_changes_and_never_ignored_ones(tree: Path):
    seen = Collector()
    observer = ProjectObserver(str(tree), seen)
    observer.start()
    try:
        assert str(tree / ".venv") not in observer.watched_dirs  # not even watched
        assert str(tree / "node_modules") not in observer.watched_dirs
        # Ignored writes first, then one relevant write in the same watched folder: once the relevant one has
        # arrived, the earlier ignored ones would have arrived before it.
        (tree / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"x")
        (tree / "pkg" / "__pycache__" / "m.py").write_text("x = 1\n")
        (tree / "envs" / "myenv" / "lib" / "site.py").write_text("x = 1\n")
        (tree / ".venv" / "lib" / "x.py").write_text("x = 1\n")
        (tree / "pkg" / "data.json").write_text("{}")
        (tree / "pkg" / "cart.py").write_text("TOTAL = 0\n")
        seen.wait_for(tree / "pkg" / "cart.py")
        (tree / "pyproject.toml").write_text("[tool.covlens]\n")
        seen.wait_for(tree / "pyproject.toml")
        assert {Path(p).name for p in seen.paths} <= {"cart.py", "pyproject.toml"}
    finally:
        observer.stop()


def test_observer_watches_top_level_folders_created_after_it_started(tree: Path):
    seen = Collector()
    observer = ProjectObserver(str(tree), seen)
    observer.start()
    try:
        (tree / "newpkg").mkdir()
        (tree / "newpkg" / "mod.py").write_text("x = 1\n")
        seen.wait_for(tree / "newpkg" / "mod.py")
        (tree / "newpkg" / "later.py").write_text("x = 2\n")
        seen.wait_for(tree / "newpkg" / "later.py")
    finally:
        observer.stop()


def test_observer_reports_renames_and_deletions_of_modules(tree: Path):
    seen = Collector()
    (tree / "pkg" / "old.py").write_text("x = 1\n")
    (tree / "pkg" / "gone.py").write_text("x = 1\n")
    observer = ProjectObserver(str(tree), seen)
    observer.start()
    try:
        os.rename(tree / "pkg" / "old.py", tree / "pkg" / "new.py")
        seen.wait_for(tree / "pkg" / "new.py")
        assert str(tree / "pkg" / "old.py") in seen.paths
        (tree / "pkg" / "gone.py").unlink()
        seen.wait_for(tree / "pkg" / "gone.py")
    finally:
        observer.stop()
