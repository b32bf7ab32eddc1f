"""A normal run of a real project: outcomes of every kind, failure locations, per-test hits, decisions, events."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys

from covlens.model import COLLECTION_CONTEXT, COMPLETE, ERROR, Location
from covlens.runner import events as ev
from covlens.runner.session import Session
from tests.runner.conftest import FIXTURES, Ran, fixture_config, process_gone, run_fixture


def test_every_outcome_kind_is_reported_per_test(basic: Ran) -> None:
    assert basic.state == COMPLETE
    assert basic.result.summary.exit_code == 1
    assert basic.outcomes() == {
        "tests/test_calc.py::test_add": "passed",
        "tests/test_calc.py::test_mean_of_nothing_fails": "failed",
        "tests/test_calc.py::test_uses_resource": "passed",
        "tests/test_calc.py::test_setup_error": "error",
        "tests/test_calc.py::test_teardown_error": "error",
        "tests/test_calc.py::test_expected_failure": "xfailed",
        "tests/test_calc.py::test_unexpected_pass": "xpassed",
        "tests/test_calc.py::test_skipped": "skipped",
        "tests/test_calc.py::test_skipped_inside": "skipped",
        "tests/test_unittest_style.py::CalcTest::test_add": "passed",
        "tests/test_unittest_style.py::CalcTest::test_divide_by_zero": "failed",
    }
    summary = basic.result.summary
    assert summary.total == 11
    assert dict(summary.counts) == {"passed": 3, "failed": 2, "error": 2, "skipped": 2, "xfailed": 1, "xpassed": 1}
    assert summary.engine in ("ast", "monitor")
    assert summary.message.startswith("3 passed, 2 failed, 2 error")


def test_failure_points_at_the_line_in_the_test_and_the_deepest_project_frame(basic: Ran) -> None:
    failed = basic.outcome("tests/test_calc.py::test_mean_of_nothing_fails")
    assert failed.message == "ZeroDivisionError: cannot divide by zero"
    assert failed.failure == Location(basic.path("tests/test_calc.py"), 11)
    assert failed.deepest == Location(basic.path("pkg/calc.py"), 10)
    assert failed.path == basic.path("tests/test_calc.py")
    assert failed.line == 10
    assert failed.duration > 0


def test_failures_are_located_from_the_exception_itself_when_pytest_prints_no_traceback() -> None:
    # `--tb=no` leaves the reports without a traceback text: the places come from each failing phase's exception.
    ran = asyncio.run(run_fixture("basic", pytest_args=["--tb=no"]))
    failed = ran.outcome("tests/test_calc.py::test_mean_of_nothing_fails")
    assert failed.failure == Location(ran.path("tests/test_calc.py"), 11)
    assert failed.deepest == Location(ran.path("pkg/calc.py"), 10)
    error = ran.outcome("tests/test_calc.py::test_setup_error")
    assert error.deepest == Location(ran.path("pkg/setup_helpers.py"), 11)
    assert ran.outcome("tests/test_calc.py::test_skipped").failure is None


def test_unittest_failure_is_located_like_a_pytest_one(basic: Ran) -> None:
    failed = basic.outcome("tests/test_unittest_style.py::CalcTest::test_divide_by_zero")
    assert failed.failure == Location(basic.path("tests/test_unittest_style.py"), 11)
    assert failed.deepest == Location(basic.path("pkg/calc.py"), 10)


def test_error_in_a_fixture_is_located_in_the_fixture_and_the_project_code_it_called(basic: Ran) -> None:
    error = basic.outcome("tests/test_calc.py::test_setup_error")
    assert error.message == "error in setup: RuntimeError: resource unavailable"
    assert error.failure == Location(basic.path("tests/conftest.py"), 13)
    assert error.deepest == Location(basic.path("pkg/setup_helpers.py"), 11)
    teardown = basic.outcome("tests/test_calc.py::test_teardown_error")
    assert teardown.message == "error in teardown: RuntimeError: teardown failed"
    assert teardown.failure == Location(basic.path("tests/conftest.py"), 19)


def test_skips_and_xfails_carry_their_reason(basic: Ran) -> None:
    assert basic.outcome("tests/test_calc.py::test_skipped").message == "not today"
    assert basic.outcome("tests/test_calc.py::test_skipped_inside").message == "decided at run time"
    assert basic.outcome("tests/test_calc.py::test_expected_failure").message == "xfailed: known bug"
    assert basic.outcome("tests/test_calc.py::test_unexpected_pass").message == "xpassed: fixed meanwhile"


def test_each_test_gets_the_lines_it_ran_and_imports_go_to_the_collection_context(basic: Ran) -> None:
    assert basic.lines("pkg/calc.py", "tests/test_calc.py::test_add") == {5}
    assert basic.lines("pkg/calc.py", "tests/test_calc.py::test_mean_of_nothing_fails") == {9, 10, 15}
    assert basic.lines("pkg/calc.py", "tests/test_unittest_style.py::CalcTest::test_add") == {5}
    # set-up and teardown belong to the test too
    assert basic.lines("pkg/setup_helpers.py", "tests/test_calc.py::test_uses_resource") == {7}
    assert basic.lines("pkg/setup_helpers.py", "tests/test_calc.py::test_setup_error") == {11}
    assert basic.lines("pkg/calc.py", COLLECTION_CONTEXT) == {4, 8, 14, 18}
    assert basic.lines("pkg/setup_helpers.py", COLLECTION_CONTEXT) == {3, 6, 10, 14}
    # pytest tears session fixtures down in the last test's teardown: that test ran `release`
    last = "tests/test_unittest_style.py::CalcTest::test_divide_by_zero"
    assert basic.lines("pkg/setup_helpers.py", last) == {15}
    assert basic.lines("pkg/never.py") == set()


def test_decisions_and_line_facts_cover_imported_and_never_imported_modules(basic: Ran) -> None:
    assert basic.decision("pkg.calc").action == "instrumented"
    assert basic.decision("pkg.never").action == "not-imported"
    test_module = [d for d in basic.result.decisions if d.path == basic.path("tests/test_calc.py")]
    assert [d.reason for d in test_module] == ["test-file"]
    files = basic.result.files
    assert files[basic.path("pkg/calc.py")].statements == frozenset({4, 5, 8, 9, 10, 11, 14, 15, 18, 19})
    assert basic.path("pkg/never.py") in files


def test_events_stream_in_order_from_worker_start_to_run_finished(basic: Ran) -> None:
    kinds = [type(e) for e in basic.events]
    assert kinds[0] is ev.WorkerStarted
    assert kinds[-1] is ev.RunFinished
    assert kinds.index(ev.Collected) < kinds.index(ev.TestStarted)
    started = [e.nodeid for e in basic.events if isinstance(e, ev.TestStarted)]
    finished = [e.outcome.nodeid for e in basic.events if isinstance(e, ev.TestFinished)]
    assert started == finished == [o.nodeid for o in basic.result.outcomes]
    for event in basic.events:
        if isinstance(event, ev.TestFinished):
            before = basic.events[: basic.events.index(event)]
            assert isinstance(before[-1], ev.TestStarted) or any(isinstance(b, ev.TestStarted) for b in before)


def test_worker_process_group_is_gone_after_a_normal_run(basic: Ran) -> None:
    assert all(process_gone(pid) for pid in basic.worker_pids())


async def test_a_selection_runs_only_the_selected_tests() -> None:
    ran = await run_fixture("basic", ["tests/test_calc.py::test_add", "tests/test_unittest_style.py"])
    assert ran.outcomes() == {
        "tests/test_calc.py::test_add": "passed",
        "tests/test_unittest_style.py::CalcTest::test_add": "passed",
        "tests/test_unittest_style.py::CalcTest::test_divide_by_zero": "failed",
    }
    assert ran.result.summary.selection == ("tests/test_calc.py::test_add", "tests/test_unittest_style.py")
    assert ran.result.summary.total == 3


async def test_an_empty_selection_runs_nothing_without_starting_a_worker() -> None:
    ran = await run_fixture("basic", [])
    assert ran.state == COMPLETE and ran.events == [] and ran.result.outcomes == ()


async def test_a_missing_interpreter_is_an_error_that_says_what_to_check() -> None:
    session = Session(fixture_config("basic"), python=str(FIXTURES / "no-such-python"))
    result = await session.run()
    assert result.summary.state == ERROR
    assert "could not start the test worker" in result.summary.message
    assert "interpreter" in result.summary.message


async def test_bad_pytest_arguments_end_the_run_with_pytest_exit_code_and_a_hint() -> None:
    ran = await run_fixture("basic", pytest_args=["--no-such-option"])
    assert ran.state == COMPLETE
    assert ran.result.summary.exit_code == 4
    assert "pytest_args" in ran.result.summary.message
    assert "--no-such-option" in ran.result.output


async def test_a_run_never_blocks_the_event_loop() -> None:
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.ensure_future(ticker())
    ran = await run_fixture("basic", ["tests/test_calc.py::test_add"])
    done.set()
    await ticking
    assert ran.state == COMPLETE
    assert ticks > 5


async def test_a_hook_that_cannot_be_installed_leaves_the_tests_running_unmeasured() -> None:
    ran = await run_fixture("basic", ["tests/test_calc.py"], engine="no-such-engine")
    assert ran.state == COMPLETE
    assert ran.outcome("tests/test_calc.py::test_add").outcome == "passed"
    assert ran.result.summary.engine is None
    assert "could not install its import hook" in ran.result.summary.message
    assert ran.result.hits == {}


def test_the_worker_started_by_hand_says_it_needs_the_session() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVLENS_")}
    proc = subprocess.run([sys.executable, "-m", "covlens.runner.worker"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 70
    assert "started by covlens's session" in proc.stderr


def test_contexts_off_records_the_same_lines_in_one_context_without_per_test_hits(basic: Ran) -> None:
    flat = asyncio.run(run_fixture("basic", contexts=False))
    assert set(flat.result.hits) == {COLLECTION_CONTEXT}
    for rel in ("pkg/calc.py", "pkg/setup_helpers.py"):
        union = set().union(*(basic.lines(rel, ctx) for ctx in basic.result.hits))
        assert flat.lines(rel, COLLECTION_CONTEXT) == union
    assert [o.outcome for o in flat.result.outcomes] == [o.outcome for o in basic.result.outcomes]


async def test_the_clis_blocking_run_reports_exactly_what_the_servers_session_does(basic: Ran) -> None:
    blocking = await run_fixture("basic", driver="blocking")
    assert blocking.state == basic.state == COMPLETE
    assert blocking.result.summary.exit_code == basic.result.summary.exit_code
    assert blocking.result.summary.message == basic.result.summary.message
    assert sorted(blocking.result.outcomes, key=lambda o: o.nodeid) == sorted(
        (dataclasses.replace(o, duration=blocking.outcome(o.nodeid).duration) for o in basic.result.outcomes),
        key=lambda o: o.nodeid)
    assert blocking.result.hits == basic.result.hits
    assert blocking.result.files == basic.result.files
    assert set(blocking.result.decisions) == set(basic.result.decisions)
    assert [type(e) for e in blocking.events] == [type(e) for e in basic.events]
