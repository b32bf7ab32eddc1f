"""Runs survive tests that misbehave: each fixture project below does one bad thing, with its expected report."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

import pytest

from covlens.model import CANCELLED, COLLECTION_CONTEXT, COMPLETE, CRASHED, TIMEOUT, Location
from covlens.runner import events as ev
from covlens.runner.blocking import BlockingRun
from covlens.runner.record import DEFAULT_OUTPUT_LIMIT
from covlens.runner.session import Session
from tests.runner.conftest import DRIVERS, fixture_config, process_gone, run_fixture


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest) -> str:
    """Each survival below holds for the server's run (Session: cold, or forked from its warm worker) and the CLI's
    (BlockingRun) alike."""
    return str(request.param)


async def test_a_hanging_test_times_out_and_keeps_the_earlier_results(driver: str) -> None:
    # How long the tests before the hang take on this machine right now (CI machines are busy): the timeout must
    # leave them time to finish, or there would be no earlier results to keep.
    started = time.monotonic()
    calibration = await run_fixture("hang", ["tests/test_hang.py::test_a_before"])
    assert calibration.state == COMPLETE
    timeout = round(max(3.0, 2 * (time.monotonic() - started) + 1))
    ran = await run_fixture("hang", driver=driver, timeout=float(timeout))
    assert ran.state == TIMEOUT
    assert f"timed out after {timeout} s while running tests/test_hang.py::test_b_hangs" in ran.result.summary.message
    assert ran.outcome("tests/test_hang.py::test_a_before").outcome == "passed"
    assert ran.lines("pkg/work.py", "tests/test_hang.py::test_a_before") == {5}
    hung = ran.outcome("tests/test_hang.py::test_b_hangs")
    assert hung.outcome == "failed" and "still running when the run timed out" in (hung.message or "")
    assert "tests/test_hang.py::test_c_never_runs" not in ran.outcomes()
    assert all(process_gone(pid) for pid in ran.worker_pids())


async def test_cancel_kills_the_worker_and_keeps_the_earlier_results() -> None:
    session = Session(fixture_config("hang"))

    def cancel_when_the_hang_starts(event: ev.Event) -> None:
        if isinstance(event, ev.TestStarted) and event.nodeid.endswith("test_b_hangs"):
            session.cancel()

    ran = await run_fixture("hang", session=session, on_event=cancel_when_the_hang_starts)
    assert ran.state == CANCELLED
    assert "while running tests/test_hang.py::test_b_hangs" in ran.result.summary.message
    assert ran.outcomes() == {"tests/test_hang.py::test_a_before": "passed"}
    assert ran.lines("pkg/work.py", "tests/test_hang.py::test_a_before") == {5}
    assert all(process_gone(pid) for pid in ran.worker_pids())
    assert not session.running


def test_cancel_from_a_signal_handler_kills_the_blocking_runs_worker_and_keeps_the_earlier_results() -> None:
    run: BlockingRun

    def cancel_when_the_hang_starts(event: ev.Event) -> None:
        if isinstance(event, ev.TestStarted) and event.nodeid.endswith("test_b_hangs"):
            run.cancel()  # what the CLI's SIGINT handler calls

    events: list[ev.Event] = []

    def note(event: ev.Event) -> None:
        events.append(event)
        cancel_when_the_hang_starts(event)

    run = BlockingRun(fixture_config("hang", timeout=60.0), on_event=note)
    result = run.run()
    assert result.summary.state == CANCELLED
    assert "while running tests/test_hang.py::test_b_hangs" in result.summary.message
    assert {o.nodeid: o.outcome for o in result.outcomes} == {"tests/test_hang.py::test_a_before": "passed"}
    assert all(process_gone(e.pid) for e in events if isinstance(e, ev.WorkerStarted))


async def test_cancelling_the_awaiting_task_kills_the_worker_too() -> None:
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    hanging: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def watch(event: ev.Event) -> None:
        if isinstance(event, ev.WorkerStarted) and not started.done():
            started.set_result(event.pid)
        if isinstance(event, ev.TestStarted) and event.nodeid.endswith("test_b_hangs"):
            hanging.set_result(None)

    task = asyncio.ensure_future(run_fixture("hang", on_event=watch))
    pid = await started
    await hanging
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert process_gone(pid)


async def test_os_exit_in_a_test_is_a_crash_that_keeps_the_earlier_results(driver: str) -> None:
    ran = await run_fixture("exit_code", driver=driver)
    assert ran.state == CRASHED
    assert ran.result.summary.exit_code == 3
    assert ran.result.summary.message.startswith(
        "the test worker exited with code 3 while running tests/test_exit.py::test_b_exits")
    assert ran.outcome("tests/test_exit.py::test_a_before").outcome == "passed"
    assert ran.lines("pkg/work.py", "tests/test_exit.py::test_a_before") == {6}
    crashed = ran.outcome("tests/test_exit.py::test_b_exits")
    assert crashed.outcome == "failed"
    assert crashed.failure == Location(ran.path("tests/test_exit.py"), 8)
    assert "tests/test_exit.py::test_c_never_runs" not in ran.outcomes()


async def test_a_segfault_is_a_crash_whose_message_names_the_signal(driver: str) -> None:
    ran = await run_fixture("segfault", driver=driver)
    assert ran.state == CRASHED
    assert ran.result.summary.exit_code == -11
    assert "killed by signal SIGSEGV" in ran.result.summary.message
    assert "tests/test_segfault.py::test_b_segfaults" in ran.result.summary.message
    assert ran.outcome("tests/test_segfault.py::test_a_before").outcome == "passed"
    assert "SIGSEGV" in (ran.outcome("tests/test_segfault.py::test_b_segfaults").message or "")
    assert "Segmentation fault" in ran.result.output  # pytest's faulthandler wrote where it happened


async def test_printing_100_megabytes_completes_with_a_bounded_output_tail(driver: str) -> None:
    ran = await run_fixture("noisy", driver=driver)
    assert ran.state == COMPLETE
    assert ran.outcomes() == {"tests/test_noisy.py::test_prints_100_megabytes": "passed",
                              "tests/test_noisy.py::test_after_the_noise": "passed"}
    output = ran.result.output
    assert len(output) < DEFAULT_OUTPUT_LIMIT + 200
    assert "END-OF-NOISE" in output and "2 passed" in output
    assert "earlier bytes of output not kept" in output


async def test_keyboard_interrupt_in_a_test_stops_pytest_and_is_reported(driver: str) -> None:
    ran = await run_fixture("interrupt", driver=driver)
    assert ran.state == COMPLETE
    assert ran.result.summary.exit_code == 2
    assert "KeyboardInterrupt raised in tests/test_interrupt.py::test_b_interrupts" in ran.result.summary.message
    assert ran.outcomes() == {"tests/test_interrupt.py::test_a_before": "passed",
                              "tests/test_interrupt.py::test_b_interrupts": "failed"}
    stopped = ran.outcome("tests/test_interrupt.py::test_b_interrupts")
    assert stopped.message == "KeyboardInterrupt: pressed by a test (pytest stopped the run here)"
    assert stopped.failure == Location(ran.path("tests/test_interrupt.py"), 9)
    assert stopped.deepest == Location(ran.path("pkg/work.py"), 9)
    assert ran.lines("pkg/work.py", "tests/test_interrupt.py::test_b_interrupts") == {9}
    assert 13 in ran.lines("pkg/work.py", COLLECTION_CONTEXT)  # session teardown after the interrupt is measured


async def test_system_exit_in_a_test_fails_that_test_only(driver: str) -> None:
    ran = await run_fixture("system_exit", driver=driver)
    assert ran.state == COMPLETE
    assert ran.outcomes() == {"tests/test_system_exit.py::test_a_exits": "failed",
                              "tests/test_system_exit.py::test_b_after": "passed"}
    exited = ran.outcome("tests/test_system_exit.py::test_a_exits")
    assert exited.message == "SystemExit: 4"
    assert exited.deepest == Location(ran.path("pkg/work.py"), 6)
    assert ran.lines("pkg/work.py", "tests/test_system_exit.py::test_b_after") == {10}


async def test_a_forked_child_that_sleeps_forever_is_killed_with_the_worker(pidfile, driver: str) -> None:
    ran = await run_fixture("fork", driver=driver)
    assert ran.state == COMPLETE
    assert ran.outcomes() == {"tests/test_fork.py::test_forks_a_sleeper": "passed",
                              "tests/test_fork.py::test_after_fork": "passed"}
    child = int(pidfile.read_text())
    assert child not in ran.worker_pids()
    assert process_gone(child)
    # the child inherited the event pipe, but wrote nothing into it
    assert [type(e) for e in ran.events].count(ev.RunFinished) == 1


async def test_a_thread_that_never_ends_does_not_keep_the_run_alive(driver: str) -> None:
    ran = await run_fixture("threads", driver=driver, timeout=30.0)
    assert ran.state == COMPLETE
    assert ran.result.summary.exit_code == 0
    assert ran.outcomes() == {"tests/test_threads.py::test_starts_a_thread_that_never_ends": "passed",
                              "tests/test_threads.py::test_after_thread": "passed"}
    assert all(process_gone(pid) for pid in ran.worker_pids())


async def test_a_test_removing_the_hook_is_reported_and_later_tests_are_still_measured(driver: str) -> None:
    ran = await run_fixture("unhook", driver=driver)
    assert ran.state == COMPLETE
    assert "removed covlens's import hook" in ran.result.summary.message
    assert ran.decision("pkg.during").reason == "guard"
    assert ran.decision("pkg.after").action == "instrumented"
    assert ran.lines("pkg/after.py", "tests/test_unhook.py::test_b_imports_later") >= {5}
    assert ran.lines("pkg/during.py") == set()


async def test_a_collection_error_is_an_error_located_at_the_import_and_the_failing_module(driver: str) -> None:
    ran = await run_fixture("collect_error", driver=driver)
    assert ran.state == COMPLETE
    assert ran.result.summary.exit_code == 2
    error = ran.outcome("tests/test_imports_bad.py")
    assert error.outcome == "error"
    assert error.message == "ValueError: invalid literal for int() with base 10: 'not a number'"
    assert error.failure == Location(ran.path("tests/test_imports_bad.py"), 1)
    assert error.deepest == Location(ran.path("pkg/bad.py"), 3)
    assert error.path == os.path.join(ran.root, "tests", "test_imports_bad.py")


async def test_a_child_that_left_the_process_group_holding_the_pipes_does_not_keep_the_run_waiting(
        pidfile, driver: str) -> None:
    try:
        ran = await run_fixture("escape", driver=driver)
    finally:
        if pidfile.exists():  # covlens cannot kill what left its process group (docs/runner.md): the test does
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
    assert ran.state == COMPLETE
    assert ran.outcomes() == {"tests/test_escape.py::test_spawns_an_escapee": "passed",
                              "tests/test_escape.py::test_after_escape": "passed"}
    assert [type(e) for e in ran.events].count(ev.RunFinished) == 1
