"""The CLI's run: every test in a fresh worker, watched without an event loop; the same results as a Session's."""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Union

from covlens.config import Config
from covlens.lazylog import LazyLogger
from covlens.model import CANCELLED, ERROR, RunResult
from covlens.runner import events as ev
from covlens.runner.launch import (GATHER_SECONDS, PIPE_GRACE, PIPE_SIZE, covlens_import_path, event_pipe, kill_group,
                                   unlink_quietly, worker_base_env, worker_command, worker_env, write_job)
from covlens.runner.record import DEFAULT_OUTPUT_LIMIT, RunRecord

if TYPE_CHECKING:
    import subprocess

log = LazyLogger("covlens.runner.session")

_POLL = 0.1  # without a pidfd (not Linux), how often the worker's exit is checked while its pipes stay open


class BlockingRun(RunRecord):
    """One run of every test in a freshly spawned worker, watched by the calling thread until it ends.

    Session does the same on an event loop; the CLI, which only waits, is spared importing asyncio (a third of its
    own cost on a short suite). `cancel()` may be called from a signal handler or another thread.
    """

    def __init__(self, config: Config, python: str = sys.executable, *,
                 on_event: Callable[[ev.Event], None] | None = None, pytest_args: Sequence[str] = (),
                 output_limit: int = DEFAULT_OUTPUT_LIMIT, fork: bool = False) -> None:
        super().__init__(config, None, output_limit)
        self.python = python
        self.fork = fork  # fork the worker from this process when `fork_start` allows (the CLI as its own program)
        self.on_event = on_event
        self.pytest_args = [*config.pytest_args, *pytest_args]
        self.pid: int | None = None

    def cancel(self) -> None:
        """Kill the worker's process group: `run()` returns CANCELLED, with everything reported before."""
        self.cancelled = True
        kill_group(self.pid)

    def run(self) -> RunResult:
        if self.cancelled:
            return self.result(CANCELLED, "cancelled before it started")
        job = {"config": self.config.to_json(), "pytest_args": self.pytest_args, "only": None}
        cleanup: list[Callable[[], None]] = []
        try:
            try:
                process, read_fd = self._start(job, cleanup)
            except OSError as exc:
                return self.result(ERROR, f"could not start the test worker with {self.python}: {exc}; "
                                          "check the Python interpreter setting")
            self.pid = process.pid
            if self.cancelled:  # Ctrl-C while it started
                kill_group(self.pid)
            try:
                self._watch(process, read_fd)
            finally:
                # The worker is gone, or this thread is leaving: so must be everything it started.
                kill_group(self.pid)
                os.close(read_fd)
                assert process.stdout is not None
                process.stdout.close()
                _reap(process)
                if self.returncode is None:
                    self.returncode = process.returncode
        finally:
            for step in cleanup:
                step()
        return self.conclude()

    def _start(self, job: dict[str, Any], cleanup: list[Callable[[], None]]) -> tuple[_Worker, int]:
        """The worker and the read end of its event pipe: the CLI's standby child when it can be (`fork_start`),
        else a spawned worker; raises OSError."""
        if self.fork:
            from covlens.runner import fork_start

            why_not = fork_start.unavailable(self.python)
            if why_not is None:
                path = covlens_import_path()
                try:
                    pid, read_fd, out_fd = fork_start.start_worker(job, str(self.config.root),
                                                                   worker_base_env(os.environ, path), path)
                except OSError as exc:
                    log.debug("the forked worker could not take the run (%s); spawning it", exc)
                else:
                    return _ForkedWorker(pid, out_fd), read_fd
            else:
                log.debug("the worker is spawned, not forked: %s", why_not)
                fork_start.dismiss()
        import subprocess  # only here: a forked run (the CLI's usual one) is spared importing it

        read_fd, write_fd = event_pipe()
        try:
            job_path = write_job(job)
            cleanup.append(lambda: unlink_quietly(job_path))
            process = subprocess.Popen(
                worker_command(self.python), cwd=self.config.root, env=worker_env(write_fd, job_path),
                pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, start_new_session=True)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)  # the worker has its copy: EOF once it (and all it started) is gone
        return process, read_fd

    # -- watching the worker -----------------------------------------------------------------------------------

    def _watch(self, process: _Worker, read_fd: int) -> None:
        assert process.stdout is not None
        out_fd = process.stdout.fileno()
        exit_fd = _pidfd(process.pid)
        deadline = time.monotonic() + self.config.timeout
        with selectors.DefaultSelector() as selector:
            for fd in (read_fd, out_fd):
                os.set_blocking(fd, False)
                selector.register(fd, selectors.EVENT_READ)
            if exit_fd is not None:
                selector.register(exit_fd, selectors.EVENT_READ)
            try:
                while self.returncode is None or self._pipes_open(selector, exit_fd):
                    if self.returncode is not None:
                        wait = self._last_data + PIPE_GRACE - time.monotonic()
                        if wait <= 0:
                            log.warning("a process outside the worker's process group holds its pipes open; "
                                        "stop reading them")
                            return
                    elif exit_fd is not None and not self.timed_out:
                        wait = max(0.0, deadline - time.monotonic())
                    else:
                        wait = _POLL
                    got_events = False
                    for key, _ in selector.select(wait):
                        if key.fd == exit_fd:
                            selector.unregister(exit_fd)  # readable from now on: the worker has exited
                        elif self._read(selector, key.fd, read_fd):
                            got_events = True
                    if self.returncode is None:
                        self._check(process, deadline)
                        if got_events and self.returncode is None:
                            self._gather(exit_fd)
            finally:
                if exit_fd is not None:
                    os.close(exit_fd)

    def _pipes_open(self, selector: selectors.BaseSelector, exit_fd: int | None) -> bool:
        return any(key.fd != exit_fd for key in selector.get_map().values())

    def _read(self, selector: selectors.BaseSelector, fd: int, read_fd: int) -> bool:
        """Read what `fd` holds; True when that was events."""
        try:
            data = os.read(fd, PIPE_SIZE)
        except BlockingIOError:
            return False
        if not data:
            selector.unregister(fd)
        if fd == read_fd:
            for event in self.feed(data):
                self._notify(event)
            return bool(data)
        if data:
            self.keep_output(data)
        return False

    def _check(self, process: _Worker, deadline: float) -> None:
        returncode = process.poll()
        if returncode is not None:
            self.returncode = returncode
            self._last_data = time.monotonic()  # the grace for pipes held open starts now
            kill_group(self.pid)  # what it started (forked children, xdist workers) goes with it
        elif not self.timed_out and time.monotonic() >= deadline:
            self.timed_out = True
            kill_group(self.pid)

    def _gather(self, exit_fd: int | None) -> None:
        # Let the next events gather in the pipe instead of waking for each line the worker writes; its exit ends
        # the wait at once (through the pidfd).
        if exit_fd is not None:
            select.select([exit_fd], [], [], GATHER_SECONDS)
        else:
            time.sleep(GATHER_SECONDS)

    def _notify(self, event: ev.Event) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:  # noqa: BLE001 - a broken listener must not lose the run
            log.exception("the run's on_event callback raised on %s", type(event).__name__)


class _ForkedWorker:
    """A worker forked by `fork_start`, behind the little of subprocess.Popen that BlockingRun uses."""

    def __init__(self, pid: int, output_fd: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdout = os.fdopen(output_fd, "rb", buffering=0)

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: its status is lost
                self.returncode = -1
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """Only called once its process group was killed: the end is at hand, whatever `timeout` says."""
        if self.returncode is None:
            try:
                _, status = os.waitpid(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                self.returncode = -1
        return self.returncode


_Worker = Union["subprocess.Popen[bytes]", _ForkedWorker]


def _reap(process: _Worker) -> None:
    """Wait for the worker, whose process group was just killed (a spawned one: at most PIPE_GRACE)."""
    if isinstance(process, _ForkedWorker):
        process.wait()
        return
    import subprocess

    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=PIPE_GRACE)


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when `pid` exits (Linux 5.3+), else None."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError:
        return None
