"""A cold worker forked from `covlens run` itself: the interpreter and the worker's own imports are paid once.

A spawned worker starts an interpreter and imports covlens's worker (its config, events, dataclasses, inspect...)
before it installs the hook: about 50 ms of CPU that `covlens run` spends on the very same things. When the CLI
is its own program (`python -m covlens run` or the `covlens` script, without interpreter options) it imports the
worker before anything else and forks a standby child at once (`prepare`). The CLI then reads its configuration
and, when the run starts, sends the child the job; the child turns itself into that spawned worker (cwd, argv,
sys.path, the environment, the SIGINT handler, its session, stdin/stdout/stderr and the open file descriptors are
a spawned worker's, `__main__` is the worker module) and runs the same `worker.run_job`. Whenever that is not
possible (`unavailable` says why) the child is sent away and the run spawns, as before.
"""

from __future__ import annotations

# Only `sys` up here: everything this module imports before `prepare` has imported the worker would look, in the
# forked child, like something the worker needed. The rest is imported in the functions, after that.
import sys
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import types
    from collections.abc import Mapping

# sys.modules once the interpreter had started and the worker was imported: what a spawned worker has when it
# installs its hook (which then notes each of them, as there).
_baseline: frozenset[str] | None = None
# What covlens's entry (`python -m covlens`, the script) imports and a spawned worker does not.
_ENTRY_ONLY = frozenset({"covlens.__main__", __name__})
_FIRST_FREE_FD = 3
NO_FORK_ENV = "COVLENS_FORK"  # "0": always spawn (the escape hatch, and how the tests compare both)


class _Standby:
    """The child forked at start-up, waiting for the run it is to become the worker of."""

    def __init__(self, pid: int, job_fd: int, event_fd: int, output_fd: int) -> None:
        self.pid = pid
        self.job_fd = job_fd  # write end: the run's job goes here; closing it empty sends the child away
        self.event_fd = event_fd  # read ends of the worker's event pipe and of its stdout/stderr
        self.output_fd = output_fd


_standby: _Standby | None = None
_refusal: str | None = None  # why there is no standby child, once prepare() ran


def prepare() -> None:
    """Import what a spawned worker imports before its hook, ahead of everything else the CLI imports; then fork
    the child that will become the run's worker, unless `refusal()` says this process's state is not a worker's."""
    global _baseline, _refusal, _standby
    if _baseline is not None:
        return
    import runpy  # noqa: F401 - a worker started with `-m` has it

    from covlens.runner import worker

    _baseline = frozenset(sys.modules) - _ENTRY_ONLY
    _refusal = refusal()
    if _refusal is None:
        # Frozen before the fork, the objects both processes hold stay out of both collectors' walks: neither
        # copies the pages they share (see worker.freeze_startup_objects, which the child calls again).
        worker.freeze_startup_objects()
        try:
            _standby = _fork_standby()
        except OSError as exc:
            _refusal = f"forking failed: {exc}"
        else:
            if _standby.pid == 0:
                # Here, not deeper: the run's tests start as few frames down as in a spawned worker.
                _stand_by(_standby.job_fd, _standby.event_fd, _standby.output_fd)


def refusal() -> str | None:
    """Why the state of this process is not a spawned worker's (so forking one would not give one); None if it is."""
    import os
    import threading

    if os.environ.get(NO_FORK_ENV, "") not in ("", "1"):
        return f"{NO_FORK_ENV}={os.environ[NO_FORK_ENV]} in the environment"
    if os.name != "posix" or not hasattr(os, "fork"):
        return "this system has no fork"
    argv = getattr(sys, "orig_argv", [])
    as_module = argv[1:3] == ["-m", "covlens"]
    as_script = len(argv) > 1 and not argv[1].startswith("-") and os.path.basename(argv[1]).startswith("covlens")
    if not (as_module or as_script):
        # `python -X ... -m covlens`, or covlens run by another program (a profiler...): its state is not a worker's
        return "covlens is not its own program here, or its interpreter was started with options"
    if sys.gettrace() is not None or sys.getprofile() is not None or _monitored():
        return "a tracer or profiler is attached to the CLI"
    if threading.active_count() != 1:
        return "the CLI runs threads"
    return None


def unavailable(python: str) -> str | None:
    """Why the run's worker cannot be the standby child; None when it can (then `start_worker`)."""
    import os

    if _baseline is None:
        return "the CLI did not import the worker first"
    if _standby is None:
        return _refusal or "the standby child was used or sent away"
    if os.sep not in python:
        import shutil

        python = shutil.which(python) or python
    if os.path.realpath(python) != os.path.realpath(sys.executable):
        return "the tests run under another interpreter"
    return None


def _monitored() -> bool:
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(monitoring.get_tool(tool) is not None for tool in range(6))


def _fork_standby() -> _Standby:
    """Fork the child that waits for the run's job (raises OSError). In the parent: the child's pid and the
    parent's ends of the pipes; in the child: pid 0 and the child's ends.

    It is forked at start-up, so that its tests run about as few frames deep as a spawned worker's: forked from
    deep inside the run, a deeply recursive test crossed the chunks of CPython's frame stack more often (each
    crossing maps and unmaps memory) and ran 5% slower."""
    import os

    from covlens.runner import worker
    from covlens.runner.launch import event_pipe

    opened: list[int] = []
    try:
        job_read, job_write = os.pipe()
        opened += (job_read, job_write)
        event_read, event_write = event_pipe()
        opened += (event_read, event_write)
        output_read, output_write = os.pipe()
        opened += (output_read, output_write)
        if min(opened) < _FIRST_FREE_FD:
            raise OSError("the pipes took the place of stdin, stdout or stderr")  # a CLI started with them closed
        worker.flush_std_streams()  # nothing buffered here may come out of the child too
        pid = os.fork()
    except BaseException:
        for fd in opened:
            os.close(fd)
        raise
    if pid == 0:
        return _Standby(0, job_read, event_write, output_write)
    for fd in (job_read, event_write, output_write):
        os.close(fd)  # the child's ends: EOF comes once it (and all it started) is gone
    return _Standby(pid, job_write, event_read, output_read)


def _stand_by(job_fd: int, event_fd: int, output_fd: int) -> NoReturn:
    """The standby child: its own session at once (as `start_new_session=True` gives a spawned worker; the CLI's
    group kill reaches it, Ctrl-C at the terminal does not), then the job, then the worker's life. An empty job
    (the CLI closed the pipe, or exited) ends it quietly."""
    import json
    import os

    try:
        os.setsid()
        _close_all_but(job_fd, event_fd, output_fd)
        chunks = []
        while chunk := os.read(job_fd, 1 << 16):
            chunks.append(chunk)
        os.close(job_fd)
        if not chunks:
            os._exit(0)
        message = json.loads(b"".join(chunks))
    except BaseException:  # noqa: BLE001 - never back into the CLI's code; the CLI sees the exit
        os._exit(70)
    from covlens.runner import worker

    worker.live_and_exit(_become_worker, message["job"], message["root"], event_fd, output_fd, message["env"],
                         message["path"])


def start_worker(job: dict[str, Any], root: str, env: Mapping[str, str], path_entry: str) -> tuple[int, int, int]:
    """Hand the run to the standby child: its (pid, event read fd, output read fd). Raises OSError (the child is
    then sent away). `env` is the spawned worker's environment, `path_entry` the folder it would find covlens in."""
    import json
    import os

    global _standby
    standby, _standby = _standby, None
    if standby is None:
        raise OSError("no standby child")
    message = json.dumps({"job": job, "root": root, "env": dict(env),
                          "path": _worker_path(root, path_entry)}).encode()
    try:
        view = memoryview(message)
        while view:
            view = view[os.write(standby.job_fd, view):]
    except OSError:
        _send_away(standby)
        raise
    os.close(standby.job_fd)
    return standby.pid, standby.event_fd, standby.output_fd


def dismiss() -> None:
    """Send the standby child away (the run spawns its worker instead)."""
    global _standby
    standby, _standby = _standby, None
    if standby is not None:
        _send_away(standby)


def _send_away(standby: _Standby) -> None:
    import contextlib
    import os

    for fd in (standby.job_fd, standby.event_fd, standby.output_fd):
        with contextlib.suppress(OSError):
            os.close(fd)  # the job pipe's EOF ends it
    with contextlib.suppress(ChildProcessError):
        os.waitpid(standby.pid, 0)


def _worker_path(root: str, path_entry: str) -> list[str]:
    """sys.path as a spawned `python -m covlens.runner.worker` in `root` has it: the cwd (unless PYTHONSAFEPATH),
    then PYTHONPATH — covlens's folder before the user's entries — then the rest, without duplicates (site.py)."""
    head = [] if getattr(sys.flags, "safe_path", False) else [root]
    rest: list[str] = []
    for entry in [path_entry, *sys.path[1:]]:
        if entry not in rest:
            rest.append(entry)
    return head + rest


def _become_worker(job: dict[str, Any], root: str, event_fd: int, output_fd: int, env: dict[str, str],
                   search_path: list[str]) -> int:
    """Turn this process into a spawned worker, then run the job (its pytest exit code)."""
    import os
    import signal

    from covlens.runner import worker

    signal.signal(signal.SIGINT, signal.default_int_handler)  # a spawned worker's: KeyboardInterrupt
    worker.std_streams_to(output_fd)
    _close_all_but(event_fd)
    os.set_inheritable(event_fd, False)  # as in a spawned worker: no subprocess of a test gets it
    os.chdir(root)
    os.environ.clear()
    os.environ.update(env)
    sys.argv[:] = [str(worker.__file__)]
    if hasattr(sys, "orig_argv"):
        sys.orig_argv[:] = [sys.orig_argv[0], "-m", "covlens.runner.worker"]
    sys.path[:] = search_path
    _forget_the_cli(worker)
    stdout = sys.stdout
    if stdout is not None and hasattr(stdout, "reconfigure"):
        stdout.reconfigure(line_buffering=False)  # a pipe now, even if the CLI printed to a terminal
    return worker.run_job(job, event_fd)


def _close_all_but(*keep: int) -> None:
    import os

    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        low = _FIRST_FREE_FD
        for fd in sorted(keep):
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, 1 << 16)
        return
    for fd in open_fds:
        if fd >= _FIRST_FREE_FD and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the listing's own fd, already closed


def _forget_the_cli(worker: types.ModuleType) -> None:
    """sys.modules as a spawned worker has it when it installs its hook: the CLI's own imports forgotten (a test
    importing one imports it afresh, through the hook), and `__main__` the worker module run by `-m`."""
    import types

    assert _baseline is not None
    for name in list(sys.modules):
        if name not in _baseline and name != "__main__":
            del sys.modules[name]
    main = types.ModuleType("__main__")
    main.__file__ = worker.__file__
    main.__spec__ = worker.__spec__
    main.__loader__ = worker.__loader__
    main.__package__ = worker.__package__
    main.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    worker.fresh_import_caches()
