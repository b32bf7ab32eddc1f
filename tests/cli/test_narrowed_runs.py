"""`covlens run -- ARGS`: arguments that narrow the run keep the other tests' results; -q, -v and the like do not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from covlens.runner.narrowing import narrowing_argument


@pytest.mark.parametrize("args", [
    [], ["-q"], ["-qq"], ["-v"], ["-vv", "-s"], ["-sv"], ["--tb=short"], ["--tb", "line"], ["-rA"], ["-r", "fE"],
    ["--color=no"], ["--durations", "5"], ["-W", "error"], ["-Wignore::DeprecationWarning"], ["-p", "no:cacheprovider"],
    ["-pno:cacheprovider"], ["-n", "2"], ["-nauto"], ["--numprocesses=2"], ["--no-header", "--disable-warnings"],
    ["-q", "-p", "no:cacheprovider", "--tb=short"],
])
def test_arguments_that_only_change_the_output_leave_a_full_run(args: list[str]) -> None:
    assert narrowing_argument(args) is None


@pytest.mark.parametrize(("args", "culprit"), [
    (["-k", "cart"], "-k"), (["tests/test_a.py"], "tests/test_a.py"), (["-q", "tests/test_a.py::test_one"],
                                                                        "tests/test_a.py::test_one"),
    (["-m", "slow"], "-m"), (["--lf"], "--lf"), (["-x"], "-x"), (["-vx"], "-vx"), (["--maxfail=1"], "--maxfail=1"),
    (["--deselect", "t.py::x"], "--deselect"), (["-p", "no:doctest"], "-p"), (["-pmyplugin"], "-pmyplugin"),
    (["-o", "addopts=-k cart"], "-o"), (["--tb", "short", "-k", "x"], "-k"), (["--unknown-option"], "--unknown-option"),
])
def test_arguments_that_may_narrow_the_run_are_named(args: list[str], culprit: str) -> None:
    assert narrowing_argument(args) == culprit


def _covlens(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "covlens", *args], cwd=root, capture_output=True, text=True,
                          timeout=300, check=False)


def _stored_tests(root: Path) -> set[str]:
    done = _covlens(root, "report", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    return {test["nodeid"] for test in json.loads(done.stdout)["covlens"]["tests"]}


def test_a_quiet_run_replaces_the_results_and_a_narrowed_one_keeps_the_others(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'proj'\nversion = '0'\n")
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "tests" / "test_one.py").write_text("from calc import add\n\ndef test_one():\n    assert add(1, 1) == 2\n")
    (root / "tests" / "test_two.py").write_text("from calc import add\n\ndef test_two():\n    assert add(1, 2) == 3\n")
    assert _covlens(root, "run", "--quiet").returncode == 0
    assert _stored_tests(root) == {"tests/test_one.py::test_one", "tests/test_two.py::test_two"}

    (root / "tests" / "test_two.py").unlink()
    # Narrowed to test_one: test_two's file is gone, but this run cannot know it, so its results stay.
    assert _covlens(root, "run", "--quiet", "--", "-k", "test_one").returncode == 0
    assert _stored_tests(root) == {"tests/test_one.py::test_one", "tests/test_two.py::test_two"}
    # Quiet, but every test: a full run, after which only the tests that exist are left.
    assert _covlens(root, "run", "--quiet", "--", "-q", "-p", "no:cacheprovider").returncode == 0
    assert _stored_tests(root) == {"tests/test_one.py::test_one"}
