"""Starting a cold worker, with or without an event loop: its command, environment, job file and pipes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any

import covlens
from covlens.runner.worker import EVENT_FD_ENV, JOB_ENV

_ENCLOSING_PYTEST_ENV = ("PYTEST_XDIST_", "PYTEST_CURRENT_TEST")
# Linux lets an unprivileged process grow a pipe to 1 MiB (fs.pipe-max-size): room for the events a worker writes
# while the reader lets them gather rather than waking for each line.
PIPE_SIZE = 1 << 20  # also what a reader asks for at once: one read takes all that gathered
# How long a reader lets a running worker's events gather before it reads them all at once.
GATHER_SECONDS = 0.025
# Once the worker is gone and its process group killed, the pipes reach EOF at once. Only a process that escaped
# the group (setsid) can hold them open: give up on it after this long without any data.
PIPE_GRACE = 2.0


def worker_command(python: str) -> list[str]:
    return [python, "-m", "covlens.runner.worker"]


def worker_env(event_fd: int, job_path: str) -> dict[str, str]:
    env = worker_base_env(os.environ)
    env[EVENT_FD_ENV] = str(event_fd)
    env[JOB_ENV] = job_path
    return env


def worker_base_env(environ: Mapping[str, str], import_path: str | None = None) -> dict[str, str]:
    """The environment of every test process (cold worker or warm worker): `environ`, covlens importable (from
    `import_path`, by default `covlens_import_path()`)."""
    # Leftovers of an enclosing pytest (covlens's own tests run under xdist) would confuse the worker's pytest.
    env = {k: v for k, v in environ.items() if not k.startswith(_ENCLOSING_PYTEST_ENV)}
    path = import_path or covlens_import_path()
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
    import hashlib  # only for an installed covlens: not worth its import time in every CLI run
    import tempfile

    digest = hashlib.sha1(package.encode()).hexdigest()[:12]
    shim = os.path.join(tempfile.gettempdir(), f"covlens-path-{os.getuid() if hasattr(os, 'getuid') else 0}-{digest}")
    link = os.path.join(shim, "covlens")
    if not os.path.islink(link):
        os.makedirs(shim, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.symlink(package, link)
    return shim


def write_job(job: dict[str, Any]) -> str:
    """The job as a temporary JSON file the worker reads (the caller unlinks it once the worker is gone)."""
    import tempfile  # here: a forked run (the usual one) sends its job down a pipe, and tempfile costs ~4 ms

    fd, job_path = tempfile.mkstemp(prefix="covlens-job-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(job, handle)
    return job_path


def event_pipe() -> tuple[int, int]:
    """(read end, write end) of a new event pipe, made as large as the system allows an unprivileged process."""
    read_fd, write_fd = os.pipe()
    if sys.platform.startswith("linux"):
        import fcntl

        with contextlib.suppress(OSError):  # beyond the limit, or an old kernel: the default 64 KiB will do
            fcntl.fcntl(write_fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
    return read_fd, write_fd


def kill_group(pid: int | None) -> None:
    """SIGKILL the process group `pid` leads: the worker and everything it started (forks, xdist workers)."""
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


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


def unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
