"""A cold worker forked from `covlens run` itself: the interpreter and the worker's own imports are paid once.

A spawned worker starts an interpreter and imports covlens's worker (its config, events, dataclasses, inspect...)
before it installs the hook: about 50 ms of CPU that `covlens run` has just spent on the very same things. When
the CLI is its own program (`python -m covlens run` or the `covlens` script, without interpreter options) it
imports the worker before anything else (`prepare`), and its run forks a child that turns itself into that spawned
worker: the modules the CLI imported after the worker are forgotten; cwd, argv, sys.path, the environment, the
SIGINT handler, stdin/stdout/stderr and the open file descriptors are the spawned worker's; then the same
`worker.run_job` runs. Whenever that is not possible (`unavailable` says why) the run spawns, as before.
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


def prepare() -> None:
    """Import what a spawned worker imports before its hook, ahead of everything else the CLI imports."""
    global _baseline
    if _baseline is not None:
        return
    import runpy  # noqa: F401 - a worker started with `-m` has it

    from covlens.runner import worker  # noqa: F401

    _baseline = frozenset(sys.modules) - _ENTRY_ONLY


def unavailable(python: str) -> str | None:
    """Why this process cannot fork the run's worker; None when it can."""
    import os
    import threading

    if _baseline is None:
        return "the CLI did not import the worker first"
    if os.environ.get(NO_FORK_ENV, "") not in ("", "1"):
        return f"{NO_FORK_ENV}={os.environ[NO_FORK_ENV]} in the environment"
    if os.name != "posix" or not hasattr(os, "fork"):
        return "this system has no fork"
    if os.sep not in python:
        import shutil

        python = shutil.which(python) or python
    if os.path.realpath(python) != os.path.realpath(sys.executable):
        return "the tests run under another interpreter"
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


def _monitored() -> bool:
    monitoring = getattr(sys, "monitoring", None)
    return monitoring is not None and any(monitoring.get_tool(tool) is not None for tool in range(6))


def fork_worker(job: dict[str, Any], root: str, event_fd: int, output_fd: int, env: Mapping[str, str],
                path_entry: str) -> int:
    """Fork the run's worker and return its pid (raises OSError). The child never returns.

    `env` is the spawned worker's environment, `path_entry` the folder it would find covlens in.
    """
    import os

    from covlens.runner import worker

    if min(event_fd, output_fd) < _FIRST_FREE_FD:
        raise OSError("the pipes took the place of stdin, stdout or stderr")  # a CLI started with them closed
    search_path = _worker_path(root, path_entry)
    worker.flush_std_streams()  # nothing buffered here may come out of the child too
    pid = os.fork()
    if pid == 0:
        _become_worker(job, root, event_fd, output_fd, dict(env), search_path)
    return pid


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
                   search_path: list[str]) -> NoReturn:
    import os
    import signal

    from covlens.runner import worker

    def life() -> int:
        os.setsid()  # its own session and process group, as `start_new_session=True` gives a spawned one
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the CLI's handler cancels runs: not here
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
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

    worker.live_and_exit(life)


def _close_all_but(keep: int) -> None:
    import os

    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        os.closerange(_FIRST_FREE_FD, keep)
        os.closerange(keep + 1, 1 << 16)
        return
    for fd in open_fds:
        if fd >= _FIRST_FREE_FD and fd != keep:
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
