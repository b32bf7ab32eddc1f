"""The overhead bench's ablation switches (bench/overhead/plugins/ablate) still switch off what they name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ABLATE = Path(__file__).resolve().parents[2] / "bench" / "overhead" / "plugins" / "ablate"


def _project(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_calc.py").write_text(
        "from pkg.calc import add, sub\n\n\ndef test_add():\n    assert add(1, 2) == 3\n\n\n"
        "def test_sub():\n    assert sub(2, 2) == 0\n")
    (root / "pyproject.toml").write_text('[tool.covlens]\nsource = ["pkg"]\n')
    return root


def _run(tmp_path: Path, off: str, engine: str = "ast") -> tuple[dict, dict]:
    root = _project(tmp_path / "proj")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COVLENS_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ABLATE), *filter(None, [env.get("PYTHONPATH")])])
    if off:
        env["COVLENS_BENCH_ABLATE"] = off
    report = tmp_path / "c.json"
    done = subprocess.run([sys.executable, "-m", "covlens", "run", "--quiet", "--engine", engine, "--json",
                           str(report)], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(report.read_text())
    return data["totals"], data


def test_without_switches_the_sitecustomize_changes_nothing(tmp_path: Path) -> None:
    totals, data = _run(tmp_path, "")
    assert (totals["covered_lines"], totals["num_statements"], len(data["covlens"]["tests"])) == (4, 4, 2)


def test_hook_off_measures_no_file_but_still_reports_every_test(tmp_path: Path) -> None:
    totals, data = _run(tmp_path, "hook")
    assert (totals["num_statements"], len(data["covlens"]["tests"])) == (0, 2)


def test_plugin_off_measures_the_files_but_reports_no_test(tmp_path: Path) -> None:
    totals, data = _run(tmp_path, "plugin")
    assert (totals["covered_lines"], totals["num_statements"], len(data["covlens"]["tests"])) == (4, 4, 0)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="the switch is the monitoring engine's (3.12+)")
def test_events_off_measures_no_line_in_a_function_of_the_files_it_still_loads(tmp_path: Path) -> None:
    totals, data = _run(tmp_path, "events", engine="monitor")
    # The module bodies still record through their probes (the two `def` lines); no line inside a function does.
    assert (totals["covered_lines"], totals["num_statements"], len(data["covlens"]["tests"])) == (2, 4, 2)
    assert data["files"]["pkg/calc.py"]["executed_lines"] == [1, 5]
