"""The wire encoding is plain compact JSON, whatever shortcuts events.py takes to write and read it fast."""

from __future__ import annotations

import json

import pytest

from covlens.instrument.decision import make
from covlens.model import FileLines, Location, TestOutcome
from covlens.runner import events as ev

EVENTS: list[ev.Event] = [
    ev.WorkerStarted(pid=7, python="3.11.7", engine="ast"),
    ev.DecisionMade(make("pkg.mod", "/p/pkg/mod.py", "workspace", "inside the workspace", "default")),
    ev.DecisionMade(make("json", None, "no-source", "built-in", None)),
    ev.FilesMeasured((FileLines("/p/a.py", "a", frozenset({3, 1}), frozenset()),)),
    ev.TestStarted("t.py::test_é", "/p/t.py", 1),
    ev.TestFinished(TestOutcome("t.py::test_x", "failed", 0.5, "/p/t.py", 2, "line one\nline two \u2603 \x00",
                                Location("/p/t.py", 3), None),
                    {"/p/b.py": frozenset({9, 2}), "/p/a.py": frozenset({1})}),
    ev.ContextHits("", {}),
    ev.Notice("tab\there, quote \" and backslash \\"),
    ev.RunFinished(0),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.kind)
def test_a_line_is_exactly_what_json_dumps_writes_for_the_event(event: ev.Event) -> None:
    fields = json.loads(json.dumps(event._fields()))
    if isinstance(event, ev.DecisionMade):
        assert fields == {"decision": event.decision.to_json()}
    expected = json.dumps({"v": ev.WIRE_VERSION, "event": event.kind, **fields}, separators=(",", ":"))
    assert ev.to_line(event) == expected
    assert "\n" not in ev.to_line(event)
    assert ev.from_line(expected.encode()) == event


def test_leading_and_trailing_blanks_around_a_line_are_accepted() -> None:
    line = ev.to_line(ev.Collected(3))
    assert ev.from_line(f"  {line} \r") == ev.Collected(3)


@pytest.mark.parametrize("line", [
    '{"v": 1, "event": "collected", "total": 1} {"v": 1}',
    b'{"v": 1, "event": "collected", "total": 1}\xff',
    b"\xff\xfe",
])
def test_extra_data_or_bad_utf8_after_an_event_is_refused(line: str | bytes) -> None:
    with pytest.raises(ev.WireError, match="not JSON"):
        ev.from_line(line)
