"""The worker -> session wire events: frozen values, one JSON object per line (see docs/runner.md)."""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

from covlens.instrument.decision import Decision
from covlens.model import FileLines, Location, TestOutcome

# Bumped whenever a field changes meaning; the session refuses lines of another version.
WIRE_VERSION = 1

Hits = Mapping[str, frozenset[int]]  # path -> executed lines (1-based)


def hits_to_json(hits: Hits) -> dict[str, list[int]]:
    return {path: sorted(lines) for path, lines in sorted(hits.items())}


def hits_from_json(data: Mapping[str, Any] | None) -> dict[str, frozenset[int]]:
    return {str(path): frozenset(map(int, lines)) for path, lines in (data or {}).items()}


@dataclass(frozen=True)
class WorkerStarted:
    """A test process is up and its import hook is installed (`engine` is None when the hook could not be)."""

    kind: ClassVar[str] = "worker-started"
    pid: int
    python: str  # sys.version of the project's interpreter
    engine: str | None
    worker: str = "main"  # "main", or the pytest-xdist worker id ("gw0", ...)

    def _fields(self) -> dict[str, Any]:
        return {"pid": self.pid, "python": self.python, "engine": self.engine, "worker": self.worker}

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> WorkerStarted:
        return cls(int(d["pid"]), str(d["python"]), d.get("engine"), str(d.get("worker", "main")))


@dataclass(frozen=True)
class DecisionMade:
    """The instrumenter decided what to do with one module (streamed as the import happens)."""

    kind: ClassVar[str] = "decision"
    decision: Decision

    def _fields(self) -> dict[str, Any]:
        d = self.decision
        # Decision.to_json() is dataclasses.asdict, which deep-copies field by field: the worker sends hundreds.
        return {"decision": {"module": d.module, "path": d.path, "action": d.action, "reason": d.reason,
                             "detail": d.detail, "rule": d.rule}}

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> DecisionMade:
        return cls(Decision.from_json(dict(d["decision"])))


@dataclass(frozen=True)
class FilesMeasured:
    """Statements and excluded lines of the files measured since the last such event (at the end: not-imported too)."""

    kind: ClassVar[str] = "files"
    files: tuple[FileLines, ...]

    def _fields(self) -> dict[str, Any]:
        return {"files": [f.to_json() for f in self.files]}

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> FilesMeasured:
        return cls(tuple(FileLines.from_json(f) for f in d["files"]))


@dataclass(frozen=True)
class Collected:
    """Collection finished: how many tests will run."""

    kind: ClassVar[str] = "collected"
    total: int

    def _fields(self) -> dict[str, Any]:
        return {"total": self.total}

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> Collected:
        return cls(int(d["total"]))


@dataclass(frozen=True)
class TestStarted:
    """A test's set-up is about to start (its hits are counted from here to its teardown's end)."""

    __test__ = False
    kind: ClassVar[str] = "test-started"
    nodeid: str
    path: str | None = None
    line: int | None = None
    worker: str = "main"

    def _fields(self) -> dict[str, Any]:
        return {"nodeid": self.nodeid, "path": self.path, "line": self.line, "worker": self.worker}

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> TestStarted:
        return cls(str(d["nodeid"]), d.get("path"), d.get("line"), str(d.get("worker", "main")))


@dataclass(frozen=True)
class TestFinished:
    """A test (or a collector that failed to collect) finished: its outcome and the lines it ran."""

    __test__ = False
    kind: ClassVar[str] = "test-finished"
    outcome: TestOutcome
    hits: Hits = field(default_factory=dict)
    worker: str = "main"

    def _fields(self) -> dict[str, Any]:
        return {"outcome": self.outcome.to_json(), "hits": hits_to_json(self.hits), "worker": self.worker}

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> TestFinished:
        return cls(TestOutcome.from_json(d["outcome"]), hits_from_json(d.get("hits")), str(d.get("worker", "main")))


@dataclass(frozen=True)
class ContextHits:
    """Lines run outside any test (imports at collection, between tests, session teardown), in `context`."""

    kind: ClassVar[str] = "context-hits"
    context: str
    hits: Hits

    def _fields(self) -> dict[str, Any]:
        return {"context": self.context, "hits": hits_to_json(self.hits)}

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> ContextHits:
        return cls(str(d["context"]), hits_from_json(d.get("hits")))


@dataclass(frozen=True)
class Notice:
    """Something the user should know that did not stop the run (e.g. the hook could not be installed)."""

    kind: ClassVar[str] = "notice"
    message: str

    def _fields(self) -> dict[str, Any]:
        return {"message": self.message}

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> Notice:
        return cls(str(d["message"]))


@dataclass(frozen=True)
class WorkerFailed:
    """The worker could not run the tests at all (no pytest, unreadable job); the run ends in state ERROR."""

    kind: ClassVar[str] = "worker-failed"
    message: str

    def _fields(self) -> dict[str, Any]:
        return {"message": self.message}

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> WorkerFailed:
        return cls(str(d["message"]))


@dataclass(frozen=True)
class RunFinished:
    """pytest returned; everything was reported. The last event of a run that ended normally."""

    kind: ClassVar[str] = "run-finished"
    exit_code: int
    message: str = ""

    def _fields(self) -> dict[str, Any]:
        return {"exit_code": self.exit_code, "message": self.message}

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> RunFinished:
        return cls(int(d["exit_code"]), str(d.get("message", "")))


Event = Union[WorkerStarted, DecisionMade, FilesMeasured, Collected, TestStarted, TestFinished, ContextHits, Notice,
              WorkerFailed, RunFinished]

EVENT_TYPES: dict[str, type[Any]] = {
    t.kind: t
    for t in (WorkerStarted, DecisionMade, FilesMeasured, Collected, TestStarted, TestFinished, ContextHits, Notice,
              WorkerFailed, RunFinished)
}


class WireError(ValueError):
    """A line on the event pipe that is not a covlens event of this version."""


def _compact_encoder() -> Callable[[Any], str]:
    """json.dumps(obj, separators=(",", ":")), minus the encoder objects that call builds every time."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator (not CPython): the plain way
        return json.JSONEncoder(separators=(",", ":")).encode
    # The arguments of JSONEncoder.iterencode for those settings; markers=None skips the cycle check (events are trees).
    iterencode = make(None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None, ":", ",",
                      False, False, True)

    def encode(obj: Any) -> str:
        return "".join(iterencode(obj, 0))

    return encode


_encode = _compact_encoder()
_decode = json.JSONDecoder().raw_decode
_space = json.decoder.WHITESPACE.match


def to_line(event: Event) -> str:
    """The event as one line of JSON (no trailing newline; nothing inside it is a newline)."""
    return _encode({"v": WIRE_VERSION, "event": event.kind, **event._fields()})


# The two events every test sends, written without building the event and its dicts first: to_line's result,
# character for character (tests/runner/test_runner_events.py holds them to it). In the worker, between tests, a
# TestFinished line took 12 us through to_line and takes 8 us this way (boltons, contexts off).
_string = json.encoder.encode_basestring_ascii  # what the encoder above writes a str with


def _opt_string(value: str | None) -> str:
    return "null" if value is None else _string(value)


def _opt_int(value: int | None) -> str:
    return "null" if value is None else int.__repr__(value)


def _location(place: Location | None) -> str:
    return "null" if place is None else f'{{"path":{_string(place.path)},"line":{int.__repr__(place.line)}}}'


# A test's node id goes out twice (started, then finished) and its file's path with every test of that file: each is
# encoded once. The rest of `_encoded` is a run's test files, its workers' names and the decisions' few codes and
# shared details; the cap only guards a pathological run.
_encoded: dict[str, str] = {}
_SHARED_DETAILS = frozenset({"stdlib", "third-party"})  # "part of Python's standard library", "installed in <folder>"
_last_nodeid = [("", '""')]  # one (node id, its JSON) pair, replaced whole: a reader never sees half of one


def _repeated(value: str | None) -> str:
    if value is None:
        return "null"
    text = _encoded.get(value)
    if text is None:
        if len(_encoded) >= 4096:
            _encoded.clear()
        text = _encoded[value] = _string(value)
    return text


def _nodeid(value: str) -> str:
    pair = _last_nodeid[0]
    if pair[0] != value:
        pair = _last_nodeid[0] = (value, _string(value))
    return pair[1]


_line_texts: list[str] = []  # str(n) at index n, grown as line numbers need it
_LINE_TEXTS_MAX = 100_000  # beyond it (a generated file?), str() each time rather than hold a string per line


def _hits(hits: Hits) -> str:
    """_encode(hits_to_json(hits)), character for character, for a test's hits (one finished line per test, with
    contexts on): each path's JSON and each line number's text are made once per process, not once per test."""
    texts = _line_texts
    parts = []
    for path in sorted(hits):
        lines = sorted(hits[path])
        text: Callable[[int], str] = texts.__getitem__
        if lines and (lines[0] < 0 or lines[-1] >= len(texts)):
            if lines[0] < 0 or lines[-1] >= _LINE_TEXTS_MAX:
                text = str
            else:
                texts.extend(map(str, range(len(texts), lines[-1] + 1)))
        parts.append(f"{_repeated(path)}:[{','.join(map(text, lines))}]")
    return "{" + ",".join(parts) + "}"


def decision_line(d: Decision) -> str:
    """to_line(DecisionMade(d)): one per import, hundreds per run. Its action, reason and rule come from short lists,
    and so does the detail of the most common ones (every stdlib module has the same): each is encoded once."""
    detail = _repeated(d.detail) if d.reason in _SHARED_DETAILS else _string(d.detail)
    return (f'{{"v":{WIRE_VERSION},"event":"decision","decision":{{"module":{_string(d.module)},'
            f'"path":{_opt_string(d.path)},"action":{_repeated(d.action)},"reason":{_repeated(d.reason)},'
            f'"detail":{detail},"rule":{_repeated(d.rule)}}}}}')


def test_started_line(nodeid: str, path: str | None, line: int | None, worker: str) -> str:
    """to_line(TestStarted(nodeid, path, line, worker))."""
    return (f'{{"v":{WIRE_VERSION},"event":"test-started","nodeid":{_nodeid(nodeid)},"path":{_repeated(path)},'
            f'"line":{_opt_int(line)},"worker":{_repeated(worker)}}}')


def finished_line(nodeid: str, outcome: str, duration: float, path: str | None, line: int | None,
                  message: str | None, failure: Location | None, deepest: Location | None, hits: Hits,
                  worker: str) -> str:
    """to_line(TestFinished(TestOutcome(nodeid, outcome, ...), hits, worker)), without building the TestOutcome: the
    worker's plugin sends one per test, and a frozen dataclass of eight fields costs as much as the rest of the line."""
    return (f'{{"v":{WIRE_VERSION},"event":"test-finished","outcome":{{"nodeid":{_nodeid(nodeid)},'
            f'"outcome":{_string(outcome)},"duration":{_encode(duration)},"path":{_repeated(path)},'
            f'"line":{_opt_int(line)},"message":{_opt_string(message)},"failure":{_location(failure)},'
            f'"deepest":{_location(deepest)}}},"hits":{_hits(hits) if hits else "{}"},'
            f'"worker":{_repeated(worker)}}}')


def test_finished_line(outcome: TestOutcome, hits: Hits, worker: str) -> str:
    """to_line(TestFinished(outcome, hits, worker))."""
    o = outcome
    return finished_line(o.nodeid, o.outcome, o.duration, o.path, o.line, o.message, o.failure, o.deepest, hits,
                         worker)


def from_line(line: str | bytes) -> Event:
    """Parse one line written by `to_line` (raises WireError)."""
    try:
        text = line.decode("utf-8") if isinstance(line, (bytes, bytearray)) else line
        data, end = _decode(text, _space(text, 0).end())
        if text[end:].strip():
            raise ValueError(f"extra data at {end}")
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise WireError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WireError("not a JSON object")
    if data.get("v") != WIRE_VERSION:
        raise WireError(f"wire version {data.get('v')!r}, expected {WIRE_VERSION} (worker and server covlens differ)")
    kind = data.get("event")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise WireError(f"unknown event {kind!r}")
    try:
        return cls._from(data)  # type: ignore[no-any-return]
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"malformed {kind!r} event: {exc!r}") from None
