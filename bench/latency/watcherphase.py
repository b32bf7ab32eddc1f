"""The alternative users have today: pytest-watcher (`ptw`) re-running `pytest --cov --cov-report=lcov` on save."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from generate import Function, apply_edit
from lspclient import kill_group

LCOV = "coverage.lcov"  # where `--cov-report=lcov` writes, in the project folder
POLL = 0.01  # seconds between two looks at the LCOV file
# pytest's closing line, e.g. "2000 passed in 27.31s" (with -q) or "==== 3 failed, 1997 passed in 30.2s ====".
SUMMARY = re.compile(r"\b(passed|failed|errors?|skipped|no tests ran)\b.* in [\d.]+s")


@dataclass
class WatchTiming:
    """One edit's timings in seconds from the moment the file was written."""

    number: int
    function: str
    path: str
    line: int
    lcov: float | None = None  # the LCOV file complete again, with the new line hit
    run_end: float | None = None  # pytest's closing line (the process ends right after)
    implausible: int = 0  # complete LCOV files written after the save without the new line hit
    error: str | None = None


@dataclass
class WatchResult:
    command: list[str] = field(default_factory=list)
    first_run: dict[str, Any] = field(default_factory=dict)
    edits: list[WatchTiming] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LcovVersion:
    at: float  # when this complete file was first seen
    text: str


def line_hit(lcov: str, path: str, line: int) -> bool:
    """Does the LCOV text say 1-based `line` of the file ending with `path` ran at least once?"""
    record = None
    for row in lcov.splitlines():
        if row.startswith("SF:"):
            record = row[3:].replace("\\", "/").endswith(path)
        elif record and row.startswith(f"DA:{line},"):
            return int(row.split(",")[1]) > 0
    return False


class Watcher:
    """ptw as a subprocess: its output lines and the complete versions of the LCOV file, timestamped."""

    def __init__(self, command: list[str], project: Path, env: dict[str, str], log: TextIO) -> None:
        self.command, self.project, self.env, self.log = command, project, env, log
        self.lines: list[tuple[float, str]] = []
        self.versions: list[LcovVersion] = []
        self.records: int | None = None  # SF records of a complete file, learnt from the first run
        self.proc: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Future[Any]] = []

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.command, cwd=str(self.project), env=self.env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        self._tasks = [asyncio.ensure_future(self._read()), asyncio.ensure_future(self._poll())]

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            raw = await self.proc.stdout.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append((time.perf_counter(), line))
            self.log.write(line + "\n")

    async def _poll(self) -> None:
        """Record each complete version of the LCOV file (coverage.py writes it in pieces, not atomically)."""
        path = self.project / LCOV
        seen: tuple[int, int] | None = None
        while True:
            with contextlib.suppress(OSError):
                st = path.stat()
                if (st.st_mtime_ns, st.st_size) != seen:
                    text = path.read_text(errors="replace")
                    if self._complete(text):
                        seen = (st.st_mtime_ns, st.st_size)
                        self.versions.append(LcovVersion(time.perf_counter(), text))
            await asyncio.sleep(POLL)

    def _complete(self, text: str) -> bool:
        if not text.endswith("end_of_record\n"):
            return False
        return self.records is None or text.count("\nSF:") + text.startswith("SF:") == self.records

    def summaries_after(self, t: float) -> list[float]:
        return [at for at, line in self.lines if at > t and SUMMARY.search(line)]

    async def wait(self, condition: Any, timeout: float, what: str) -> None:
        deadline = time.perf_counter() + timeout
        while not condition():
            if self.proc is not None and self.proc.returncode is not None:
                raise TimeoutError(f"waiting for {what}: ptw exited with {self.proc.returncode}")
            if time.perf_counter() > deadline:
                raise TimeoutError(f"waiting for {what}: not within {timeout:.0f} s")
            await asyncio.sleep(POLL)

    async def settle(self, quiet: float, timeout: float) -> None:
        """Until ptw has printed nothing for `quiet` seconds (a run prints a dot per test)."""
        deadline = time.perf_counter() + timeout
        while True:
            last = self.lines[-1][0] if self.lines else 0.0
            if time.perf_counter() - last >= quiet:
                return
            if time.perf_counter() > deadline:
                raise TimeoutError(f"ptw still busy after {timeout:.0f} s")
            await asyncio.sleep(min(quiet, 0.1))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.proc is not None:
            kill_group(self.proc.pid)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 10)


@dataclass
class WatcherPhase:
    venv_bin: Path
    project: Path
    package: str
    env: dict[str, str]
    edits: list[Function]
    timeout: float
    quiet: float
    log: TextIO
    say: Any = print

    def command(self) -> list[str]:
        # `--patterns **/*.py`: since watchdog 7 matches whole paths, ptw's default `*.py` matches no file in a
        # folder (watchdog#1101), so ptw would never re-run. (ptw 0.6.3 also ignores --delay: it starts a run at
        # its next 0.1 s poll after an event.)
        return [str(self.venv_bin / "ptw"), "--now", "--patterns", "**/*.py", "--runner",
                str(self.venv_bin / "pytest"), ".", f"--cov={self.package}", "--cov-report=lcov", "-q"]

    async def run(self) -> WatchResult:
        result = WatchResult(command=self.command())
        (self.project / LCOV).unlink(missing_ok=True)
        env = dict(self.env, PYTHONUNBUFFERED="1")  # pytest's dots and closing line reach us as they are printed
        watcher = Watcher(result.command, self.project, env, self.log)
        await watcher.start()
        try:
            await self._drive(watcher, result)
        except (TimeoutError, OSError, ValueError) as exc:
            result.errors.append(f"{type(exc).__name__}: {exc}")
            self.say(f"watcher phase failed: {exc}")
        finally:
            await watcher.stop()
        return result

    async def _drive(self, watcher: Watcher, result: WatchResult) -> None:
        started = time.perf_counter()
        await watcher.wait(lambda: bool(watcher.summaries_after(started)), self.timeout, "the first run (--now)")
        lcov = self.project / LCOV
        if not lcov.is_file():
            raise ValueError(f"the first run wrote no {LCOV}; see the ptw log")
        first = lcov.read_text(errors="replace")  # complete: pytest has printed its closing line
        watcher.records = first.count("\nSF:") + first.startswith("SF:")
        result.first_run = {"seconds": watcher.summaries_after(started)[0] - started, "records": watcher.records}
        self.say(f"ptw: first run in {result.first_run['seconds']:.1f} s ({watcher.records} files in the LCOV)")
        await watcher.settle(self.quiet, self.timeout)
        for number, function in enumerate(self.edits, start=1):
            timing = await self._edit(watcher, number, function)
            result.edits.append(timing)
            self.say(f"ptw: edit {number}/{len(self.edits)} {function.name}: LCOV "
                     f"{_fmt(timing.lcov)}, pytest end {_fmt(timing.run_end)}"
                     f"{' ' + timing.error if timing.error else ''}")

    async def _edit(self, watcher: Watcher, number: int, function: Function) -> WatchTiming:
        path = self.project / function.path
        new_text, line = apply_edit(path.read_text(), function, number)
        timing = WatchTiming(number, function.name, function.path, line)
        known = len(watcher.versions)
        saved = time.perf_counter()
        path.write_text(new_text)

        def fresh() -> bool:
            nonlocal known
            while known < len(watcher.versions):
                version = watcher.versions[known]
                known += 1
                if version.at <= saved:
                    continue
                if line_hit(version.text, function.path, line + 1):
                    timing.lcov = version.at - saved
                    return True
                timing.implausible += 1
            return False

        try:
            await watcher.wait(fresh, self.timeout, f"a fresh LCOV for {function.path}")
            await watcher.wait(lambda: bool(watcher.summaries_after(saved)), self.timeout, "pytest's closing line")
            timing.run_end = watcher.summaries_after(saved)[0] - saved
            await watcher.settle(self.quiet, self.timeout)
        except TimeoutError as exc:
            timing.error = str(exc)
            with contextlib.suppress(TimeoutError):
                await watcher.settle(self.quiet, self.timeout)
        return timing


def _fmt(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds:.2f} s"
