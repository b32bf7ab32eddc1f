"""A run of every test settles a file once the tests that ran it last time are done, with the store's coverage."""

from __future__ import annotations

from pathlib import Path

from covlens.instrument.decision import make
from covlens.model import COLLECTION_CONTEXT, COMPLETE, FileCoverage, FileLines, TestOutcome
from covlens.runner import events as ev
from covlens.runner.settled import SettledFiles
from covlens.store import Store
from tests.runner.conftest import run_fixture

A, B = "/p/app/a.py", "/p/app/b.py"


def facts(path: str, statements: set[int]) -> ev.FilesMeasured:
    return ev.FilesMeasured((FileLines(path, "app." + Path(path).stem, frozenset(statements), frozenset()),))


def measured(path: str) -> ev.DecisionMade:
    return ev.DecisionMade(make("app." + Path(path).stem, path, "workspace", "inside the workspace"))


def finished(nodeid: str, hits: dict[str, set[int]] | None = None) -> ev.TestFinished:
    return ev.TestFinished(TestOutcome(nodeid, "passed"), {p: frozenset(lines) for p, lines in (hits or {}).items()})


def feed(settled: SettledFiles, *events: ev.Event) -> list[FileCoverage]:
    return [coverage for event in events for coverage in settled.add(event)]


def test_a_file_settles_when_the_last_test_that_ran_it_last_time_finishes() -> None:
    settled = SettledFiles({A: {"t1", "t2"}, B: {"t3"}})
    imported = ev.ContextHits(COLLECTION_CONTEXT, {A: frozenset({1})})
    assert feed(settled, measured(A), facts(A, {1, 2, 3, 4, 9}), imported, finished("t1", {A: {2, 3}}),
                finished("t9", {A: {4}})) == []
    (coverage,) = feed(settled, finished("t2", {A: {3}, B: {1}}))
    assert coverage.path == A and coverage.decision.reason == "workspace"
    assert coverage.executed == {1, 2, 3, 4}  # a test not expected to run it (t9) counts too: it ran before
    assert coverage.statements == {1, 2, 3, 4, 9}
    assert coverage.hits == {2: 1, 3: 2, 4: 1}  # tests per line; the import-time line 1 has none
    assert settled.waiting == 1  # B waits for t3 (and the end of the run)


def test_a_file_whose_line_facts_come_after_its_tests_settles_when_they_come() -> None:
    settled = SettledFiles({A: {"t1"}})
    assert feed(settled, measured(A), finished("t1", {A: {2}})) == []
    (coverage,) = feed(settled, facts(A, {1, 2}))
    assert coverage.executed == {2} and coverage.missing == {1}
    assert feed(settled, finished("t1", {A: {1}}), facts(A, {1, 2})) == []  # settled once, never again


def test_a_file_no_stored_test_ran_is_left_to_the_end_of_the_run() -> None:
    settled = SettledFiles({A: set(), B: {"t1"}})
    assert feed(settled, measured(A), facts(A, {1}), finished("t1", {A: {1}})) == []
    assert settled.waiting == 1  # B: its facts and decision never came


def test_a_file_no_longer_instrumented_is_left_to_the_end_of_the_run() -> None:
    settled = SettledFiles({A: {"t1"}})
    skipped = ev.DecisionMade(make("app.a", A, "excluded", "matches 'app/a.py'"))
    assert feed(settled, skipped, finished("t1", {A: {1}})) == []
    assert settled.waiting == 0  # no line facts come for it: nothing is left waiting for them


async def test_each_settled_file_has_the_coverage_the_store_gives_it_once_the_run_is_recorded(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = await run_fixture("basic")
    store.record(first.result)
    settled = SettledFiles(store.tests_by_file())
    events: list[ev.Event] = []
    settled_at: dict[str, int] = {}
    by_path: dict[str, FileCoverage] = {}

    def note(event: ev.Event) -> None:
        events.append(event)
        for coverage in settled.add(event):
            settled_at[coverage.path], by_path[coverage.path] = len(events) - 1, coverage

    second = await run_fixture("basic", on_event=note)
    assert second.state == COMPLETE
    store.record(second.result)
    calc, helpers = second.path("pkg/calc.py"), second.path("pkg/setup_helpers.py")
    assert set(by_path) == {calc, helpers}  # __init__.py runs only at import, never.py never: left to the end
    # The last test runs both (its teardown ends the session-scoped fixture, which calls setup_helpers.release),
    # and its outcome settles them, before the worker's end of session and the run's end.
    last_test = max(i for i, e in enumerate(events) if isinstance(e, ev.TestFinished))
    assert settled_at == {calc: last_test, helpers: last_test}
    assert any(isinstance(e, ev.RunFinished) for e in events[last_test:])
    for path in (calc, helpers):
        assert by_path[path] == store.file_coverage(path)
