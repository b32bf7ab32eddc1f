"""The server side of a run: start the worker (forked warm or spawned cold), stream its events, time out, cancel."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import inspect
import json
import logging
import os
import signal
import sys
import tempfile
import time
import uuid
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import covlens
from covlens.config import Config
from covlens.instrument.decision import FAILED, INSTRUMENTED, NOT_IMPORTED, Decision
from covlens.model import (CANCELLED, COMPLETE, CRASHED, ERROR, OUTCOMES, TIMEOUT, FileLines, Location, RunResult,
                           RunSummary, TestOutcome)
from covlens.runner import events as ev
from covlens.runner.selection import Selection
from covlens.runner.worker import EVENT_FD_ENV, JOB_ENV

if TYPE_CHECKING:
    from covlens.runner.warm import WarmChild, WarmWorker

log = logging.getLogger(__name__)

OnEvent = Callable[[ev.Event], "Awaitable[None] | None"]

DEFAULT_OUTPUT_LIMIT = 256 * 1024  # bytes of the worker's stdout+stderr kept (its tail)
_CHUNK = 1 << 16
# Once the worker is gone and its process group killed, the pipes reach EOF at once. Only a process that escaped
# the group (setsid) can hold them open: give up on it after this long without any data.
_PIPE_GRACE = 2.0
_ENCLOSING_PYTEST_ENV = ("PYTEST_XDIST_", "PYTEST_CURRENT_TEST")


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

    # -- worker environment ------------------------------------------------------------------------------------

    def worker_command(self) -> list[str]:
        return [self.python, "-m", "covlens.runner.worker"]

    def worker_env(self, event_fd: int, job_path: str) -> dict[str, str]:
        env = worker_base_env(os.environ)
        env[EVENT_FD_ENV] = str(event_fd)
        env[JOB_ENV] = job_path
        return env


def worker_base_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of every test process (cold worker or warm worker): `environ`, covlens importable."""
    # Leftovers of an enclosing pytest (covlens's own tests run under xdist) would confuse the worker's pytest.
    env = {k: v for k, v in environ.items() if not k.startswith(_ENCLOSING_PYTEST_ENV)}
    path = covlens_import_path()
    env["PYTHONPATH"] = os.pathsep.join([path, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    return env


def covlens_import_path() -> str:
    """A folder that holds covlens (and nothing else the project could pick up by mistake), for the worker's path.

    From a source checkout that is `server/`; from an installed covlens, a private folder with a symlink to the
    package, so that the project's interpreter does not see the server's other site-packages.
    """
    package = os.path.dirname(os.path.abspath(covlens.__file__))
    parent = os.path.dirname(package)
    if os.path.basename(parent) not in ("site-packages", "dist-packages"):
        return parent
    digest = hashlib.sha1(package.encode()).hexdigest()[:12]
    shim = os.path.join(tempfile.gettempdir(), f"covlens-path-{os.getuid() if hasattr(os, 'getuid') else 0}-{digest}")
    link = os.path.join(shim, "covlens")
    if not os.path.islink(link):
        os.makedirs(shim, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.symlink(package, link)
    return shim


def describe_exit(returncode: int | None) -> str:
    """'was killed by signal SIGSEGV (Segmentation fault)' / 'exited with code 3'."""
    if returncode is None:
        return "did not exit"
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
            text = signal.strsignal(sig) or ""
            return f"was killed by signal {sig.name} ({text})" if text else f"was killed by signal {sig.name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


_ACTION_RANK = {INSTRUMENTED: 0, FAILED: 1, NOT_IMPORTED: 3}


class _Results:
    """What the events said so far; merged across the main worker and any xdist workers."""

    def __init__(self) -> None:
        self.decisions: dict[tuple[str, str | None], Decision] = {}
        self.outcomes: dict[str, TestOutcome] = {}
        self.hits: dict[str, dict[str, set[int]]] = {}
        self.files: dict[str, FileLines] = {}
        self.running: dict[str, ev.TestStarted] = {}
        self.notices: list[str] = []
        self.total: int | None = None
        self.engine: str | None = None
        self.finished: ev.RunFinished | None = None
        self.failed: ev.WorkerFailed | None = None
        self.bad_lines = 0

    def add(self, event: ev.Event) -> None:
        if isinstance(event, ev.DecisionMade):
            d = event.decision
            key = (d.module, d.path)
            old = self.decisions.get(key)
            # The same module in several processes (xdist): measured anywhere beats skipped beats never imported.
            if old is None or _ACTION_RANK.get(d.action, 2) < _ACTION_RANK.get(old.action, 2):
                self.decisions[key] = d
        elif isinstance(event, ev.TestStarted):
            self.running[event.nodeid] = event
        elif isinstance(event, ev.TestFinished):
            self.running.pop(event.outcome.nodeid, None)
            self.outcomes[event.outcome.nodeid] = event.outcome
            self._add_hits(event.outcome.nodeid, event.hits)
        elif isinstance(event, ev.ContextHits):
            self._add_hits(event.context, event.hits)
        elif isinstance(event, ev.FilesMeasured):
            for fl in event.files:
                self.files[fl.path] = fl
        elif isinstance(event, ev.Collected):
            self.total = event.total
        elif isinstance(event, ev.WorkerStarted):
            if event.worker == "main" or self.engine is None:
                self.engine = event.engine
        elif isinstance(event, ev.Notice):
            if event.message not in self.notices:
                self.notices.append(event.message)
        elif isinstance(event, ev.RunFinished):
            self.finished = event
        elif isinstance(event, ev.WorkerFailed):
            self.failed = event

    def _add_hits(self, context: str, hits: ev.Hits) -> None:
        if not hits:
            return
        per_path = self.hits.setdefault(context, {})
        for path, lines in hits.items():
            per_path.setdefault(path, set()).update(lines)

    def final_decisions(self) -> tuple[Decision, ...]:
        # A path measured in one process is not "not imported" because another process never imported it.
        measured = {d.path for d in self.decisions.values() if d.path and d.action != NOT_IMPORTED}
        return tuple(d for d in self.decisions.values() if not (d.action == NOT_IMPORTED and d.path in measured))


class _Run:
    """One run: the worker process, its pipes, and how it ended."""

    def __init__(self, session: Session, selection: Selection, on_event: OnEvent | None) -> None:
        self.session = session
        self.config = session.config
        self.selection = selection
        self.on_event = on_event
        self.run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        self.started = time.time()
        self.results = _Results()
        self.process: _Process | None = None
        self.pid: int | None = None
        self.returncode: int | None = None
        self.lost: str | None = None  # why the worker's exit status is unknown (its warm parent died)
        self.cancelled = False
        self.timed_out = False
        self._tail = bytearray()
        self._dropped = 0
        self._last_data = time.monotonic()
        self._in_read = False

    # -- control -----------------------------------------------------------------------------------------------

    def cancel(self) -> None:
        self.cancelled = True
        self.kill_group()

    def kill_group(self) -> None:
        if self.pid is None:
            return
        # The worker leads its own session and process group (start_new_session=True, or setsid in a forked
        # child): its pid is the group id.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    # -- the run -----------------------------------------------------------------------------------------------

    async def execute(self, pytest_args: list[str]) -> RunResult:
        if self.selection.targets == ():
            return self._result(COMPLETE, "nothing selected: no tests to run", exit_code=5)
        if self.cancelled:
            return self._result(CANCELLED, "cancelled before it started")
        only = getattr(self.selection, "only", None)
        job = {"config": self.config.to_json(), "pytest_args": pytest_args,
               "only": None if only is None else list(only)}
        cleanup: list[Callable[[], None]] = []
        try:
            process: _Process | None = None
            if self.session.warm is not None:
                read_fd, write_fd = os.pipe()
                try:
                    process = await self._fork_warm(job, write_fd)
                finally:
                    os.close(write_fd)  # the child has its copy: EOF once it (and all it started) is gone
                    if process is None:
                        # Not for the cold worker: a child forked just as its warm worker died could write here.
                        os.close(read_fd)
            if process is None:
                read_fd, write_fd = os.pipe()
                try:
                    process = await self._spawn_cold(job, write_fd, cleanup)
                except OSError as exc:
                    os.close(read_fd)
                    return self._result(ERROR, f"could not start the test worker with {self.session.python}: "
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
        fd, job_path = tempfile.mkstemp(prefix="covlens-job-", suffix=".json")
        cleanup.append(lambda: _unlink(job_path))
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(job, handle)
        loop = asyncio.get_running_loop()
        # A protocol rather than Process.wait(): that one only returns once the output pipes close too, which a
        # forked grandchild holding them would delay forever.
        transport, protocol = await loop.subprocess_exec(
            lambda: _WorkerProtocol(self), *self.session.worker_command(), cwd=self.config.root,
            env=self.session.worker_env(event_fd, job_path), pass_fds=(event_fd,),
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
        events_reader = asyncio.StreamReader(limit=_CHUNK)
        events_transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(events_reader),
                                                           os.fdopen(read_fd, "rb", buffering=0))
        pump = asyncio.ensure_future(self._pump_events(events_reader))
        exited = process.exited
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
        return self._conclude()

    async def _finish_reading(self, pump: asyncio.Future[None], output: asyncio.Future[None]) -> None:
        pending: set[asyncio.Future[None]] = {pump, output}
        while pending:
            seen = self._last_data
            _, pending = await asyncio.wait(pending, timeout=_PIPE_GRACE)
            # Give up only on pipes that stay silent; a slow on_event working through a backlog is progress.
            if pending and self._last_data == seen and (pump.done() or self._in_read):
                log.warning("a process outside the worker's process group holds its pipes open; stop reading them")
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)
                return

    async def _pump_events(self, reader: asyncio.StreamReader) -> None:
        buffer = bytearray()
        while True:
            self._in_read = True
            try:
                chunk = await reader.read(_CHUNK)
            finally:
                self._in_read = False
            if not chunk:
                break
            self._last_data = time.monotonic()
            buffer += chunk
            start = 0
            while True:
                end = buffer.find(b"\n", start)
                if end < 0:
                    break
                await self._handle(bytes(buffer[start:end]))
                start = end + 1
            del buffer[:start]
        if buffer.strip():
            await self._handle(bytes(buffer))  # a last line cut short by a crash is most likely garbage

    async def _handle(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            event = ev.from_line(line)
        except ev.WireError as exc:
            self.results.bad_lines += 1
            if self.results.bad_lines <= 3:
                log.warning("ignoring a malformed event from the test worker: %s", exc)
            return
        self.results.add(event)
        self._last_data = time.monotonic()
        if self.on_event is None:
            return
        try:
            result = self.on_event(event)
            if inspect.isawaitable(result):
                await result
        except Exception:  # noqa: BLE001 - a broken listener must not lose the run
            log.exception("the run's on_event callback raised on %s", type(event).__name__)

    def keep_output(self, data: bytes) -> None:
        """Keep only the tail of the worker's output: a test printing 100 MB must cost no memory."""
        self._last_data = time.monotonic()
        limit = self.session.output_limit
        if len(data) >= limit:
            self._dropped += len(self._tail) + len(data) - limit
            self._tail[:] = data[-limit:] if limit else b""
            return
        self._tail += data
        excess = len(self._tail) - limit
        if excess > 0:
            del self._tail[:excess]
            self._dropped += excess

    # -- the report ------------------------------------------------------------------------------------------

    def _output(self) -> str:
        text = self._tail.decode("utf-8", errors="replace")
        if self._dropped:
            text = f"[... {self._dropped} earlier bytes of output not kept ...]\n" + text
        return text

    def _worker_ended(self) -> str:
        """'the test worker exited with code 3', or why its end is unknown."""
        if self.lost is not None:
            return f"the test worker ended without a known exit status ({self.lost})"
        return f"the test worker {describe_exit(self.returncode)}"

    def _conclude(self) -> RunResult:
        res = self.results
        returncode = self.returncode
        running = list(res.running.values())
        where = (" while running " + ", ".join(t.nodeid for t in running)) if running else ""
        kept = len(res.outcomes)
        if res.finished is not None:
            message = res.finished.message
            return self._result(COMPLETE, message, exit_code=res.finished.exit_code)
        if self.cancelled:
            return self._result(CANCELLED, f"cancelled{where}; {kept} test results reported before it were kept")
        if self.timed_out:
            text = (f"the run timed out after {self.config.timeout:g} s{where} (raise `timeout` in [tool.covlens] "
                    f"if the tests need longer); {kept} test results reported before it were kept")
            self._blame(running, f"still running when the run timed out after {self.config.timeout:g} s")
            return self._result(TIMEOUT, text, exit_code=returncode)
        if res.failed is not None:
            return self._result(ERROR, res.failed.message, exit_code=returncode)
        if not res.outcomes and not res.decisions and returncode not in (None, 0) and res.engine is None \
                and not running:
            return self._result(ERROR, f"{self._worker_ended()} before it could start; see the output",
                                exit_code=returncode)
        text = (f"{self._worker_ended()}{where} before the run finished; "
                f"{kept} test results reported before it were kept")
        self._blame(running, f"{self._worker_ended()} while this test ran")
        return self._result(CRASHED, text, exit_code=returncode)

    def _blame(self, running: list[ev.TestStarted], message: str) -> None:
        for started in running:
            failure = Location(started.path, started.line) if started.path and started.line else None
            self.results.outcomes[started.nodeid] = TestOutcome(
                nodeid=started.nodeid, outcome="failed", path=started.path, line=started.line, message=message,
                failure=failure)

    def _result(self, state: str, message: str, exit_code: int | None = None) -> RunResult:
        res = self.results
        counts = Counter(o.outcome for o in res.outcomes.values())
        summary_counts = {k: counts[k] for k in OUTCOMES if counts.get(k)}
        if state == COMPLETE:
            tally = ", ".join(f"{n} {k}" for k, n in summary_counts.items()) or "no tests ran"
            message = f"{tally}; {message}" if message else tally
        if res.notices:
            message = message + " | " + " | ".join(res.notices)
        summary = RunSummary(
            run_id=self.run_id, state=state, started=self.started, finished=time.time(), counts=summary_counts,
            total=res.total, exit_code=exit_code, message=message, engine=res.engine,
            selection=self.selection.targets)
        return RunResult(
            summary=summary,
            decisions=res.final_decisions(),
            outcomes=tuple(res.outcomes.values()),
            hits={ctx: {path: frozenset(lines) for path, lines in paths.items()} for ctx, paths in res.hits.items()},
            files=dict(res.files),
            output=self._output(),
        )


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


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def run_sync(config: Config, selection: Selection | Iterable[str] | None = None, **kwargs: Any) -> RunResult:
    """Convenience for scripts and tests outside an event loop."""
    return asyncio.run(Session(config).run(selection, **kwargs))
