"""The terminal table: reason column, missed ranges like `coverage report -m`, summarised non-project modules."""

from __future__ import annotations

import io
from pathlib import Path

from covlens.instrument.decision import make
from covlens.model import COMPLETE, FileLines, Location, RunResult, RunSummary, TestOutcome
from covlens.progress import Progress
from covlens.report import coverage_table, failures_text, format_ranges, full_report, summary_line
from covlens.runner import events as ev
from covlens.store import Store


def test_format_ranges_joins_across_non_statement_lines():
    assert format_ranges([1, 2, 3, 4, 5, 10, 11, 12, 13, 14], [1, 2, 5, 10, 11, 13, 14]) == "1-2, 5-11, 13-14"
    assert format_ranges([1, 2, 3], []) == ""
    assert format_ranges([4], [4]) == "4"


def _store(tmp_path: Path) -> Store:
    root = tmp_path / "proj"
    (root / "shop").mkdir(parents=True)
    shop = str(root / "shop")
    a, b, c = f"{shop}/cart.py", f"{shop}/reports.py", f"{shop}/legacy.py"
    result = RunResult(
        summary=RunSummary("r1", COMPLETE, 10.0, 12.5, {"passed": 3, "failed": 1}, 4, 1),
        decisions=(
            make("shop.cart", a, "source", "under shop/"),
            make("shop.reports", b, "not-imported", "no test imported it"),
            make("shop.legacy", c, "excluded", "matches 'shop/legacy.py'"),
            make("shop.early", f"{shop}/early.py", "already-imported", "by sitecustomize"),
            *(make(f"std{i}", f"/usr/lib/python3/std{i}.py", "stdlib", "stdlib") for i in range(3)),
            make("pytest", "/venv/site-packages/pytest.py", "third-party", "site-packages"),
            make("tests.test_cart", str(root / "tests" / "test_cart.py"), "test-file", "test_*.py"),
            make("elsewhere", "/opt/other/elsewhere.py", "outside-source", "outside the workspace"),
        ),
        outcomes=(
            TestOutcome("tests/test_cart.py::test_ok", "passed"),
            TestOutcome("tests/test_cart.py::test_total", "failed", 0.1, str(root / "tests/test_cart.py"), 7,
                        "AssertionError: assert 3 == 4", Location(str(root / "tests/test_cart.py"), 9),
                        Location(a, 5)),
        ),
        hits={"": {a: frozenset({1, 2})}, "tests/test_cart.py::test_ok": {a: frozenset({3, 6})}},
        files={a: FileLines(a, "shop.cart", frozenset({1, 2, 3, 4, 5, 6}), frozenset()),
               b: FileLines(b, "shop.reports", frozenset({1, 2}), frozenset())},
    )
    store = Store(root)
    store.record(result)
    return store


def test_table_has_a_reason_column_workspace_rows_and_a_count_line(tmp_path: Path):
    table = coverage_table(_store(tmp_path).project())
    lines = table.splitlines()
    assert lines[0].split() == ["Module", "Reason", "Stmts", "Miss", "Cover", "Missing"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:] if line[:1].isalpha()}
    assert rows["shop.cart"] == ["source", "6", "2", "67%", "4-5"]
    assert rows["shop.reports"] == ["not-imported", "2", "2", "0%", "1-2"]
    assert rows["shop.legacy"] == ["excluded", "-", "-", "-"]
    assert rows["shop.early"] == ["already-imported", "-", "-", "-"]
    assert rows["TOTAL"] == ["8", "4", "50%"]
    assert "std0" not in table and "pytest" not in table.split("Not listed")[0]
    assert lines[-1] == ("Not listed (modules not measured): 3 stdlib, 1 outside-source, 1 test-file, 1 third-party"
                         " (--all-modules lists each with its reason)")


def test_table_limited_to_max_rows_keeps_the_modules_that_miss_most(tmp_path: Path):
    table = coverage_table(_store(tmp_path).project(), max_rows=2)
    assert "shop.cart" in table and "shop.reports" in table and "shop.legacy" not in table
    assert "... 2 more modules" in table and "TOTAL" in table


def test_failures_show_the_test_line_the_deepest_project_frame_and_the_message(tmp_path: Path):
    store = _store(tmp_path)
    text = failures_text(store.project().tests.values(), store.root)
    assert text.splitlines() == [
        "FAILED tests/test_cart.py::test_total at tests/test_cart.py:9",
        "    deepest in project code: shop/cart.py:5",
        "    AssertionError: assert 3 == 4",
    ]


def test_full_report_ends_with_the_run_summary(tmp_path: Path):
    text = full_report(_store(tmp_path).project())
    assert text.splitlines()[-1] == "1 failed, 3 passed in 2.50s"
    assert summary_line(None).startswith("no run recorded yet")


def test_progress_rewrites_one_line_on_a_tty():
    out = io.StringIO()
    progress = Progress(out, tty=True)
    progress.on_event(ev.Collected(2))
    progress.on_event(ev.TestFinished(TestOutcome("t::a", "passed")))
    progress.on_event(ev.TestFinished(TestOutcome("t::b", "failed")))
    progress.finish()
    text = out.getvalue()
    assert text.count("\n") == 1  # only the FAILED line ends a line; the status is rewritten with \r
    assert "\rrunning tests: 1/2 done (1 passed)" in text and "FAILED t::b" in text
    assert "running tests: 2/2 done (1 failed, 1 passed)" in text


def test_progress_prints_plain_lines_when_not_a_tty():
    out = io.StringIO()
    progress = Progress(out, tty=False)
    progress.on_event(ev.Collected(100))
    for i in range(100):
        progress.on_event(ev.TestFinished(TestOutcome(f"t::{i}", "passed")))
    progress.finish()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0] == "collected 100 tests" and lines[-1] == "running tests: 100/100 done (100 passed)"
    assert len(lines) <= 12  # a line per tenth, not per test
