"""Exports: LCOV, coverage.py's JSON report format, and a coverage.py data file that coverage's own tools read."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from coverage import CoverageData

from covlens.model import COLLECTION_CONTEXT
from covlens.store import Store
from covlens.store.export_coverage import write_coverage_data
from covlens.store.export_json import json_report, write_json
from covlens.store.export_lcov import lcov_text, write_lcov

ADD = "tests/test_calc.py::test_add"
SUB = "tests/test_calc.py::test_sub"


def _store(project) -> Store:
    store = Store(project.root)
    store.record(project.result(
        outcomes={ADD: "passed", SUB: "passed"},
        hits={COLLECTION_CONTEXT: {project.calc: [1, 5, 9]}, ADD: {project.calc: [2]}, SUB: {project.calc: [2]}}))
    return store


def _coverage(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coverage", *args], cwd=cwd, capture_output=True, text=True,
                          check=False)


def test_lcov_has_one_record_per_measured_file_with_test_counts(project):
    text = lcov_text(_store(project).project())
    assert text == (
        "TN:\nSF:pkg/__init__.py\nLF:0\nLH:0\nend_of_record\n"
        "TN:\nSF:pkg/calc.py\nDA:1,1\nDA:2,2\nDA:5,1\nDA:6,0\nLF:4\nLH:3\nend_of_record\n"
        "TN:\nSF:pkg/never.py\nDA:1,0\nDA:2,0\nDA:3,0\nLF:3\nLH:0\nend_of_record\n"
    )
    out = project.root / "out" / "lcov.info"
    write_lcov(_store(project).project(), out)
    assert out.read_text() == text


def test_json_report_has_coverage_py_shape_and_every_decision(project):
    report = json_report(_store(project).project())
    assert report["meta"]["format"] == 3 and report["meta"]["branch_coverage"] is False
    calc = report["files"]["pkg/calc.py"]
    assert calc["executed_lines"] == [1, 2, 5]
    assert calc["missing_lines"] == [6]
    assert calc["excluded_lines"] == [9, 10]
    assert calc["summary"] == {
        "covered_lines": 3, "num_statements": 4, "percent_covered": 75.0, "percent_covered_display": "75",
        "missing_lines": 1, "excluded_lines": 2,
        "percent_statements_covered": 75.0, "percent_statements_covered_display": "75",
    }
    assert report["totals"]["num_statements"] == 7 and report["totals"]["covered_lines"] == 3
    assert report["totals"]["percent_covered_display"] == "43"
    decisions = {d["module"]: d for d in report["covlens"]["decisions"]}
    assert decisions["pkg.never"]["reason"] == "not-imported"
    assert set(decisions["json"]) == {"module", "path", "action", "reason", "detail", "rule"}
    assert {d["reason"] for d in decisions.values()} >= {"stdlib", "third-party", "test-file", "no-source", "source"}
    assert [t["nodeid"] for t in report["covlens"]["tests"]] == [ADD, SUB]


def test_coverage_data_file_carries_one_context_per_test(project, tmp_path):
    dest = tmp_path / "cov.data"
    store = _store(project)
    write_coverage_data(store.project(), store.context_hits(), dest)
    data = CoverageData(basename=str(dest), suffix=False)
    data.read()
    assert data.measured_files() == {project.init, project.calc, project.never}
    assert sorted(data.lines(project.calc)) == [1, 2, 5, 9]
    assert data.lines(project.never) == []
    assert data.measured_contexts() == {"", ADD, SUB}
    assert sorted(data.contexts_by_lineno(project.calc)[2]) == [ADD, SUB]


def test_coverage_report_html_xml_and_json_work_on_the_exported_data_file(project, tmp_path):
    dest = tmp_path / "cov.data"
    store = _store(project)
    write_coverage_data(store.project(), store.context_hits(), dest)

    report = _coverage("report", "-m", f"--data-file={dest}", cwd=project.root)
    assert report.returncode == 0, report.stderr
    lines = {line.split()[0]: line.split() for line in report.stdout.splitlines() if line.strip()}
    assert lines["pkg/calc.py"][1:4] == ["4", "1", "75%"] and lines["pkg/calc.py"][4] == "6"
    assert lines["pkg/never.py"][1:4] == ["3", "3", "0%"]
    assert lines["TOTAL"][1:4] == ["7", "4", "43%"]

    html = _coverage("html", f"--data-file={dest}", "-d", str(tmp_path / "html"), "--show-contexts", cwd=project.root)
    assert html.returncode == 0, html.stderr
    index = (tmp_path / "html" / "index.html").read_text()
    assert "calc.py" in index and "never.py" in index and "43%" in index
    calc_pages = [p for p in (tmp_path / "html").glob("*calc_py.html")]
    assert calc_pages and ADD in calc_pages[0].read_text()

    xml = _coverage("xml", f"--data-file={dest}", "-o", str(tmp_path / "cov.xml"), cwd=project.root)
    assert xml.returncode == 0, xml.stderr
    root = ET.parse(tmp_path / "cov.xml").getroot()
    assert root.get("lines-valid") == "7" and root.get("lines-covered") == "3"

    # coverage.py's own JSON report of our data equals our JSON report, file by file.
    theirs_path = tmp_path / "theirs.json"
    js = _coverage("json", f"--data-file={dest}", "-o", str(theirs_path), cwd=project.root)
    assert js.returncode == 0, js.stderr
    theirs = json.loads(theirs_path.read_text())
    ours_path = tmp_path / "ours.json"
    write_json(store.project(), ours_path)
    ours = json.loads(ours_path.read_text())
    assert set(ours["files"]) == set(theirs["files"])
    for name, mine in ours["files"].items():
        for key in ("executed_lines", "missing_lines", "excluded_lines"):
            assert mine[key] == theirs["files"][name][key], (name, key)
        for key, value in mine["summary"].items():
            assert theirs["files"][name]["summary"][key] == value, (name, key)
    for key, value in ours["totals"].items():
        assert theirs["totals"][key] == value, key


def test_coverage_data_export_replaces_an_existing_file(project, tmp_path):
    dest = tmp_path / "cov.data"
    dest.write_text("old junk")
    store = _store(project)
    write_coverage_data(store.project(), store.context_hits(), dest)
    data = CoverageData(basename=str(dest), suffix=False)
    data.read()
    assert project.calc in data.measured_files()


def test_reports_are_written_whole_with_the_permissions_of_any_new_file(project, tmp_path):
    store = Store(project.root)
    store.record(project.result())
    previous = os.umask(0o022)
    try:
        write_json(store.project(), tmp_path / "out" / "coverage.json")
        write_lcov(store.project(), tmp_path / "out" / "coverage.lcov")
    finally:
        os.umask(previous)
    for name in ("coverage.json", "coverage.lcov"):
        assert stat.S_IMODE((tmp_path / "out" / name).stat().st_mode) == 0o644  # readable by a CI step, not 0600
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["coverage.json", "coverage.lcov"]  # no temp left
    assert json.loads((tmp_path / "out" / "coverage.json").read_text())["files"]
