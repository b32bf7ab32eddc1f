"""Values that cross rooms: test outcomes, per-file coverage, run summaries (frozen, JSON-friendly)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from covlens.instrument.decision import Decision

# Test outcomes, as pytest names them.
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")

# Run states.
RUNNING = "running"
COMPLETE = "complete"  # the run ended normally (tests may have failed)
CANCELLED = "cancelled"
TIMEOUT = "timeout"
CRASHED = "crashed"  # the worker died (segfault, os._exit, killed) before finishing
ERROR = "error"  # the run could not start (bad config, missing interpreter, ...)
RUN_STATES = (RUNNING, COMPLETE, CANCELLED, TIMEOUT, CRASHED, ERROR)


@dataclass(frozen=True)
class Location:
    """A place in a file: absolute path and 1-based line."""

    path: str
    line: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Location | None:
        return None if data is None else cls(str(data["path"]), int(data["line"]))


@dataclass(frozen=True)
class TestOutcome:
    """One test's result: outcome, duration, and for failures where it failed (in the test, deepest in project code)."""

    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: str
    duration: float = 0.0
    path: str | None = None  # absolute path of the test's file
    line: int | None = None  # 1-based line of the test function
    message: str | None = None
    failure: Location | None = None  # the failing line inside the test
    deepest: Location | None = None  # the deepest frame inside the project's own (non-test) code

    def to_json(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid, "outcome": self.outcome, "duration": self.duration, "path": self.path,
            "line": self.line, "message": self.message,
            "failure": self.failure.to_json() if self.failure else None,
            "deepest": self.deepest.to_json() if self.deepest else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TestOutcome:
        return cls(
            nodeid=str(data["nodeid"]), outcome=str(data["outcome"]), duration=float(data.get("duration", 0.0)),
            path=data.get("path"), line=data.get("line"), message=data.get("message"),
            failure=Location.from_json(data.get("failure")), deepest=Location.from_json(data.get("deepest")),
        )


@dataclass(frozen=True)
class FileCoverage:
    """One file's coverage: its decision, statements, executed/excluded lines (1-based) and per-line test counts."""

    path: str
    module: str
    decision: Decision
    statements: frozenset[int] = frozenset()
    executed: frozenset[int] = frozenset()
    excluded: frozenset[int] = frozenset()
    partial: frozenset[int] = frozenset()
    hits: Mapping[int, int] = field(default_factory=dict)  # line -> number of tests that ran it

    @property
    def missing(self) -> frozenset[int]:
        return self.statements - self.executed

    @property
    def covered(self) -> frozenset[int]:
        return self.statements & self.executed

    @property
    def percent(self) -> float:
        if not self.statements:
            return 100.0
        return 100.0 * len(self.covered) / len(self.statements)


@dataclass(frozen=True)
class RunSummary:
    """One run of the tests: its state, counts per outcome, and a human message."""

    run_id: str
    state: str
    started: float
    finished: float | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    total: int | None = None  # tests collected, when known
    exit_code: int | None = None
    message: str = ""
    engine: str | None = None
    selection: tuple[str, ...] | None = None  # None = all tests

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "state": self.state, "started": self.started, "finished": self.finished,
            "counts": dict(self.counts), "total": self.total, "exit_code": self.exit_code, "message": self.message,
            "engine": self.engine, "selection": list(self.selection) if self.selection is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunSummary:
        sel = data.get("selection")
        return cls(
            run_id=str(data["run_id"]), state=str(data["state"]), started=float(data["started"]),
            finished=data.get("finished"), counts=dict(data.get("counts") or {}), total=data.get("total"),
            exit_code=data.get("exit_code"), message=str(data.get("message", "")), engine=data.get("engine"),
            selection=tuple(sel) if sel is not None else None,
        )


@dataclass(frozen=True)
class FileLines:
    """The line facts of one measured file, as the worker computed them: statements and excluded lines (1-based)."""

    path: str
    module: str
    statements: frozenset[int]
    excluded: frozenset[int]

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "module": self.module, "statements": sorted(self.statements),
                "excluded": sorted(self.excluded)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileLines:
        return cls(str(data["path"]), str(data["module"]), frozenset(data["statements"]), frozenset(data["excluded"]))


# The context of lines run outside any test (imports during collection, session fixtures' set-up).
COLLECTION_CONTEXT = ""


@dataclass(frozen=True)
class RunResult:
    """Everything one run produced, complete or not: what was streamed before a crash or cancel is kept."""

    summary: RunSummary
    decisions: tuple[Decision, ...] = ()
    outcomes: tuple[TestOutcome, ...] = ()
    # context (a test's nodeid, or COLLECTION_CONTEXT) -> path -> executed lines (1-based, as coverage.py reports them)
    hits: Mapping[str, Mapping[str, frozenset[int]]] = field(default_factory=dict)
    files: Mapping[str, FileLines] = field(default_factory=dict)
    output: str = ""  # the tail of the worker's stdout/stderr, for the user when something went wrong
