"""pytest-xdist: each xdist worker is measured and streams its events; the merged coverage equals a serial run's."""

from __future__ import annotations

import asyncio

import pytest

from covlens.model import COMPLETE
from covlens.runner import events as ev
from tests.runner.conftest import Ran, process_gone, run_fixture


def union_by_path(ran: Ran) -> dict[str, frozenset[int]]:
    out: dict[str, set[int]] = {}
    for per_path in ran.result.hits.values():
        for path, lines in per_path.items():
            out.setdefault(path, set()).update(lines)
    return {path: frozenset(lines) for path, lines in out.items()}


@pytest.fixture(scope="module")
def serial_and_parallel(basic: Ran) -> tuple[Ran, Ran]:
    return basic, asyncio.run(run_fixture("basic", pytest_args=["-n", "2"]))


def test_xdist_run_reports_the_same_outcomes_as_a_serial_run(serial_and_parallel: tuple[Ran, Ran]) -> None:
    serial, parallel = serial_and_parallel
    assert parallel.state == COMPLETE
    assert parallel.result.summary.exit_code == serial.result.summary.exit_code == 1
    assert parallel.result.summary.total == serial.result.summary.total == 11
    assert parallel.outcomes() == serial.outcomes()
    for outcome in serial.result.outcomes:
        twin = parallel.outcome(outcome.nodeid)
        assert (twin.failure, twin.deepest, twin.message) == (outcome.failure, outcome.deepest, outcome.message)


def test_xdist_coverage_equals_the_serial_coverage_exactly(serial_and_parallel: tuple[Ran, Ran]) -> None:
    serial, parallel = serial_and_parallel
    assert union_by_path(parallel) == union_by_path(serial)
    assert union_by_path(serial)[serial.path("pkg/calc.py")]  # not vacuous
    assert parallel.result.files == serial.result.files
    # per test, too: each test ran the same lines of the code under test wherever it ran (fixture teardowns differ:
    # each xdist worker tears session fixtures down in the teardown of the last test it ran)
    calc = serial.path("pkg/calc.py")
    for outcome in serial.result.outcomes:
        theirs = parallel.result.hits.get(outcome.nodeid, {}).get(calc)
        assert theirs == serial.result.hits.get(outcome.nodeid, {}).get(calc), outcome.nodeid


def test_xdist_decisions_are_merged_across_workers(serial_and_parallel: tuple[Ran, Ran]) -> None:
    serial, parallel = serial_and_parallel
    assert parallel.decision("pkg.calc").action == "instrumented"
    assert parallel.decision("pkg.never").action == "not-imported"
    measured = {d.path for d in parallel.result.decisions if d.action == "instrumented"}
    assert measured == {d.path for d in serial.result.decisions if d.action == "instrumented"}
    not_imported = {d.path for d in parallel.result.decisions if d.action == "not-imported"}
    assert not_imported == {d.path for d in serial.result.decisions if d.action == "not-imported"}


def test_every_xdist_worker_installed_the_hook_and_streamed_its_tests(serial_and_parallel: tuple[Ran, Ran]) -> None:
    _, parallel = serial_and_parallel
    started = [e for e in parallel.events if isinstance(e, ev.WorkerStarted)]
    assert sorted(e.worker for e in started) == ["gw0", "gw1", "main"]
    assert all(e.engine is not None for e in started)
    ran_on = {e.worker for e in parallel.events if isinstance(e, ev.TestFinished)}
    assert ran_on <= {"gw0", "gw1"} and ran_on
    assert all(process_gone(e.pid) for e in started)


async def test_an_xdist_worker_that_dies_fails_its_test_and_the_run_goes_on() -> None:
    ran = await run_fixture("exit_code", pytest_args=["-n", "2"])
    assert ran.state == COMPLETE
    assert ran.outcomes() == {"tests/test_exit.py::test_a_before": "passed",
                              "tests/test_exit.py::test_b_exits": "failed",
                              "tests/test_exit.py::test_c_never_runs": "passed"}
    crashed = ran.outcome("tests/test_exit.py::test_b_exits")
    assert "crashed while running this test" in (crashed.message or "")
    assert ran.lines("pkg/work.py", "tests/test_exit.py::test_a_before") == {6}
    assert all(process_gone(e.pid) for e in ran.events if isinstance(e, ev.WorkerStarted))
