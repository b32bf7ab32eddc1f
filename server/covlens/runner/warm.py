"""The server side of the warm worker: a pre-imported test process per project that forks a child for each run."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import os
import signal
import socket
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from covlens.config import Config
from covlens.model import COMPLETE, RunResult
from covlens.runner.warm_process import CONTROL_FD_ENV, INIT_ENV, NEVER_PRELOAD, PROTOCOL
from covlens.runner.worker import WARM_FLAG

log = logging.getLogger(__name__)

DEFAULT_START_TIMEOUT = 60.0  # s from spawning the warm worker to its "ready" (it imports pytest and the preloads)
_ANSWER_TIMEOUT = 15.0  # s for the warm worker to answer a run request with the child's pid
_RETRY_AFTER = 60.0  # s before starting again a warm worker that died or hung while starting
_CLOSE_GRACE = 5.0  # s for a warm worker to exit once its control socket is closed, before SIGKILL
_STDERR_TAIL = 8192
_MAX_TAINTED_RESTARTS = 3
PRELOAD_REASONS = ("stdlib", "third-party")


class WarmUnavailable(Exception):
    """The warm worker cannot serve this run (the message says why): the session runs it cold instead."""


@dataclass(frozen=True)
class WarmKey:
    """What a warm worker was started for: a different value needs a new one."""

    python: str
    config: Config
    preload: tuple[str, ...]
    env: tuple[tuple[str, str], ...]  # what a cold worker's environment would be (sorted items)

    def differs(self, other: WarmKey) -> str | None:
        if self.python != other.python:
            return f"the Python interpreter changed ({self.python} -> {other.python})"
        if self.config != other.config:
            return "the configuration changed"
        if self.preload != other.preload:
            return "the list of modules to pre-import changed"
        if self.env != other.env:
            return "the environment changed"
        return None


class WarmChild:
    """One run's forked process, as the session sees it: its pid, then its exit (reported by the warm worker)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.returncode: int | None = None
        self.lost: str | None = None  # why the exit status will never be known (the warm worker died)

    def _exit(self, returncode: int | None, lost: str | None = None) -> None:
        if self.exited.done():
            return
        self.returncode = returncode
        self.lost = lost
        self.exited.set_result(None)

    def _orphaned(self, why: str) -> None:
        """Its warm worker died without reporting its exit: watch the process itself (Linux), else give it up."""
        lost = f"the warm test worker that forked it is gone: {why}"
        if self.exited.done():
            return
        if not hasattr(os, "pidfd_open"):
            self._exit(None, lost)  # the session then kills its group
            return
        try:
            pidfd = os.pidfd_open(self.pid)
        except OSError:
            self._exit(None, lost)  # already gone
            return
        loop = asyncio.get_running_loop()

        def gone() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            self._exit(None, lost)

        # Readable once the process has exited: the run goes on and ends as it would have (its events say how).
        loop.add_reader(pidfd, gone)


@dataclass
class _Failure:
    key: WarmKey
    stamp: tuple[tuple[str, int | None], ...]
    retry_at: float
    message: str


def site_stamp(dirs: Iterable[str]) -> tuple[tuple[str, int | None], ...]:
    """The mtime of each site-packages folder: installing or removing a distribution changes it."""
    out = []
    for d in dirs:
        try:
            out.append((d, os.stat(d).st_mtime_ns))
        except OSError:
            out.append((d, None))
    return tuple(out)


def preload_of(result: RunResult) -> tuple[str, ...]:
    """The modules a run imported from the standard library or site-packages: what the warm worker may pre-import."""
    return tuple(sorted({d.module for d in result.decisions if d.reason in PRELOAD_REASONS}
                        - NEVER_PRELOAD))


class WarmWorker:
    """A warm test process for one project, restarted whenever it could differ from a fresh one; owned by the caller.

    `Session(config, python, warm=warm)` asks it for a forked process per run, and runs cold whenever it raises
    WarmUnavailable. It starts on the first run (or `prepare()`), and is replaced when the interpreter, the
    Config or the preload list changes, when it died, when a site-packages folder changed (something was
    installed), and after `invalidate()`. `await close()` ends it.
    """

    def __init__(self, python: str = sys.executable, root: str | os.PathLike[str] = ".", *,
                 env: Mapping[str, str] | None = None, preload: Iterable[str] = (),
                 start_timeout: float = DEFAULT_START_TIMEOUT) -> None:
        self.python = python
        self.root = os.path.abspath(root)
        self.env = dict(env) if env is not None else None  # None: the server's environment at each start
        self.start_timeout = start_timeout
        self._preload = frozenset(preload) - NEVER_PRELOAD
        self._denied: dict[str, str] = {}  # module -> why it may not be pre-imported (tainted the process)
        self._current: _WarmProcess | None = None
        self._starting: asyncio.Future[_WarmProcess] | None = None
        self._starting_key: WarmKey | None = None
        self._processes: set[_WarmProcess] = set()  # every one not yet exited, current or retiring
        self._failure: _Failure | None = None
        self._warned: set[str] = set()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._closed = False
        self.starts = 0  # warm workers started so far (for tests and logs)
        self.forks = 0  # runs forked so far

    # -- the caller's API -----------------------------------------------------------------------------------

    @property
    def preload(self) -> tuple[str, ...]:
        """The modules the next warm worker pre-imports (less those found to import project code)."""
        return tuple(sorted(self._preload - frozenset(self._denied)))

    @property
    def pid(self) -> int | None:
        """The pid of the warm worker serving runs now, if one is ready."""
        current = self._current
        return current.pid if current is not None and current.usable_reason() is None else None

    def set_preload(self, modules: Iterable[str]) -> None:
        """Pre-import exactly these (stdlib / third-party) modules from the next start on."""
        self._preload = frozenset(str(m) for m in modules) - NEVER_PRELOAD

    def learn(self, result: RunResult) -> bool:
        """Add the stdlib / third-party modules a complete run imported to the preload list; True if it grew.

        The list only grows, so that runs of a few tests (which import less) do not restart the warm worker;
        when it grows, a new warm worker is started in the background for the next run.
        """
        if result.summary.state != COMPLETE:
            return False
        new = frozenset(preload_of(result)) - self._preload - frozenset(self._denied)
        if not new:
            return False
        self._preload |= new
        with contextlib.suppress(RuntimeError):  # no running loop: the next run starts it
            self._keep(asyncio.ensure_future(self._prestart()))
        return True

    async def _prestart(self) -> None:
        """After the preload list grew: replace a ready warm worker now, so that the next run finds one ready."""
        current = self._current
        if self._closed or self._starting is not None or current is None or current.usable_reason() is not None:
            return  # starting already, or the next run starts one for its own Config anyway
        with contextlib.suppress(WarmUnavailable):
            await self._process_for(self._key(current.key.config, current.key.python))

    def invalidate(self, reason: str = "the project's dependencies may have changed") -> None:
        """Retire the warm worker (runs in progress finish); the next run starts a fresh one.

        For the coordinator when pyproject.toml, setup.cfg, requirements*.txt, *.lock or .pth files change.
        """
        self._failure = None
        current, self._current = self._current, None
        if current is not None:
            log.info("retiring the warm test worker (pid %s): %s", current.pid, reason)
            current.retire()
        if self._starting is not None:
            self._starting.add_done_callback(_retire_result)
            self._starting = self._starting_key = None

    async def prepare(self, config: Config, python: str | None = None) -> bool:
        """Start the warm worker for `config` now rather than on the next run; True once it is ready."""
        try:
            await self._process_for(self._key(config, python))
        except WarmUnavailable:
            return False
        return True

    async def close(self) -> None:
        """End the warm worker(s); runs still going are killed with them (the warm worker kills its children)."""
        self._closed = True
        starting, self._starting, self._starting_key = self._starting, None, None
        self._current = None
        tasks = [*self._tasks, *([starting] if starting is not None else [])]
        for task in tasks:
            task.cancel()  # a start cut short shuts its process down
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(proc.shutdown() for proc in list(self._processes)), return_exceptions=True)

    async def imported_modules(self) -> list[str]:
        """The module names imported in the warm worker now (to check that no project module is)."""
        current = self._current
        if current is None or current.usable_reason() is not None:
            raise WarmUnavailable("no warm worker is running")
        return await current.request_modules()

    # -- for the session ------------------------------------------------------------------------------------

    async def spawn(self, config: Config, job: dict[str, Any], event_fd: int, output_fd: int,
                    *, python: str | None = None) -> WarmChild:
        """Fork a child that runs `job`, writing events to `event_fd` and its output to `output_fd`.

        The fds stay the caller's (the warm worker gets copies). Raises WarmUnavailable, after logging why
        (once per reason), when the run must be run cold instead.
        """
        key = self._key(config, python)
        try:
            if os.path.realpath(config.root) != os.path.realpath(self.root):
                raise WarmUnavailable(f"the warm worker serves {self.root}, not {config.root}")
            process = await self._process_for(key)
            child = await process.spawn(job, event_fd, output_fd)
        except WarmUnavailable as exc:
            self._warn(str(exc))
            raise
        self.forks += 1
        return child

    # -- starting and replacing ------------------------------------------------------------------------------

    def _key(self, config: Config, python: str | None) -> WarmKey:
        from covlens.runner.launch import worker_base_env

        # The environment is read at every run, as a cold worker would: a change means a fresh warm worker.
        env = worker_base_env(self.env if self.env is not None else os.environ)
        return WarmKey(python or self.python, config, tuple(sorted(self._preload - frozenset(self._denied))),
                       tuple(sorted(env.items())))

    def _warn(self, message: str) -> None:
        if message in self._warned:
            log.debug("running cold: %s", message)
            return
        self._warned.add(message)
        log.warning("covlens runs this test run in a fresh process instead of the warm worker: %s", message)

    def _keep(self, task: asyncio.Future[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process_for(self, key: WarmKey) -> _WarmProcess:
        if self._closed:
            raise WarmUnavailable("the warm worker was closed")
        if not hasattr(os, "fork") or not hasattr(socket, "send_fds") or not hasattr(os, "killpg"):
            raise WarmUnavailable("this platform cannot fork test processes (POSIX only)")
        current = self._current
        if current is not None:
            why = current.key.differs(key) or current.usable_reason()
            if why is None:
                return current
            log.info("restarting the warm test worker (pid %s): %s", current.pid, why)
            self._current = None
            current.retire()
        if self._starting is None or self._starting_key != key:
            if self._starting is not None:
                self._starting.add_done_callback(_retire_result)  # started for something else meanwhile
            self._raise_if_failed(key)
            self._starting_key = key
            starting = self._starting = asyncio.ensure_future(self._start(key))
            starting.add_done_callback(self._started)
        process = await asyncio.shield(self._starting)
        why = process.usable_reason()
        if why is not None:  # e.g. invalidate() while it started: the next run gets a fresh one
            raise WarmUnavailable(f"the warm test worker was replaced while it started ({why})")
        return process

    def _started(self, task: asyncio.Future[_WarmProcess]) -> None:
        if task is not self._starting:
            return
        self._starting = self._starting_key = None
        if not task.cancelled() and task.exception() is None:
            self._current = task.result()

    def _raise_if_failed(self, key: WarmKey) -> None:
        failure = self._failure
        if failure is None:
            return
        # Another preload list would fail the same way: the interpreter, the Config and the environment matter.
        same = (failure.key.python, failure.key.config, failure.key.env) == (key.python, key.config, key.env)
        if not same or site_stamp(d for d, _ in failure.stamp) != failure.stamp \
                or time.monotonic() >= failure.retry_at:
            self._failure = None
            return
        raise WarmUnavailable(failure.message)

    async def _start(self, key: WarmKey) -> _WarmProcess:
        for _ in range(_MAX_TAINTED_RESTARTS):
            process = await self._start_once(key)
            if not process.tainted:
                if process.skipped:
                    log.debug("the warm test worker did not pre-import %s", process.skipped)
                return process
            # A preload imported project code or started a thread: that process must not fork runs.
            process.retire()
            for name, why in process.tainted.items():
                log.warning("covlens will not pre-import %s in the warm test worker: %s", name, why)
                self._denied[name] = why
            key = WarmKey(key.python, key.config, tuple(n for n in key.preload if n not in self._denied), key.env)
        raise WarmUnavailable("pre-imported modules kept importing project code or starting threads; "
                              "see the warnings above")

    async def _start_once(self, key: WarmKey) -> _WarmProcess:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = dict(key.env)
        env[CONTROL_FD_ENV] = str(theirs.fileno())
        env[INIT_ENV] = json.dumps({"config": key.config.to_json(), "preload": list(key.preload)})
        try:
            transport, protocol = await loop.subprocess_exec(
                _WarmProtocol, key.python, "-m", "covlens.runner.worker", WARM_FLAG, cwd=key.config.root, env=env,
                pass_fds=(theirs.fileno(),), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            ours.close()
            self._fail(key, (), math.inf, f"could not start the warm test worker with {key.python}: {exc}")
            raise WarmUnavailable(f"could not start the warm test worker with {key.python}: {exc}") from None
        finally:
            theirs.close()
        self.starts += 1
        process = _WarmProcess(key, transport, protocol, ours)
        self._processes.add(process)
        process.on_gone = self._processes.discard
        process.start_reading()
        try:
            await asyncio.wait_for(asyncio.shield(process.ready), timeout=self.start_timeout)
        except asyncio.TimeoutError:
            await process.shutdown(kill=True)
            message = f"the warm test worker did not get ready within {self.start_timeout:g} s"
            self._fail(key, (), time.monotonic() + _RETRY_AFTER, message)
            raise WarmUnavailable(message) from None
        except WarmUnavailable:
            await process.shutdown(kill=True)
            deterministic = process.failed_message is not None  # it said why: trying again changes nothing
            retry_at = math.inf if deterministic else time.monotonic() + _RETRY_AFTER
            message = process.why_gone()  # now that its exit status is known
            self._fail(key, process.site_dirs, retry_at, message)
            raise WarmUnavailable(message) from None
        except BaseException:
            await asyncio.shield(process.shutdown(kill=True))
            raise
        log.info("warm test worker ready (pid %s, %s pre-imported modules, %.2f s)", process.pid,
                 len(process.preloaded), time.monotonic() - process.created)
        return process

    def _fail(self, key: WarmKey, dirs: Iterable[str], retry_at: float, message: str) -> None:
        self._failure = _Failure(key, site_stamp(dirs), retry_at, message)


def _retire_result(task: asyncio.Future[_WarmProcess]) -> None:
    if not task.cancelled() and task.exception() is None:
        task.result().retire()


class _WarmProtocol(asyncio.SubprocessProtocol):
    """The warm worker's exit, and the tail of its stderr (for the warning when it dies)."""

    def __init__(self) -> None:
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.stderr = bytearray()

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        self.stderr += data if isinstance(data, bytes) else data.encode()
        del self.stderr[:-_STDERR_TAIL]

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


class _WarmProcess:
    """One warm worker process: its control socket, the runs it forked, and whether it can still serve."""

    def __init__(self, key: WarmKey, transport: asyncio.SubprocessTransport, protocol: _WarmProtocol,
                 sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self.key = key
        self.transport = transport
        self.protocol = protocol
        self.pid = transport.get_pid()
        self.sock = sock
        sock.setblocking(False)
        self.created = time.monotonic()
        self.ready: asyncio.Future[None] = loop.create_future()
        self.ready.add_done_callback(_consume)
        self.site_dirs: tuple[str, ...] = ()
        self.stamp: tuple[tuple[str, int | None], ...] = ()
        self.preloaded: list[str] = []
        self.skipped: dict[str, str] = {}
        self.tainted: dict[str, str] = {}
        self.failed_message: str | None = None
        self.lost: str | None = None  # why it can no longer serve
        self.retiring = False
        self.on_gone: Any = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[WarmChild]] = {}
        self._abandoned: set[int] = set()  # run ids whose requester went away: their child is killed at once
        self._children: dict[int, WarmChild] = {}  # pid -> child
        self._modules: dict[int, asyncio.Future[list[str]]] = {}
        self._send_lock = asyncio.Lock()
        self._reader: asyncio.Future[None] | None = None
        self._read_done = False
        self._finished = False

    # -- state ------------------------------------------------------------------------------------------------

    def usable_reason(self) -> str | None:
        """Why this process must not fork the next run (None: it may)."""
        if self.lost is not None:
            return self.lost
        if self.retiring:
            return "it was retired"
        if self.transport.get_returncode() is not None or self._peer_closed():
            return "it exited"
        if site_stamp(self.site_dirs) != self.stamp:
            return "a site-packages folder changed (something was installed or removed)"
        return None

    def kill(self) -> None:
        # Not transport.kill(): Popen.send_signal reaps an exited process first (poll), under asyncio's child
        # watcher's feet. The pid cannot be anyone else's before asyncio has reaped it and said so.
        if not self.protocol.exited.done():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def _peer_closed(self) -> bool:
        # It may have died a moment ago, before the loop saw its exit: its end of the socket is closed then.
        try:
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True

    def retire(self) -> None:
        """Fork nothing more; exit once the runs in progress are over (the warm worker reports their exits)."""
        if self.retiring:
            return
        self.retiring = True
        if self.lost is not None:
            return
        try:
            self._keep_send({"op": "retire"})
        except RuntimeError:  # no running loop: closing the socket ends it (and its runs) too
            self.sock.close()

    async def shutdown(self, kill: bool = False) -> None:
        """Close the control socket (the warm worker kills its runs and exits), wait, SIGKILL if it lingers."""
        self.retiring = True
        if kill:
            self.kill()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        try:
            await asyncio.wait_for(asyncio.shield(self.protocol.exited), timeout=_CLOSE_GRACE)
        except asyncio.TimeoutError:
            self.kill()
            await self.protocol.exited
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    # -- requests ---------------------------------------------------------------------------------------------

    async def spawn(self, job: dict[str, Any], event_fd: int, output_fd: int) -> WarmChild:
        run_id = next(self._ids)
        answer: asyncio.Future[WarmChild] = asyncio.get_running_loop().create_future()
        answer.add_done_callback(_consume)
        self._pending[run_id] = answer
        try:
            await asyncio.shield(self._send({"op": "run", "id": run_id, "job": job}, [event_fd, output_fd]))
        except OSError as exc:
            self._pending.pop(run_id, None)
            self._gone(f"its control socket broke ({exc})")
            raise WarmUnavailable(f"the warm test worker could not be sent the run ({exc})") from None
        except asyncio.CancelledError:
            self._abandoned.add(run_id)  # the request still goes out whole: its child is killed once known
            raise
        try:
            return await asyncio.wait_for(asyncio.shield(answer), timeout=_ANSWER_TIMEOUT)
        except asyncio.TimeoutError:
            self._abandoned.add(run_id)
            self._gone(f"it did not answer a run request within {_ANSWER_TIMEOUT:g} s")
            self.kill()
            raise WarmUnavailable(f"the warm test worker did not answer within {_ANSWER_TIMEOUT:g} s") from None
        except asyncio.CancelledError:
            self._abandoned.add(run_id)  # the child may already be running: it is killed as soon as it is known
            if answer.done() and not answer.cancelled() and answer.exception() is None:
                _kill_group(answer.result().pid)
            raise

    async def request_modules(self) -> list[str]:
        request_id = next(self._ids)
        answer: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        self._modules[request_id] = answer
        await asyncio.shield(self._send({"op": "modules", "id": request_id}))
        return await asyncio.wait_for(answer, timeout=_ANSWER_TIMEOUT)

    def _keep_send(self, message: dict[str, Any]) -> None:
        task = self._send(message)
        task.add_done_callback(_consume)  # a broken socket: the reader sees it too
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)

    def _send(self, message: dict[str, Any], fds: Sequence[int] = ()) -> asyncio.Future[None]:
        """Send one message (with copies of `fds`), whole, in order: a task the caller may stop waiting for.

        A message cut short would garble every later one, so the sending is never cancelled; and it sends
        duplicates of the fds, which stay valid however soon the caller closes its own.
        """
        data = (json.dumps(message) + "\n").encode()
        copies = [os.dup(fd) for fd in fds]

        async def send() -> None:
            try:
                async with self._send_lock:
                    if copies:
                        await _send_with_fds(self.sock, data, copies)
                    else:
                        await asyncio.get_running_loop().sock_sendall(self.sock, data)
            finally:
                for fd in copies:
                    os.close(fd)

        return asyncio.ensure_future(send())

    # -- reading ----------------------------------------------------------------------------------------------

    def start_reading(self) -> None:
        self._reader = asyncio.ensure_future(self._read())
        self.protocol.exited.add_done_callback(lambda _: self._exited())

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        buffer = b""
        why: str | None = None
        try:
            while True:
                data = await loop.sock_recv(self.sock, 1 << 16)
                if not data:
                    break
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        self._dispatch(json.loads(line))
        except (OSError, ValueError) as exc:
            why = f"its control socket broke ({type(exc).__name__}: {exc})"
        finally:
            with contextlib.suppress(OSError):
                self.sock.close()
            self._read_done = True
            self._gone(why or self.why_gone(), eof=True)

    def _dispatch(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "ready":
            if message.get("protocol") != PROTOCOL:
                self._gone("it speaks another protocol version (a different covlens in the project's environment?)")
                return
            self.site_dirs = tuple(message.get("site_dirs", ()))
            self.stamp = site_stamp(self.site_dirs)
            self.preloaded = list(message.get("preloaded", ()))
            self.skipped = dict(message.get("skipped", {}))
            self.tainted = dict(message.get("tainted", {}))
            if not self.ready.done():
                self.ready.set_result(None)
        elif op == "failed":
            self.failed_message = str(message.get("message"))
            self.site_dirs = tuple(message.get("site_dirs", ()))
            self._gone(self.failed_message)
        elif op == "started":
            run_id, pid = message.get("id"), int(message["pid"])
            child = WarmChild(pid)
            self._children[pid] = child
            answer = self._pending.pop(run_id, None)  # type: ignore[arg-type]
            if run_id in self._abandoned or answer is None or answer.done():
                self._abandoned.discard(run_id)  # type: ignore[arg-type]
                _kill_group(pid)  # no one waits for this run any more
            else:
                answer.set_result(child)
        elif op == "spawn-failed":
            answer = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
            if answer is not None and not answer.done():
                answer.set_exception(WarmUnavailable(f"the warm test worker could not fork: {message.get('message')}"))
        elif op == "exited":
            child = self._children.pop(int(message["pid"]), None)
            if child is not None:
                child._exit(int(message["returncode"]))
        elif op == "modules":
            waiting = self._modules.pop(message.get("id"), None)  # type: ignore[arg-type]
            if waiting is not None and not waiting.done():
                waiting.set_result(list(message.get("names", ())))

    def _exited(self) -> None:
        self._gone(self.why_gone())

    def why_gone(self) -> str:
        if self.failed_message is not None:
            return self.failed_message
        from covlens.runner.launch import describe_exit

        code = self.transport.get_returncode()
        tail = self.protocol.stderr.decode("utf-8", "replace").strip()
        what = f"the warm test worker {describe_exit(code)}" if code is not None else \
            "the warm test worker closed its control socket"
        return f"{what}; its last output: {tail[-2000:]}" if tail else what

    def _gone(self, why: str, *, eof: bool = False) -> None:
        """It can serve nothing more: fail whoever waits; at EOF, end the runs whose exit nobody will report."""
        if self.lost is None:
            self.lost = why
        if not self.ready.done():
            self.ready.set_exception(WarmUnavailable(why))
        for answer in self._pending.values():
            if not answer.done():
                answer.set_exception(WarmUnavailable(why))
        self._pending.clear()
        for waiting in self._modules.values():
            if not waiting.done():
                waiting.set_exception(WarmUnavailable(why))
        self._modules.clear()
        if eof:
            # Every exit it reported came before EOF: those left are unknown. The session kills their groups.
            for child in self._children.values():
                child._orphaned(self.lost)
            self._children.clear()
        if self._read_done and self.protocol.exited.done() and not self._finished:
            self._finished = True
            if self.on_gone is not None:
                self.on_gone(self)
            self.transport.close()


_BACKGROUND: set[asyncio.Future[Any]] = set()


def _consume(future: asyncio.Future[Any]) -> None:
    # Nobody may be waiting any more: retrieve the exception so that asyncio does not log it as never retrieved.
    if not future.cancelled():
        future.exception()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def _send_with_fds(sock: socket.socket, data: bytes, fds: list[int]) -> None:
    """Send `data` with `fds` attached to its first byte, on a non-blocking socket, without blocking the loop."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            sent = socket.send_fds(sock, [data], fds)
            break
        except (BlockingIOError, InterruptedError):
            writable = loop.create_future()
            loop.add_writer(sock.fileno(), lambda: writable.done() or writable.set_result(None))
            try:
                await writable
            finally:
                loop.remove_writer(sock.fileno())
    if sent < len(data):
        await loop.sock_sendall(sock, data[sent:])
