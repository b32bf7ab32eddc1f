"""Bad input gives one clear message and an exit code, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def covlens(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "covlens", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)


def project(tmp_path: Path, pyproject: str, files: dict[str, str] | None = None) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text(pyproject)
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_run_on_a_missing_folder_says_so_and_exits_4(tmp_path: Path):
    result = covlens("run", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert result.returncode == 4
    assert "nowhere: no such folder" in result.stderr
    assert_clean(result)


def test_run_on_a_file_instead_of_a_folder_exits_4(tmp_path: Path):
    (tmp_path / "x.py").write_text("")
    result = covlens("run", str(tmp_path / "x.py"), cwd=tmp_path)
    assert result.returncode == 4 and "is a file" in result.stderr
    assert_clean(result)


def test_invalid_config_names_file_line_and_key_and_exits_2(tmp_path: Path):
    root = project(tmp_path, '[project]\nname = "x"\n\n[tool.covlens]\nengine = "auto"\ntimeout = "soon"\n')
    result = covlens("run", str(root), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{root / 'pyproject.toml'}:6" in result.stderr and "timeout" in result.stderr
    assert_clean(result)


def test_unknown_config_key_is_an_error_naming_it(tmp_path: Path):
    root = project(tmp_path, "[tool.covlens]\nsorce = ['src']\n")
    result = covlens("run", str(root), cwd=tmp_path)
    assert result.returncode == 2 and "sorce" in result.stderr and ":2" in result.stderr
    assert_clean(result)


def test_broken_toml_is_a_config_error(tmp_path: Path):
    root = project(tmp_path, "[tool.covlens\nsource = \n")
    result = covlens("run", str(root), cwd=tmp_path)
    assert result.returncode == 2 and "not valid TOML" in result.stderr
    assert_clean(result)


def test_project_without_tests_says_no_tests_and_exits_5(tmp_path: Path):
    root = project(tmp_path, "[tool.covlens]\n", {"pkg/__init__.py": "", "pkg/mod.py": "X = 1\n"})
    result = covlens("run", str(root), "-q", cwd=tmp_path)
    assert result.returncode == 5, result.stdout + result.stderr
    assert "no tests were collected" in result.stdout
    assert_clean(result)


def test_report_before_any_run_says_to_run_first(tmp_path: Path):
    root = project(tmp_path, "[tool.covlens]\n")
    result = covlens("report", str(root), cwd=tmp_path)
    assert result.returncode == 4 and "run `covlens run" in result.stderr
    assert not (root / ".covlens").exists()  # reading creates nothing
    assert_clean(result)


def test_explain_of_an_unknown_module_exits_4_with_advice(tmp_path: Path):
    root = project(tmp_path, "[tool.covlens]\n")
    result = covlens("explain", "no.such.module", "--root", str(root), cwd=tmp_path)
    assert result.returncode == 4 and "nothing is known about 'no.such.module'" in result.stdout
    assert_clean(result)


def test_explain_without_a_run_uses_the_current_configuration(tmp_path: Path):
    root = project(tmp_path, "[tool.covlens]\nexclude = ['pkg/gen/']\n",
                   {"pkg/__init__.py": "", "pkg/gen/__init__.py": "", "pkg/gen/table.py": "X = 1\n",
                    "pkg/skip.py": "# covlens: skip-file\nX = 1\n"})
    result = covlens("explain", "pkg.gen.table", "--root", str(root), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reason `excluded`" in result.stdout and "'pkg/gen/'" in result.stdout
    assert "pyproject.toml:2" in result.stdout
    assert "no recorded run has imported it yet" in result.stdout
    pragma = covlens("explain", "pkg/skip.py", "--root", str(root), cwd=tmp_path)
    assert "reason `pragma`" in pragma.stdout and "pkg/skip.py:1" in pragma.stdout


@pytest.mark.parametrize("argv", [["report", "--format", "xml"], ["bogus"], ["report", "--", "-k", "x"]])
def test_bad_command_lines_are_usage_errors(tmp_path: Path, argv: list[str]):
    result = covlens(*argv, cwd=tmp_path)
    assert result.returncode == 2  # argparse's usage error
    assert "usage:" in result.stderr
    assert_clean(result)


def test_no_command_prints_help(tmp_path: Path):
    result = covlens(cwd=tmp_path)
    assert result.returncode == 4 and "run" in result.stdout and "explain" in result.stdout


def test_ctrl_c_cancels_the_run_keeps_earlier_results_and_exits_2(tmp_path: Path):
    import signal

    root = project(tmp_path, "[tool.covlens]\n", {
        "pkg/__init__.py": "", "pkg/mod.py": "def f():\n    return 1\n",
        "tests/test_a.py": "from pkg.mod import f\n\n\ndef test_quick():\n    assert f() == 1\n",
        "tests/test_b.py": "import threading\n\n\ndef test_blocks():\n    threading.Event().wait()\n",
    })
    proc = subprocess.Popen([sys.executable, "-m", "covlens", "run", str(root)], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        # test_quick finishes first (files run in order); once its progress line is out, test_blocks is running.
        for line in proc.stdout:
            if "1/2 done" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, out + err
    assert "run cancelled" in out
    assert "Traceback" not in out + err
    from covlens.store import Store

    stored = Store(root).project()
    assert stored.stale and stored.last_run.state == "cancelled"
    assert stored.tests["tests/test_a.py::test_quick"].outcome == "passed"


def test_a_test_that_kills_the_worker_ends_with_a_report_and_exit_3(tmp_path: Path):
    root = project(tmp_path, "[tool.covlens]\n", {
        "pkg/__init__.py": "", "pkg/mod.py": "def f():\n    return 1\n",
        "tests/test_a.py": "import os\nfrom pkg.mod import f\n\n\ndef test_quick():\n    assert f() == 1\n\n\n"
                           "def test_exits():\n    os._exit(9)\n",
    })
    result = covlens("run", str(root), "-q", cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "run crashed" in result.stdout and "exited with code 9" in result.stdout
    assert "Last output of the test process:" in result.stdout and "collected 2 items" in result.stdout
    assert "pkg.mod" in result.stdout
    assert_clean(result)


def test_pytest_arguments_narrow_the_run_and_keep_the_other_tests_results(tmp_path: Path):
    from covlens.store import Store

    root = project(tmp_path, "[tool.covlens]\n", {
        "pkg/__init__.py": "", "pkg/mod.py": "def f():\n    return 1\n\n\ndef g():\n    return 2\n",
        "tests/test_a.py": "from pkg.mod import f, g\n\n\ndef test_f():\n    assert f() == 1\n\n\n"
                           "def test_g():\n    assert g() == 2\n",
    })
    assert covlens("run", str(root), "-q", cwd=tmp_path).returncode == 0
    narrowed = covlens("run", str(root), "-q", "--", "-k", "test_f", cwd=tmp_path)
    assert narrowed.returncode == 0, narrowed.stdout + narrowed.stderr
    stored = Store(root).project()
    assert set(stored.tests) == {"tests/test_a.py::test_f", "tests/test_a.py::test_g"}
    assert stored.files[str(root / "pkg" / "mod.py")].missing == frozenset()
    assert Store(root).tests_for_line(str(root / "pkg" / "mod.py"), 6) == ["tests/test_a.py::test_g"]
