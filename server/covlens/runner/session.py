"""The server side of a run: start the worker (forked warm or spawned cold), stream its events, time out, cancel."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import inspect
import logging
import os
import sys
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from covlens.config import Config
from covlens.model import CANCELLED, COMPLETE, ERROR, RunResult
from covlens.runner import events as ev
from covlens.runner.launch import (GATHER_SECONDS, PIPE_GRACE, PIPE_SIZE, event_pipe, kill_group, unlink_quietly,
                                   worker_command, worker_env, write_job)
from covlens.runner.record import DEFAULT_OUTPUT_LIMIT, RunRecord
from covlens.runner.selection import Selection

if TYPE_CHECKING:
    from covlens.runner.warm import WarmChild, WarmWorker

log = logging.getLogger(__name__)

OnEvent = Callable[[ev.Event], "Awaitable[None] | None"]



# Every run in progress in this process: if the server exits while one runs, its process group goes with it.
_LIVE_RUNS: weakref.WeakSet[_Run] = weakref.WeakSet()


@atexit.register
def _kill_live_runs() -> None:
    for live in list(_LIVE_RUNS):
        live.kill_group()


class Session:
    """Runs the tests of one project in worker subprocesses, one RunResult per run; never blocks the event loop.

    With `warm` (a WarmWorker the caller owns and closes), each run is a child forked by that pre-imported
    process; whenever it cannot serve a run, the run gets a freshly spawned worker instead, as without it.
    """

    def __init__(self, config: Config, python: str = sys.executable, *, warm: WarmWorker | None = None,
                 output_limit: int = DEFAULT_OUTPUT_LIMIT) -> None:
        self.config = config
        self.python = python
        self.warm = warm
        self.output_limit = output_limit
        self._active: set[_Run] = set()

    @property
    def running(self) -> bool:
        return bool(self._active)

    def cancel(self) -> None:
        """Cancel every run of this session: kill each worker's whole process group. The runs return CANCELLED."""
        for active in list(self._active):
            active.cancel()

    async def run(self, selection: Selection | Iterable[str] | None = None, on_event: OnEvent | None = None,
                  *, pytest_args: Iterable[str] = ()) -> RunResult:
        """Run the selected tests (None: all) and return everything they produced, however the run ended.

        `on_event` is called with every event as it arrives (it may be a coroutine function). `pytest_args` come
        after the configured `pytest_args`. Cancelling the task that awaits this kills the worker's process group
        and re-raises CancelledError; `cancel()` instead makes this return a CANCELLED result.
        """
        sel = Selection.coerce(selection)
        args = [*self.config.pytest_args, *pytest_args, *sel.pytest_args()]
        active = _Run(self, sel, on_event)
        self._active.add(active)
        _LIVE_RUNS.add(active)
        try:
            result = await active.execute(args)
        finally:
            self._active.discard(active)
            _LIVE_RUNS.discard(active)
        if self.warm is not None:
            # The stdlib and third-party modules this run imported: the warm worker pre-imports them from now on.
            self.warm.learn(result)
        return result

class _Run(RunRecord):
    """One run on the event loop: the worker process, its pipes, and how it ended."""

    def __init__(self, session: Session, selection: Selection, on_event: OnEvent | None) -> None:
        super().__init__(session.config, selection.targets, session.output_limit)
        self.session = session
        self.selection = selection
        self.on_event = on_event
        self.process: _Process | None = None
        self.pid: int | None = None
        self._in_read = False

    # -- control -----------------------------------------------------------------------------------------------

    def cancel(self) -> None:
        self.cancelled = True
        self.kill_group()

    def kill_group(self) -> None:
        # The worker leads its own session and process group (start_new_session=True, or setsid in a forked
        # child): its pid is the group id.
        kill_group(self.pid)

    # -- the run -----------------------------------------------------------------------------------------------

    async def execute(self, pytest_args: list[str]) -> RunResult:
        if self.selection.targets == ():
            return self.result(COMPLETE, "nothing selected: no tests to run", exit_code=5)
        if self.cancelled:
            return self.result(CANCELLED, "cancelled before it started")
        only = getattr(self.selection, "only", None)
        job = {"config": self.config.to_json(), "pytest_args": pytest_args,
               "only": None if only is None else list(only)}
        cleanup: list[Callable[[], None]] = []
        try:
            process: _Process | None = None
            if self.session.warm is not None:
                read_fd, write_fd = event_pipe()
                try:
                    process = await self._fork_warm(job, write_fd)
                finally:
                    os.close(write_fd)  # the child has its copy: EOF once it (and all it started) is gone
                    if process is None:
                        # Not for the cold worker: a child forked just as its warm worker died could write here.
                        os.close(read_fd)
            if process is None:
                read_fd, write_fd = event_pipe()
                try:
                    process = await self._spawn_cold(job, write_fd, cleanup)
                except OSError as exc:
                    os.close(read_fd)
                    return self.result(ERROR, f"could not start the test worker with {self.session.python}: "
                                               f"{exc}; check the Python interpreter setting")
                except BaseException:
                    os.close(read_fd)
                    raise
                finally:
                    os.close(write_fd)
            self.process = process
            self.pid = process.pid
            return await self._supervise(read_fd, process)
        finally:
            for step in cleanup:
                step()

    async def _spawn_cold(self, job: dict[str, Any], event_fd: int, cleanup: list[Callable[[], None]]) -> _Process:
        """A fresh `python -m covlens.runner.worker`, reading the job from a file; raises OSError if it cannot."""
        job_path = write_job(job)
        cleanup.append(lambda: unlink_quietly(job_path))
        loop = asyncio.get_running_loop()
        # A protocol rather than Process.wait(): that one only returns once the output pipes close too, which a
        # forked grandchild holding them would delay forever.
        transport, protocol = await loop.subprocess_exec(
            lambda: _WorkerProtocol(self), *worker_command(self.session.python), cwd=self.config.root,
            env=worker_env(event_fd, job_path), pass_fds=(event_fd,),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )
        return _SpawnedProcess(transport, protocol)

    async def _fork_warm(self, job: dict[str, Any], event_fd: int) -> _Process | None:
        """A child of the warm worker running the job; None when the warm path cannot serve it (then: cold)."""
        from covlens.runner.warm import WarmUnavailable

        warm = self.session.warm
        assert warm is not None
        out_read, out_write = os.pipe()
        try:
            child = await warm.spawn(self.config, job, event_fd, out_write, python=self.session.python)
        except WarmUnavailable:
            os.close(out_read)
            return None  # the warm worker said why (once)
        except Exception:  # noqa: BLE001 - a bug on the warm path must not cost the run
            os.close(out_read)
            _warn_once("the warm test worker failed unexpectedly; running the tests in a fresh process", True)
            return None
        except BaseException:
            os.close(out_read)
            raise
        finally:
            os.close(out_write)
        self.pid = child.pid  # from here on, cancel() can kill it
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.connect_read_pipe(lambda: _OutputProtocol(self),
                                                               os.fdopen(out_read, "rb", buffering=0))
        except BaseException:
            self.kill_group()
            raise
        return _ForkedProcess(child, transport, protocol)

    async def _supervise(self, read_fd: int, process: _Process) -> RunResult:
        loop = asyncio.get_running_loop()
        events_reader = asyncio.StreamReader(limit=PIPE_SIZE)
        events_transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(events_reader),
                                                           os.fdopen(read_fd, "rb", buffering=0))
        exited = process.exited
        pump = asyncio.ensure_future(self._pump_events(events_reader, events_transport, exited))
        if self.cancelled:
            self.kill_group()
        try:
            try:
                await asyncio.wait_for(asyncio.shield(exited), timeout=self.config.timeout)
            except asyncio.TimeoutError:
                self.timed_out = True
                self.kill_group()
                await exited
            self.returncode = process.returncode
            self.lost = process.lost
            # The worker is gone: so must be everything it started (forked children, xdist workers).
            self.kill_group()
            await self._finish_reading(pump, process.output_closed)
        except asyncio.CancelledError:
            self.kill_group()
            with contextlib.suppress(BaseException):
                await asyncio.shield(exited)
            raise
        finally:
            if not pump.done():
                pump.cancel()
            events_transport.close()
            process.close()
        return self.conclude()

    async def _finish_reading(self, pump: asyncio.Future[None], output: asyncio.Future[None]) -> None:
        pending: set[asyncio.Future[None]] = {pump, output}
        while pending:
            seen = self._last_data
            _, pending = await asyncio.wait(pending, timeout=PIPE_GRACE)
            # Give up only on pipes that stay silent; a slow on_event working through a backlog is progress.
            if pending and self._last_data == seen and (pump.done() or self._in_read):
                log.warning("a process outside the worker's process group holds its pipes open; stop reading them")
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)
                return

    async def _pump_events(self, reader: asyncio.StreamReader, transport: asyncio.ReadTransport,
                           exited: asyncio.Future[None]) -> None:
        while True:
            self._in_read = True
            try:
                chunk = await reader.read(PIPE_SIZE)
            finally:
                self._in_read = False
            for event in self.feed(chunk):
                await self._notify(event)
            if not chunk:
                return
            if not exited.done():
                # Let the next events gather in the pipe instead of waking for each line the worker writes: most
                # of what a run costs the server (or the CLI) otherwise. Its end is seen at once.
                transport.pause_reading()
                try:
                    await asyncio.wait([exited], timeout=GATHER_SECONDS)
                finally:
                    transport.resume_reading()

    async def _notify(self, event: ev.Event) -> None:
        if self.on_event is None:
            return
        try:
            result = self.on_event(event)
            if inspect.isawaitable(result):
                await result
        except Exception:  # noqa: BLE001 - a broken listener must not lose the run
            log.exception("the run's on_event callback raised on %s", type(event).__name__)
        self._last_data = time.monotonic()


class _Process(Protocol):
    """A running worker, however it was started: what `_Run` needs of it."""

    pid: int
    exited: asyncio.Future[None]  # done once it exited (or its exit can no longer be known: see `lost`)
    output_closed: asyncio.Future[None]  # done once its stdout+stderr pipe reached EOF

    @property
    def returncode(self) -> int | None: ...

    @property
    def lost(self) -> str | None: ...

    def close(self) -> None: ...


class _SpawnedProcess:
    """A cold worker: a subprocess of this one, watched through its asyncio transport."""

    def __init__(self, transport: asyncio.SubprocessTransport, protocol: _WorkerProtocol) -> None:
        self._transport = transport
        self.pid: int = transport.get_pid()
        self.exited = protocol.exited
        self.output_closed = protocol.output_closed

    @property
    def returncode(self) -> int | None:
        return self._transport.get_returncode()

    @property
    def lost(self) -> str | None:
        return None

    def close(self) -> None:
        self._transport.close()


class _ForkedProcess:
    """A child of the warm worker: its exit comes from the warm worker, its output through a pipe of ours."""

    def __init__(self, child: WarmChild, transport: asyncio.ReadTransport, protocol: _OutputProtocol) -> None:
        self._child = child
        self._transport = transport
        self.pid: int = child.pid
        self.exited = child.exited
        self.output_closed = protocol.output_closed

    @property
    def returncode(self) -> int | None:
        return self._child.returncode

    @property
    def lost(self) -> str | None:
        return self._child.lost

    def close(self) -> None:
        self._transport.close()


class _OutputProtocol(asyncio.Protocol):
    """The stdout+stderr pipe of a forked worker (kept as a bounded tail)."""

    def __init__(self, run: _Run) -> None:
        self._run = run
        self.output_closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self._run.keep_output(data)

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.output_closed.done():
            self.output_closed.set_result(None)


class _WorkerProtocol(asyncio.SubprocessProtocol):
    """The cold worker process's exit and its stdout+stderr (kept as a bounded tail)."""

    def __init__(self, run: _Run) -> None:
        loop = asyncio.get_running_loop()
        self._run = run
        self.exited: asyncio.Future[None] = loop.create_future()
        self.output_closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        self._run.keep_output(data if isinstance(data, bytes) else data.encode())

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if not self.output_closed.done():
            self.output_closed.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


_warned: set[str] = set()


def _warn_once(message: str, exc_info: bool = False) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning(message, exc_info=exc_info)


def run_sync(config: Config, selection: Selection | Iterable[str] | None = None, **kwargs: Any) -> RunResult:
    """Convenience for scripts and tests outside an event loop."""
    return asyncio.run(Session(config).run(selection, **kwargs))
