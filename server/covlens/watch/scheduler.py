"""The run scheduler: debounce file changes, cancel a run that a newer change makes stale, one run at a time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

log = logging.getLogger("covlens.watch")

T = TypeVar("T")

DEFAULT_DEBOUNCE = 0.3


@dataclass(frozen=True)
class RunRequest:
    """What a run should do: the paths changed since the last run that finished, and an explicit test selection.

    `selection` None means "all tests" (or whatever `run` picks from `changed`); `manual` is true when the run
    was asked for with `run_now` rather than triggered by changes.
    """

    changed: frozenset[str] = frozenset()
    selection: tuple[str, ...] | None = None
    manual: bool = False
    number: int = 0  # 1, 2, ... in the order runs start


@dataclass(frozen=True)
class RunEnded(Generic[T]):
    """How a run ended: its result, or the exception it raised; `superseded` when a newer change cancelled it."""

    request: RunRequest
    result: T | None = None
    error: BaseException | None = None
    superseded: bool = False


@dataclass
class _Pending:
    changed: set[str] = field(default_factory=set)
    selection: set[str] | None = field(default_factory=set)  # None = all; empty set = nothing explicit asked
    manual: bool = False
    waiters: list[asyncio.Future[Any]] = field(default_factory=list)

    def any(self) -> bool:
        return bool(self.changed) or self.selection is None or bool(self.selection) or self.manual

    def request(self, number: int) -> RunRequest:
        selection = tuple(sorted(self.selection)) if self.selection else None
        return RunRequest(frozenset(self.changed), selection, self.manual, number)


class Scheduler(Generic[T]):
    """Runs `run(request)` after changes settle; a change during a run cancels it and runs again after the debounce.

    - `notify_changed(paths)` (on the loop) or `notify_changed_threadsafe(paths)` (from a watchdog thread): every
      call restarts the debounce timer, so a burst of changes gives one run with all their paths.
    - A change while a run is going cancels that run: with `cancel` given (e.g. `Session.cancel`) the scheduler
      asks the run to stop and lets it return its partial result; otherwise it cancels the run's task.
      Either way the cancelled run's paths are carried over into the next run.
    - `run_now(selection)` starts at once (no debounce), cancelling a running run; it returns a future of that
      run's result.
    - `on_started(request)` and `on_ended(RunEnded)` are called on the loop; exceptions in them are logged.
    - `call_later` is injectable so that tests can drive the debounce deterministically.
    """

    def __init__(
        self,
        run: Callable[[RunRequest], Awaitable[T]],
        *,
        debounce: float = DEFAULT_DEBOUNCE,
        cancel: Callable[[], Any] | None = None,
        on_started: Callable[[RunRequest], Any] | None = None,
        on_ended: Callable[[RunEnded[T]], Any] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        call_later: Callable[[float, Callable[[], None]], asyncio.TimerHandle | Any] | None = None,
        cancel_grace: float = 10.0,
    ) -> None:
        self._run = run
        self.debounce = debounce
        self._cancel_hook = cancel
        self._on_started = on_started
        self._on_ended = on_ended
        self._loop = loop or asyncio.get_running_loop()
        self._call_later = call_later or self._loop.call_later
        self._cancel_grace = cancel_grace
        self._timer: Any = None
        self._pending = _Pending()
        # Strong references: the loop keeps only weak ones to tasks.
        self._task: asyncio.Task[Any] | None = None
        self._callbacks: set[asyncio.Task[Any]] = set()
        self._in_run = False
        self._current: RunRequest | None = None
        self._current_waiters: list[asyncio.Future[Any]] = []
        self._superseding = False
        self._grace: Any = None
        self._number = 0
        self._closed = False
        self._idle = asyncio.Event()
        self._idle.set()

    # ------------------------------------------------------------------------------------------- public API

    @property
    def running(self) -> RunRequest | None:
        """The request of the run in progress, if any."""
        return self._current

    def notify_changed(self, paths: Iterable[str], *, delay: float | None = None) -> None:
        """Files changed (call on the loop's thread): (re)start the debounce; cancel a run in progress.

        `delay` replaces the debounce for this call: an editor's save is one deliberate change, not the first of a
        burst, so it can start sooner than the watcher's events.
        """
        if self._closed:
            return
        paths = set(paths)
        if not paths:
            return
        self._pending.changed |= paths
        self._idle.clear()
        if self._current is not None:
            self._supersede()
        self._arm(self.debounce if delay is None else delay)

    def hurry(self, delay: float) -> None:
        """Start the pending run within `delay` seconds if its debounce would end later (an editor's save of a
        change the file watcher already reported)."""
        if self._closed or self._timer is None:
            return
        self._arm(delay)

    def notify_changed_threadsafe(self, paths: Iterable[str]) -> None:
        """`notify_changed` from any thread (watchdog's observer thread)."""
        frozen = frozenset(paths)
        try:
            self._loop.call_soon_threadsafe(self.notify_changed, frozen)
        except RuntimeError:  # the loop is closed: we are shutting down
            pass

    def run_now(self, selection: Iterable[str] | None = None) -> asyncio.Future[T]:
        """Run now (all tests, or `selection`), cancelling a run in progress; the future gets this run's result."""
        future: asyncio.Future[T] = self._loop.create_future()
        if self._closed:
            future.set_exception(RuntimeError("the scheduler is closed"))
            return future
        if selection is None:
            self._pending.selection = None
        elif self._pending.selection is not None:
            self._pending.selection |= set(selection)
        self._pending.manual = True
        self._pending.waiters.append(future)
        self._idle.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._current is not None:
            self._supersede()
        else:
            self._start()
        return future

    def cancel(self) -> None:
        """Drop pending changes and stop the run in progress (its paths are not run again)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for waiter in self._pending.waiters:
            if not waiter.done():
                waiter.cancel()
        self._pending = _Pending()
        if self._current is not None:
            self._stop_current()
        elif self._task is None:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Wait until nothing is pending and no run is going."""
        await self._idle.wait()

    async def close(self) -> None:
        """Cancel everything and wait for the run in progress to end; later notifications are ignored."""
        self._closed = True
        self.cancel()
        task = self._task
        if task is not None:
            try:
                await asyncio.shield(task)
            except BaseException:  # noqa: BLE001 - already reported through on_ended/log
                pass

    # ------------------------------------------------------------------------------------------- internals

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self._closed:
            return
        if self._current is None and self._task is None:
            self._start()
        # Otherwise the superseded run is still stopping; _finished starts the next one.

    def _start(self) -> None:
        if not self._pending.any():
            self._idle.set()
            return
        self._number += 1
        request = self._pending.request(self._number)
        self._current_waiters = self._pending.waiters
        self._pending = _Pending()
        self._current = request
        self._superseding = False
        self._idle.clear()
        self._call(self._on_started, request)
        self._in_run = False
        task = self._loop.create_task(self._execute(request), name=f"covlens-run-{request.number}")
        task.add_done_callback(lambda t: self._task_done(t, request))
        self._task = task

    async def _execute(self, request: RunRequest) -> tuple[T | None, BaseException | None]:
        self._in_run = True
        try:
            return await self._run(request), None
        except asyncio.CancelledError as exc:
            return None, exc
        except Exception as exc:  # noqa: BLE001 - a failing run must not kill the scheduler
            log.error("covlens run %d failed: %s", request.number, exc, exc_info=exc)
            return None, exc

    def _task_done(self, task: asyncio.Task[tuple[T | None, BaseException | None]], request: RunRequest) -> None:
        # A done-callback rather than a `finally` in _execute: a task cancelled before its first step never runs
        # its body, and the scheduler must hear about it all the same.
        result: T | None = None
        error: BaseException | None
        if task.cancelled():
            error = asyncio.CancelledError()
        elif task.exception() is not None:
            error = task.exception()
        else:
            result, error = task.result()
        self._finished(RunEnded(request, result, error, self._superseding))

    def _finished(self, ended: RunEnded[T]) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        for waiter in self._current_waiters:
            if waiter.done():
                continue
            if isinstance(ended.error, asyncio.CancelledError):
                waiter.cancel()
            elif ended.error is not None:
                waiter.set_exception(ended.error)
            else:
                waiter.set_result(ended.result)
        self._current_waiters = []
        if ended.superseded and not self._closed:
            # The cancelled run did not finish with these changes: the next run must cover them too.
            self._pending.changed |= ended.request.changed
        self._current = None
        self._task = None
        self._call(self._on_ended, ended)
        if self._closed:
            self._idle.set()
        elif self._timer is None and self._pending.any():
            self._start()
        elif self._timer is None:
            self._idle.set()

    def _supersede(self) -> None:
        if self._superseding:
            return
        self._superseding = True
        self._stop_current()

    def _stop_current(self) -> None:
        task = self._task
        if task is None:
            return
        if self._cancel_hook is None or not self._in_run:
            task.cancel()  # no hook, or the run has not begun: nothing to ask politely
            return
        try:
            self._cancel_hook()
        except Exception as exc:  # noqa: BLE001
            log.error("cancelling the covlens run failed: %s", exc, exc_info=exc)
            task.cancel()
            return
        # A run that ignores the request is cancelled outright after a grace period.
        if self._grace is None:
            self._grace = self._loop.call_later(self._cancel_grace, task.cancel)

    def _call(self, callback: Callable[..., Any] | None, arg: Any) -> None:
        if callback is None:
            return
        try:
            outcome = callback(arg)
            if asyncio.iscoroutine(outcome):
                task = self._loop.create_task(outcome)
                self._callbacks.add(task)
                task.add_done_callback(self._callback_done)
        except Exception as exc:  # noqa: BLE001 - a broken listener must not stop the runs
            log.error("covlens scheduler callback failed: %s", exc, exc_info=exc)

    def _callback_done(self, task: asyncio.Task[Any]) -> None:
        self._callbacks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("covlens scheduler callback failed: %s", exc, exc_info=exc)
