"""How `covlens run` ends: with pytest's exit code, its whole report written, and the process's atexit work done."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SITECUSTOMIZE = """\
import atexit, os
def _note():
    with open(os.environ["EXIT_NOTES"], "a") as handle:
        handle.write(f"{os.getpid()}\\n")
atexit.register(_note)
"""


def _project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_calc.py").write_text(
        "from pkg.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
        "def test_wrong():\n    assert add(2, 2) == 5\n")
    (root / "pyproject.toml").write_text('[tool.covlens]\nsource = ["pkg"]\n')
    return root


def test_run_exits_with_pytests_code_after_its_report_and_the_atexit_functions_of_its_process(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)  # as a .pth or coverage.py's process start-up would
    notes = tmp_path / "notes"
    # Not PYTHONUNBUFFERED: the report must reach a pipe through the block buffer a user's `| tee` gets.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COVLENS_", "PYTHONUNBUFFERED"))}
    env.update(PYTHONPATH=os.pathsep.join([str(site), *filter(None, [env.get("PYTHONPATH")])]), EXIT_NOTES=str(notes))
    proc = subprocess.Popen([sys.executable, "-m", "covlens", "run", str(root), "--json", str(tmp_path / "c.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, out + err  # one test failed, as pytest says
    assert "pkg.calc" in out and "TOTAL" in out and out.rstrip().splitlines()[-1].startswith("Wrote JSON"), out
    assert (tmp_path / "c.json").is_file()
    # The CLI's own atexit function ran, once; the test worker's (a process of its own) is not the CLI's.
    assert str(proc.pid) in notes.read_text().split(), notes.read_text()
    assert notes.read_text().split().count(str(proc.pid)) == 1
