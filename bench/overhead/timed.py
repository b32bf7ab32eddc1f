"""One command run to its end under a timeout, with its wall and CPU time (user+sys of its process tree)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Timed:
    wall: float  # seconds
    cpu: float  # seconds of user + system time, the command and everything it started
    returncode: int  # -9 when it was killed at the timeout


def run_timed(command: list[str], cwd: Path, env: Mapping[str, str], log: Path, timeout: float) -> Timed:
    """Run `command` in `cwd` with its output in `log` (after a `$ command` line), in a session of its own so that
    a hang is killed with everything it started."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with log.open("w") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        proc = subprocess.Popen(command, cwd=cwd, env=dict(env), stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = -9
            handle.write(f"\nbench: killed after {timeout:.0f} s\n")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timed(wall, cpu, code)
