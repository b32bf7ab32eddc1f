"""`covlens run examples/demo`: the README's main command shows every kind of decision and exits like pytest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo"

# Every reason the demo is built to show (guard, error and self are covlens's own safety nets, not demo material;
# self appears all the same in the count line).
DEMO_REASONS = ("source", "not-imported", "excluded", "already-imported", "outside-source", "pragma", "test-file",
                "stdlib", "third-party", "no-source")


def covlens(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "covlens", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=600, check=False)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One `covlens run` of a private copy of the demo (its .covlens/ store is written there), with every export."""
    root = tmp_path_factory.mktemp("demo") / "demo"
    shutil.copytree(DEMO, root, ignore=shutil.ignore_patterns("__pycache__", ".covlens"))
    out = root.parent
    # The demo's sitecustomize.py must be on the path at interpreter start-up, as in a user's environment that
    # has one; `scripts/demo` (the README's main command) sets PYTHONPATH the same way. The runner deliberately
    # does not add project roots to PYTHONPATH: that would run a project's sitecustomize under covlens only.
    env = dict(os.environ, PYTHONPATH=str(root))
    result = covlens("run", str(root), "--json", str(out / "cov.json"), "--lcov", str(out / "lcov.info"),
                     "--coverage-data", str(out / "cov.data"), cwd=out, env=env)
    return root, result


def test_demo_run_exits_1_for_the_failing_test_and_shows_every_reason(demo_run):
    root, result = demo_run
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    out = result.stdout
    assert "FAILED tests/test_pricing.py::test_bulk_discount_from_ten_items at tests/test_pricing.py:" in out
    table = out[out.index("Module "):]
    for reason in DEMO_REASONS:
        assert reason in table, f"{reason} missing from:\n{table}"
    rows = {line.split()[0]: line.split()[1] for line in table.splitlines()[2:] if line and line[0].isalpha()}
    assert rows["shop.cart"] == "source" and rows["shop.reports"] == "not-imported"
    assert rows["shop.legacy"] == "excluded" and rows["shop._vendored"] == "pragma"
    assert rows["shop.currency"] == "already-imported" and rows["testsupport.factories"] == "outside-source"
    assert "TOTAL" in rows
    assert "10 passed" in out and "1 failed" in out


def test_demo_exports_carry_every_decision(demo_run):
    root, result = demo_run
    out = root.parent
    report = json.loads((out / "cov.json").read_text())
    reasons = {d["reason"] for d in report["covlens"]["decisions"]}
    assert set(DEMO_REASONS) <= reasons
    assert "shop/cart.py" in report["files"] and "shop/legacy.py" not in report["files"]
    assert "SF:shop/cart.py" in (out / "lcov.info").read_text()
    cov = subprocess.run([sys.executable, "-m", "coverage", "report", f"--data-file={out / 'cov.data'}"], cwd=root,
                         capture_output=True, text=True, check=False)
    assert cov.returncode == 0, cov.stderr
    total = [line for line in cov.stdout.splitlines() if line.startswith("TOTAL")][0].split()
    assert [int(total[1]), int(total[2])] == [report["totals"]["num_statements"], report["totals"]["missing_lines"]]


def test_report_and_explain_read_the_demo_store_without_running(demo_run):
    root, _ = demo_run
    report = covlens("report", str(root), cwd=root.parent)
    assert report.returncode == 0, report.stderr
    assert "shop.legacy" in report.stdout and "excluded" in report.stdout
    assert "FAILED tests/test_pricing.py::test_bulk_discount_from_ten_items" in report.stdout
    lcov = covlens("report", str(root), "--format", "lcov", cwd=root.parent)
    assert lcov.stdout.startswith("TN:\nSF:")

    explain = covlens("explain", "shop.legacy", "--root", str(root), cwd=root.parent)
    assert explain.returncode == 0, explain.stderr
    text = explain.stdout
    assert "reason `excluded`" in text
    assert f"{root / 'pyproject.toml'}:" in text and "[tool.covlens] exclude" in text
    assert "'shop/legacy.py'" in text  # the pattern to remove

    early = covlens("explain", "shop/currency.py", "--root", str(root), cwd=root.parent)
    assert "already-imported" in early.stdout and "sitecustomize" in early.stdout

    outside = covlens("explain", "testsupport/factories.py", "--root", str(root), cwd=root.parent)
    assert "outside-source" in outside.stdout and "add 'testsupport' to `source`" in outside.stdout


def test_python_dash_m_covlens_and_the_console_script_are_the_same_entry():
    script = Path(sys.executable).with_name("covlens")
    assert script.is_file()
    a = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    b = subprocess.run([sys.executable, "-m", "covlens", "--version"], capture_output=True, text=True, check=False)
    assert a.returncode == b.returncode == 0 and a.stdout == b.stdout and a.stdout.startswith("covlens ")


def test_report_all_modules_lists_stdlib_and_third_party_modules_each_with_its_reason(demo_run):
    root, _ = demo_run
    result = covlens("report", str(root), "--all-modules", cwd=root.parent)
    rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines() if len(line.split()) > 1}
    assert rows["json"] == "stdlib" and rows["pytest"] == "third-party" and rows["covlens.config"] == "self"
    assert rows["shop.cart"] == "source" and rows["shop.currency"] == "already-imported"
    assert "Not listed" not in result.stdout
    counted = covlens("report", str(root), cwd=root.parent).stdout
    assert "Not listed (modules not measured):" in counted and "--all-modules" in counted
