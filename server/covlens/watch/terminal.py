"""`covlens watch`: the observer feeds the scheduler; every run ends with a one-screen summary in the terminal."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from covlens.config import Config, ConfigError, load
from covlens.model import RunResult
from covlens.progress import Progress
from covlens.report import coverage_table, failures_text, summary_line
from covlens.store import ProjectCoverage, Store
from covlens.watch.observer import ProjectObserver
from covlens.watch.scheduler import RunEnded, RunRequest, Scheduler


def screen(project: ProjectCoverage, result: RunResult | None, request: RunRequest, height: int) -> str:
    """A summary that fits `height` lines: run line, failures (first few), the worst-covered modules, TOTAL."""
    head = [f"covlens watch · run {request.number}"
            + (f" · {len(request.changed)} file(s) changed" if request.changed else "")
            + (" · stale (last run did not complete)" if project.stale else ""),
            summary_line(result.summary if result else project.last_run), ""]
    fails = failures_text(result.outcomes if result else project.tests.values(), project.root).splitlines()
    budget = max(height - len(head) - 4, 6)
    if fails:
        shown = fails[: max(budget // 3, 3)]
        if len(shown) < len(fails):
            shown.append(f"... ({len(fails) - len(shown)} more lines of failures: `covlens report`)")
        head += shown + [""]
    room = max(height - len(head) - 7, 3)  # header, 2 rules, TOTAL, "not listed", "more", footer
    table = coverage_table(project, max_rows=room).splitlines()
    return "\n".join(head + table + ["", "watching for changes · Ctrl-C to stop"])


async def watch_async(config: Config, *, debounce: float, out: TextIO, pytest_args: Sequence[str] = (),
                      stop: asyncio.Event | None = None, max_runs: int | None = None) -> int:
    """Run once, then again on every change until `stop` is set (or SIGINT, or `max_runs` runs ended)."""
    from covlens.runner.session import Session

    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    store = Store(config.root)
    tty = out.isatty()
    session_holder: dict[str, Session] = {}
    ended_runs = 0

    async def run(request: RunRequest) -> RunResult:
        nonlocal config
        try:
            config = load(config.root)
        except ConfigError as exc:  # keep watching with the last good configuration
            print(f"covlens: invalid configuration, keeping the previous one: {exc}", file=out)
        session = Session(config, python=sys.executable)
        session_holder["current"] = session
        progress = Progress(out, tty=tty)
        try:
            return await session.run(selection=request.selection, on_event=progress.on_event, pytest_args=pytest_args)
        finally:
            progress.finish()

    def cancel() -> None:
        session = session_holder.get("current")
        if session is not None:
            session.cancel()

    def on_ended(ended: RunEnded[RunResult]) -> None:
        nonlocal ended_runs
        ended_runs += 1
        if ended.result is not None:
            store.record(ended.result, partial=bool(pytest_args))
        if ended.superseded:
            print(f"run {ended.request.number} cancelled: files changed", file=out)
        elif ended.error is not None and not isinstance(ended.error, asyncio.CancelledError):
            print(f"covlens: run {ended.request.number} failed: {ended.error}", file=out)
        else:
            height = shutil.get_terminal_size((100, 40)).lines if tty else 10_000
            if tty:
                out.write("\x1b[2J\x1b[H")  # a fresh screen for each summary
            print(screen(store.project(), ended.result, ended.request, height), file=out)
        out.flush()
        if max_runs is not None and ended_runs >= max_runs:
            stop.set()

    scheduler: Scheduler[RunResult] = Scheduler(run, debounce=debounce, cancel=cancel, on_ended=on_ended)
    observer = ProjectObserver(config.root, scheduler.notify_changed_threadsafe)
    observer.start()
    if os.name == "posix":
        try:
            loop.add_signal_handler(signal.SIGINT, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    try:
        scheduler.run_now()
        await stop.wait()
    finally:
        observer.stop()
        await scheduler.close()
        if os.name == "posix":
            try:
                loop.remove_signal_handler(signal.SIGINT)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
    print("covlens watch: stopped", file=out)
    return 0


def watch(config: Config, *, debounce: float, out: TextIO, pytest_args: Sequence[str] = ()) -> int:
    """`covlens watch` entry: blocks until Ctrl-C."""
    return asyncio.run(watch_async(config, debounce=debounce, out=out, pytest_args=pytest_args))
