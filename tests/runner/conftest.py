"""Helpers for the runner tests: run a fixture project under tests/fixtures/runner through a real Session."""

from __future__ import annotations

import asyncio
import os
import select
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from covlens import config as config_mod
from covlens.model import RunResult, TestOutcome
from covlens.runner import events as ev
from covlens.runner.blocking import BlockingRun
from covlens.runner.session import Session

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runner"


@dataclass
class Ran:
    """A finished run of a fixture project, with the events it streamed."""

    result: RunResult
    events: list[ev.Event] = field(default_factory=list)
    root: Path = Path()

    @property
    def state(self) -> str:
        return self.result.summary.state

    def outcome(self, nodeid: str) -> TestOutcome:
        found = [o for o in self.result.outcomes if o.nodeid == nodeid]
        assert found, f"no outcome for {nodeid}; have {[o.nodeid for o in self.result.outcomes]}"
        return found[0]

    def outcomes(self) -> dict[str, str]:
        return {o.nodeid: o.outcome for o in self.result.outcomes}

    def path(self, relative: str) -> str:
        return str(self.root / relative)

    def lines(self, relative: str, context: str | None = None) -> set[int]:
        """Lines of `relative` executed in `context` (a nodeid or ""), or in any context when None."""
        path = self.path(relative)
        contexts = [context] if context is not None else list(self.result.hits)
        out: set[int] = set()
        for ctx in contexts:
            out |= set(self.result.hits.get(ctx, {}).get(path, ()))
        return out

    def decision(self, module: str) -> Any:
        found = [d for d in self.result.decisions if d.module == module]
        assert found, f"no decision for {module}"
        return found[0]

    def worker_pids(self) -> list[int]:
        return [e.pid for e in self.events if isinstance(e, ev.WorkerStarted)]


async def _run_warm(name: str, selection: Iterable[str] | None, pytest_args: Iterable[str], on_event: Any,
                    overrides: dict[str, Any]) -> Ran:
    """A run forked from a warm worker of its own, which must really have served it, outlive whatever its child
    did, and leave no process behind once closed."""
    from covlens.runner.warm import WarmWorker

    warm = WarmWorker(sys.executable, FIXTURES / name)
    try:
        ran = await run_fixture(name, selection, pytest_args=pytest_args, on_event=on_event,
                                session=Session(fixture_config(name, **overrides), warm=warm))
        assert warm.forks == 1, "the run was not forked from the warm worker (it fell back to a cold one)"
        assert warm.pid is not None and not process_gone(warm.pid, timeout=0.0), "the warm worker died with its child"
    finally:
        pids = [p.pid for p in list(warm._processes)]
        await warm.close()
    assert all(process_gone(pid) for pid in pids)
    return ran


def fixture_config(name: str, **overrides: Any) -> config_mod.Config:
    config = config_mod.load(FIXTURES / name)
    return config.with_overrides(**overrides) if overrides else config


# The drivers of a run: Session on the event loop (the server), the same with each run forked from its warm worker
# (the server's default, POSIX), and BlockingRun in a thread of its own (the CLI).
DRIVERS = ("session", "warm", "blocking") if hasattr(os, "fork") else ("session", "blocking")


async def run_fixture(name: str, selection: Iterable[str] | None = None, *, pytest_args: Iterable[str] = (),
                      session: Session | None = None, on_event: Any = None, driver: str = "session",
                      **overrides: Any) -> Ran:
    overrides.setdefault("timeout", 60.0)
    events: list[ev.Event] = []
    if driver == "blocking":
        assert session is None, "a BlockingRun has no session"

        def note(event: ev.Event) -> None:
            events.append(event)
            if on_event is not None:
                on_event(event)

        run = BlockingRun(fixture_config(name, **overrides), on_event=note,
                          pytest_args=[*pytest_args, *(selection or ())])
        return Ran(await asyncio.to_thread(run.run), events, FIXTURES / name)
    if driver == "warm":
        assert session is None, "the warm driver makes its own session"
        return await _run_warm(name, selection, pytest_args, on_event, overrides)
    session = session or Session(fixture_config(name, **overrides))

    async def record(event: ev.Event) -> None:
        events.append(event)
        if on_event is not None:
            on_event(event)

    result = await session.run(selection, record, pytest_args=pytest_args)
    return Ran(result, events, FIXTURES / name)


def process_gone(pid: int, timeout: float = 10.0) -> bool:
    """True once `pid` is no longer running (exited or a zombie), waiting on a pidfd rather than sleeping."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


@pytest.fixture
def pidfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "child.pid"
    monkeypatch.setenv("COVLENS_FIXTURE_PIDFILE", str(path))
    return path


@pytest.fixture(scope="session")
def basic() -> Ran:
    """One serial run of the `basic` project, shared by the tests that only read it."""
    return asyncio.run(run_fixture("basic"))
