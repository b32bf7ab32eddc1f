"""The wire events: every event survives a trip through its JSON line; bad lines are refused with a reason."""

from __future__ import annotations

import json

import pytest

from covlens.instrument.decision import make
from covlens.model import FileLines, Location, TestOutcome
from covlens.runner import events as ev

SAMPLES: list[ev.Event] = [
    ev.WorkerStarted(pid=42, python="3.11.7", engine="ast", worker="gw1"),
    ev.DecisionMade(make("pkg.mod", "/p/pkg/mod.py", "workspace", "inside the workspace", "default")),
    ev.FilesMeasured((FileLines("/p/pkg/mod.py", "pkg.mod", frozenset({1, 2, 5}), frozenset({7})),)),
    ev.Collected(12),
    ev.TestStarted("tests/test_a.py::test_x", "/p/tests/test_a.py", 3, "gw0"),
    ev.TestFinished(
        TestOutcome("tests/test_a.py::test_x", "failed", 0.25, "/p/tests/test_a.py", 3, "AssertionError: no",
                    Location("/p/tests/test_a.py", 4), Location("/p/pkg/mod.py", 2)),
        {"/p/pkg/mod.py": frozenset({2, 5})}, "gw0"),
    ev.ContextHits("", {"/p/pkg/mod.py": frozenset({1})}),
    ev.Notice("the hook was removed"),
    ev.WorkerFailed("pytest cannot be imported"),
    ev.RunFinished(1, "done"),
]


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.kind)
def test_every_event_round_trips_through_one_json_line(event: ev.Event) -> None:
    line = ev.to_line(event)
    assert "\n" not in line
    assert ev.from_line(line) == event
    assert ev.from_line(line.encode()) == event


def test_every_event_type_has_a_sample() -> None:
    assert {type(e) for e in SAMPLES} == set(ev.EVENT_TYPES.values())


def test_hits_are_sorted_line_lists_on_the_wire() -> None:
    data = json.loads(ev.to_line(ev.ContextHits("", {"/b.py": frozenset({3, 1}), "/a.py": frozenset({2})})))
    assert data == {"v": ev.WIRE_VERSION, "event": "context-hits", "context": "",
                    "hits": {"/a.py": [2], "/b.py": [1, 3]}}


# Every value a field can take that changes how it is written: None, non-ASCII, quotes and backslashes, newlines,
# floats that are not plain decimals, and hits or none.
ODD_TEXT = 'tests/t\u00e9st_\u00e4.py::test["a\\b"\n\u2603]'
STARTED = [
    ("tests/test_a.py::test_x", "/p/tests/test_a.py", 3, "main"),
    (ODD_TEXT, None, None, "gw12"),
    ("t::x", "/p/\u00fc/t.py", 0, ""),
]
FINISHED = [
    (TestOutcome("t::x", "passed"), {}, "main"),
    (TestOutcome("t::x", "passed", 1.5e-07, "/p/t.py", 9), {"/p/m.py": frozenset({3, 1})}, "gw0"),
    (TestOutcome(ODD_TEXT, "failed", 12.0, ODD_TEXT, 1, ODD_TEXT + "\n\tmore", Location(ODD_TEXT, 2),
                 Location("/p/m.py", 10)), {ODD_TEXT: frozenset({1}), "/a.py": frozenset({2})}, ODD_TEXT),
    (TestOutcome("t::x", "error", float("nan")), {}, "main"),
    (TestOutcome("t::x", "error", float("inf"), message=""), {}, "main"),
    # Line numbers past the table of their texts kept in the worker, and ones no file has.
    (TestOutcome("t::x", "passed", 0.5), {"/p/big.py": frozenset({1, 7, 99_999, 100_000, 250_001}),
                                          "/p/odd.py": frozenset({0, -3, 5}), "/p/none.py": frozenset()}, "main"),
]


@pytest.mark.parametrize("fields", STARTED)
def test_the_test_started_line_is_what_to_line_writes(fields: tuple) -> None:
    assert ev.test_started_line(*fields) == ev.to_line(ev.TestStarted(*fields))


@pytest.mark.parametrize("fields", FINISHED)
def test_the_test_finished_line_is_what_to_line_writes(fields: tuple) -> None:
    line = ev.test_finished_line(*fields)
    assert line == ev.to_line(ev.TestFinished(*fields))
    if fields[0].duration == fields[0].duration:  # NaN is never equal to itself, so neither is its event
        assert ev.from_line(line) == ev.TestFinished(*fields)


def test_lines_that_repeat_a_node_id_or_a_path_write_each_as_its_own() -> None:
    # The builders encode a repeated node id or path once: interleaved, every line is still to_line's own.
    for _ in range(2):
        for started, (outcome, hits, worker) in zip(STARTED * 2, FINISHED):
            assert ev.test_started_line(*started) == ev.to_line(ev.TestStarted(*started))
            assert ev.test_finished_line(outcome, hits, worker) == ev.to_line(ev.TestFinished(outcome, hits, worker))
            moved = TestOutcome(started[0], outcome.outcome, outcome.duration, started[1], started[2])
            assert ev.test_finished_line(moved, hits, started[3]) == ev.to_line(
                ev.TestFinished(moved, hits, started[3]))


DECIDED = [
    make("pkg.mod", "/p/pkg/mod.py", "workspace", "inside the workspace", "default"),
    make("json", None, "no-source", "json is a built-in module", None),
    make(ODD_TEXT, ODD_TEXT, "excluded", ODD_TEXT + "\t'x'", ODD_TEXT),
]


def test_decisions_that_share_their_codes_and_details_write_each_line_as_its_own() -> None:
    shared = [make(name, f"/usr/lib/python3.13/{name}.py", "stdlib", "part of Python's standard library",
                   "built-in rule: stdlib") for name in ("json", "ast", ODD_TEXT)]
    shared.append(make("six", "/v/site-packages/six.py", "third-party", ODD_TEXT, "built-in rule: site-packages"))
    for _ in range(2):
        for decision in [*shared, *DECIDED]:
            line = ev.decision_line(decision)
            assert line == ev.to_line(ev.DecisionMade(decision))
            assert ev.from_line(line) == ev.DecisionMade(decision)


@pytest.mark.parametrize("decision", DECIDED, ids=lambda d: d.reason)
def test_the_decision_line_is_what_to_line_writes(decision: object) -> None:
    line = ev.decision_line(decision)  # type: ignore[arg-type]
    assert line == ev.to_line(ev.DecisionMade(decision))  # type: ignore[arg-type]
    assert ev.from_line(line) == ev.DecisionMade(decision)  # type: ignore[arg-type]


@pytest.mark.parametrize("line, reason", [
    ("not json", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"v": 999, "event": "notice", "message": "x"}', "wire version 999"),
    (f'{{"v": {ev.WIRE_VERSION}, "event": "teleport"}}', "unknown event 'teleport'"),
    (f'{{"v": {ev.WIRE_VERSION}, "event": "collected"}}', "malformed 'collected' event"),
])
def test_a_line_that_is_not_an_event_is_refused_with_the_reason(line: str, reason: str) -> None:
    with pytest.raises(ev.WireError, match=reason):
        ev.from_line(line)
