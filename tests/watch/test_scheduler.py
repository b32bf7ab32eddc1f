"""The scheduler: debounce, a burst gives one run, a change during a run cancels it and runs again, run_now."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from covlens.watch import RunEnded, RunRequest, Scheduler


class FakeTimers:
    """An injected call_later: the test decides when the debounce has elapsed."""

    def __init__(self) -> None:
        self.handles: list[FakeTimers.Handle] = []

    class Handle:
        def __init__(self, delay: float, callback: Callable[[], None]) -> None:
            self.delay = delay
            self.callback = callback
            self.cancelled = False

        def cancel(self) -> None:
            self.cancelled = True

    def __call__(self, delay: float, callback: Callable[[], None]) -> Handle:
        handle = self.Handle(delay, callback)
        self.handles.append(handle)
        return handle

    @property
    def live(self) -> list[Handle]:
        return [h for h in self.handles if not h.cancelled]

    def elapse(self) -> None:
        live = self.live
        assert len(live) == 1, f"expected one armed timer, got {len(live)}"
        live[0].cancelled = True
        live[0].callback()


class Recorder:
    """A run function whose runs the test can hold open and release, with events for each start and end."""

    def __init__(self, hold: bool = False) -> None:
        self.requests: list[RunRequest] = []
        self.ended: list[RunEnded[Any]] = []
        self.started = asyncio.Event()  # on_started: the scheduler started a run
        self.entered = asyncio.Event()  # the run function itself is executing
        self.finished = asyncio.Event()
        self.hold = hold
        self.release = asyncio.Event()
        self.cancel_calls = 0

    async def run(self, request: RunRequest) -> str:
        self.requests.append(request)
        self.entered.set()
        if self.hold:
            await self.release.wait()
            self.release.clear()
            return f"partial {request.number}" if self.cancel_calls else f"done {request.number}"
        return f"done {request.number}"

    def cancel(self) -> None:
        self.cancel_calls += 1
        self.release.set()  # a polite run stops and returns what it has

    def on_started(self, request: RunRequest) -> None:
        self.started.set()

    def on_ended(self, ended: RunEnded[Any]) -> None:
        self.ended.append(ended)
        self.finished.set()

    async def next_end(self) -> RunEnded[Any]:
        await self.finished.wait()
        self.finished.clear()
        return self.ended[-1]


def make(recorder: Recorder, **kw: Any) -> Scheduler[str]:
    return Scheduler(recorder.run, on_started=recorder.on_started, on_ended=recorder.on_ended, **kw)


async def test_no_run_starts_before_the_debounce_elapses():
    timers, rec = FakeTimers(), Recorder()
    scheduler = make(rec, call_later=timers, debounce=0.3)
    scheduler.notify_changed({"/p/a.py"})
    await asyncio.sleep(0)  # let anything already scheduled run (not a wait for time)
    assert rec.requests == [] and timers.live[0].delay == 0.3
    timers.elapse()
    ended = await rec.next_end()
    assert ended.result == "done 1" and ended.request.changed == {"/p/a.py"}
    await scheduler.close()


async def test_a_save_starts_after_its_own_short_delay_and_hurries_a_change_already_pending():
    timers, rec = FakeTimers(), Recorder()
    scheduler = make(rec, call_later=timers, debounce=0.3)
    scheduler.notify_changed({"/p/a.py"}, delay=0.02)
    assert [h.delay for h in timers.live] == [0.02]
    timers.elapse()
    await rec.next_end()
    scheduler.notify_changed({"/p/b.py"})  # the watcher saw the save first...
    scheduler.hurry(0.02)  # ...then the editor's didSave came
    assert [h.delay for h in timers.live] == [0.02]
    timers.elapse()
    ended = await rec.next_end()
    assert ended.request.changed == {"/p/b.py"}
    scheduler.hurry(0.02)  # nothing pending: no run
    assert timers.live == []
    await scheduler.close()


async def test_a_burst_of_a_thousand_changes_gives_one_run_with_every_path():
    timers, rec = FakeTimers(), Recorder()
    scheduler = make(rec, call_later=timers)
    for i in range(1000):
        scheduler.notify_changed({f"/p/m{i}.py"})
    assert len(timers.live) == 1  # each change re-armed the one timer
    timers.elapse()
    await rec.next_end()
    await scheduler.wait_idle()
    assert len(rec.requests) == 1 and len(rec.requests[0].changed) == 1000
    await scheduler.close()


async def test_a_burst_from_another_thread_gives_one_run_with_the_real_timer():
    rec = Recorder()
    scheduler = make(rec, debounce=0.2)

    def burst() -> None:
        for i in range(1000):
            scheduler.notify_changed_threadsafe([f"/p/m{i}.py"])

    thread = threading.Thread(target=burst)
    thread.start()
    await asyncio.to_thread(thread.join)
    ended = await rec.next_end()
    await scheduler.wait_idle()
    assert len(rec.requests) == 1 and len(ended.request.changed) == 1000
    await scheduler.close()


async def test_run_starts_no_earlier_than_the_debounce_with_the_real_loop_timer():
    rec = Recorder()
    loop = asyncio.get_running_loop()
    scheduler = make(rec, debounce=0.05)
    t0 = loop.time()
    scheduler.notify_changed({"/p/a.py"})
    await rec.started.wait()
    assert loop.time() - t0 >= 0.05 - 0.005  # the loop's clock granularity
    await scheduler.close()


async def test_a_change_during_a_run_cancels_it_politely_and_runs_again_with_both_changes():
    timers, rec = FakeTimers(), Recorder(hold=True)
    scheduler = make(rec, call_later=timers, cancel=rec.cancel)
    scheduler.notify_changed({"/p/a.py"})
    timers.elapse()
    await rec.entered.wait()
    rec.started.clear()
    scheduler.notify_changed({"/p/b.py"})
    first = await rec.next_end()
    assert rec.cancel_calls == 1
    assert first.superseded and first.result == "partial 1"  # the partial result is handed over, to be stored
    assert len(rec.requests) == 1  # and the next run waits for the debounce
    timers.elapse()
    await rec.started.wait()
    rec.release.set()
    second = await rec.next_end()
    assert not second.superseded
    assert second.request.changed == {"/p/a.py", "/p/b.py"}  # the cancelled run's change is not lost
    await scheduler.close()


async def test_without_a_cancel_hook_the_running_task_is_cancelled():
    timers, rec = FakeTimers(), Recorder(hold=True)
    scheduler = make(rec, call_later=timers)
    scheduler.notify_changed({"/p/a.py"})
    timers.elapse()
    await rec.started.wait()
    scheduler.notify_changed({"/p/b.py"})
    first = await rec.next_end()
    assert first.superseded and isinstance(first.error, asyncio.CancelledError)
    timers.elapse()
    rec.release.set()
    second = await rec.next_end()
    assert second.request.changed == {"/p/a.py", "/p/b.py"} and second.result == "done 2"
    await scheduler.close()


async def test_run_now_skips_the_debounce_and_resolves_with_the_result():
    rec = Recorder()
    scheduler = make(rec, debounce=3600)  # would never fire within the test
    result = await scheduler.run_now(["tests/test_a.py::test_x"])
    assert result == "done 1"
    assert rec.requests[0].selection == ("tests/test_a.py::test_x",) and rec.requests[0].manual
    assert await scheduler.run_now() == "done 2" and rec.requests[1].selection is None
    await scheduler.close()


async def test_run_now_during_a_run_supersedes_it():
    rec = Recorder(hold=True)
    scheduler = make(rec, debounce=3600, cancel=rec.cancel)
    first = scheduler.run_now()
    await rec.entered.wait()
    rec.entered.clear()
    second = scheduler.run_now(["t::b"])
    assert await first == "partial 1"
    await rec.entered.wait()
    rec.release.set()
    assert await second == "partial 2"  # the hold released by the test: still reports through the future
    assert rec.requests[1].selection == ("t::b",)
    await scheduler.close()


async def test_a_failing_run_is_reported_and_logged_and_the_scheduler_keeps_going(caplog):
    timers, calls = FakeTimers(), []
    ended: list[RunEnded[Any]] = []
    done = asyncio.Event()

    async def run(request: RunRequest) -> str:
        calls.append(request)
        if request.number == 1:
            raise RuntimeError("worker exploded")
        return "ok"

    def on_ended(e: RunEnded[Any]) -> None:
        ended.append(e)
        done.set()

    scheduler = Scheduler(run, call_later=timers, on_ended=on_ended)
    scheduler.notify_changed({"/p/a.py"})
    timers.elapse()
    await done.wait()
    done.clear()
    assert isinstance(ended[0].error, RuntimeError)
    assert "worker exploded" in caplog.text
    scheduler.notify_changed({"/p/a.py"})
    timers.elapse()
    await done.wait()
    assert ended[1].result == "ok"
    await scheduler.close()


async def test_a_broken_callback_is_logged_not_fatal(caplog):
    rec = Recorder()

    def bad(_: Any) -> None:
        raise ValueError("listener bug")

    scheduler = Scheduler(rec.run, on_started=bad, on_ended=rec.on_ended, debounce=3600)
    assert await scheduler.run_now() == "done 1"
    assert "listener bug" in caplog.text
    await scheduler.close()


async def test_cancel_drops_pending_changes_and_close_ignores_later_ones():
    timers, rec = FakeTimers(), Recorder()
    scheduler = make(rec, call_later=timers)
    scheduler.notify_changed({"/p/a.py"})
    scheduler.cancel()
    assert timers.live == []
    await scheduler.wait_idle()
    await scheduler.close()
    scheduler.notify_changed({"/p/b.py"})
    assert timers.live == [] and rec.requests == []


async def test_close_stops_a_running_run_and_waits_for_it():
    rec = Recorder(hold=True)
    scheduler = make(rec, debounce=3600, cancel=rec.cancel)
    pending = scheduler.run_now()
    await rec.entered.wait()
    await scheduler.close()
    assert rec.cancel_calls == 1 and pending.done()
    assert scheduler.running is None


async def test_a_run_cancelled_before_it_began_is_still_reported_ended():
    rec = Recorder(hold=True)
    scheduler = make(rec, debounce=3600, cancel=rec.cancel)
    scheduler.run_now()
    scheduler.notify_changed({"/p/a.py"})  # the run's task has not taken a step yet
    first = await rec.next_end()
    assert first.superseded and isinstance(first.error, asyncio.CancelledError)
    assert rec.cancel_calls == 0  # nothing to ask politely: it had not started
    await scheduler.close()
