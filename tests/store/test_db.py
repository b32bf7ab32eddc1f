"""The SQLite store: atomic records, union of each test's latest hits, unfinished runs, corrupt/old databases."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading

import pytest
from coverage.numbits import numbits_to_nums

from covlens.instrument.decision import make
from covlens.model import CANCELLED, COLLECTION_CONTEXT, CRASHED, TIMEOUT, Location, TestOutcome
from covlens.store import Store
from covlens.store import db as store_db

ADD = "tests/test_calc.py::test_add"
NOTHING = "tests/test_calc.py::test_nothing"
SUB = "tests/test_calc.py::test_sub"


def test_store_creates_database_under_dot_covlens_with_gitignore_star(project):
    store = Store(project.root)
    assert (project.root / ".covlens" / "covlens.db").is_file()
    assert (project.root / ".covlens" / ".gitignore").read_text().split() == ["*"]
    assert store.project().files == {}
    assert store.last_run() is None


def test_complete_run_round_trips_files_decisions_tests_and_summary(project):
    store = Store(project.root)
    result = project.result()
    store.record(result)
    pc = Store(project.root).project()  # a fresh reader, as the LSP would be

    calc = pc.files[project.calc]
    assert calc.statements == {1, 2, 5, 6}
    assert calc.excluded == {9, 10}
    assert calc.executed == {1, 2, 5, 9}
    assert calc.missing == {6}
    assert calc.decision.reason == "source"
    never = pc.files[project.never]
    assert never.decision.reason == "not-imported" and never.missing == {1, 2, 3}
    assert {d.reason for d in pc.decisions} == {"test-file", "stdlib", "third-party", "no-source", "source",
                                                 "not-imported"}
    assert pc.decision_for_module("sys").reason == "no-source"
    assert pc.decision_for_path(project.calc).module == "pkg.calc"
    assert pc.tests[ADD].outcome == "passed" and pc.tests[NOTHING].outcome == "failed"
    assert pc.last_run == result.summary and pc.last_complete_run == result.summary
    assert not pc.stale
    assert pc.totals().statements == 7 and pc.totals().covered == 3


def test_every_field_of_outcomes_and_decisions_round_trips(project):
    store = Store(project.root)
    result = project.result()
    failed = TestOutcome(NOTHING, "failed", 0.25, project.test_file, 3, "assert 1 == 2",
                         failure=Location(project.test_file, 4), deepest=Location(project.calc, 6))
    skipped = TestOutcome(SUB, "skipped", 0.0, None, None, None)
    result = dataclasses.replace(result, outcomes=(result.outcomes[0], failed, skipped),
                                 decisions=(*result.decisions, make("pkg.gen", None, "guard", "nested too deep", None)))
    store.record(result)
    pc = Store(project.root).project()
    assert pc.tests == {o.nodeid: o for o in result.outcomes}
    assert sorted(pc.decisions, key=lambda d: d.module) == sorted(result.decisions, key=lambda d: d.module)


def test_full_run_line_totals_equal_those_rebuilt_from_the_stored_hits(project):
    store = Store(project.root)
    store.record(project.result(
        outcomes={ADD: "passed", SUB: "passed"},
        hits={COLLECTION_CONTEXT: {project.calc: [1, 5], project.init: [1]}, ADD: {project.calc: [2]},
              SUB: {project.calc: [2, 6]}}))
    # The next full run no longer runs pkg/__init__.py at all, and test_sub ran less.
    store.record(project.result(
        run_id="r2", outcomes={ADD: "passed", SUB: "passed"},
        hits={COLLECTION_CONTEXT: {project.calc: [1, 5]}, ADD: {project.calc: [2, 9]}, SUB: {project.calc: [2]}}))
    written = store.project().files
    conn = store._db()
    store._update_totals(conn, [r[0] for r in conn.execute("SELECT path FROM files")])
    rebuilt = store.project().files
    assert written == rebuilt
    assert written[project.calc].hits == {2: 2, 9: 1} and written[project.calc].executed == {1, 2, 5, 9}
    assert written[project.init].executed == frozenset()


def test_hits_count_the_tests_per_line_and_import_time_lines_are_executed_without_a_test(project):
    store = Store(project.root)
    store.record(project.result(
        outcomes={ADD: "passed", SUB: "passed"},
        hits={COLLECTION_CONTEXT: {project.calc: [1, 5]}, ADD: {project.calc: [2]}, SUB: {project.calc: [2, 6]}}))
    calc = store.project().files[project.calc]
    assert calc.hits == {2: 2, 6: 1}
    assert calc.executed == {1, 2, 5, 6}
    assert store.tests_for_line(project.calc, 2) == [ADD, SUB]
    assert store.tests_for_line("pkg/calc.py", 6) == [SUB]
    assert store.tests_for_line(project.calc, 1) == []  # import time belongs to no test


def test_the_tests_of_each_file_are_those_that_ran_a_line_of_it_import_time_aside(project):
    store = Store(project.root)
    store.record(project.result(
        outcomes={ADD: "passed", SUB: "passed"},
        hits={COLLECTION_CONTEXT: {project.calc: [1, 5], project.init: [1]}, ADD: {project.calc: [2]},
              SUB: {project.calc: [2, 6]}}))
    assert store.tests_by_file() == {project.calc: frozenset({ADD, SUB})}


def test_line_hits_are_stored_as_coverage_numbits(project):
    store = Store(project.root)
    store.record(project.result())
    conn = sqlite3.connect(store.path)
    blob = conn.execute("SELECT lines FROM hits WHERE context=?", (ADD,)).fetchone()[0]
    conn.close()
    assert isinstance(blob, bytes) and numbits_to_nums(blob) == [2]


def test_partial_run_replaces_only_the_selected_tests_hits_so_coverage_is_the_union_of_latest_hits(project):
    store = Store(project.root)
    store.record(project.result(
        outcomes={ADD: "passed", SUB: "passed"},
        hits={COLLECTION_CONTEXT: {project.calc: [1, 5]}, ADD: {project.calc: [2]}, SUB: {project.calc: [6]}}))
    # Only test_add re-runs; it now also runs line 6 (say the code changed).
    store.record(project.result(
        run_id="r2", selection=(ADD,), outcomes={ADD: "failed"},
        hits={COLLECTION_CONTEXT: {project.calc: [1, 5]}, ADD: {project.calc: [6]}}))
    pc = store.project()
    assert pc.files[project.calc].executed == {1, 5, 6}  # line 2 was only test_add's, and it no longer runs it
    assert pc.files[project.calc].hits == {6: 2}
    assert pc.tests[ADD].outcome == "failed" and pc.tests[SUB].outcome == "passed"
    assert not pc.stale


def test_partial_run_that_imports_fewer_files_keeps_import_time_lines_of_the_others(project):
    store = Store(project.root)
    store.record(project.result())
    store.record(project.result(run_id="r2", selection=(NOTHING,), outcomes={NOTHING: "passed"},
                                hits={COLLECTION_CONTEXT: {}}, imported=False))
    pc = store.project()
    assert pc.files[project.calc].executed == {1, 2, 5, 9}
    # A partial run's "not imported" does not overwrite what an earlier run saw.
    assert pc.decision_for_path(project.calc).reason == "source"


@pytest.mark.parametrize("state", [CANCELLED, TIMEOUT, CRASHED])
def test_unfinished_run_keeps_last_complete_results_and_is_marked_stale(project, state):
    store = Store(project.root)
    store.record(project.result(
        outcomes={ADD: "passed", SUB: "passed"},
        hits={COLLECTION_CONTEXT: {project.calc: [1, 5]}, ADD: {project.calc: [2]}, SUB: {project.calc: [2, 6]}}))
    # The run finished test_add (now hitting nothing), was cut short in test_sub (partial hits streamed), and never
    # reached the rest; it claims nothing about pkg/never.py.
    store.record(project.result(run_id="r2", state=state, outcomes={ADD: "passed"},
                                hits={ADD: {}, SUB: {project.calc: [2]}}, imported=False))
    pc = store.project()
    calc = pc.files[project.calc]
    assert calc.executed == {1, 2, 5, 6}
    assert calc.hits == {2: 1, 6: 1}  # test_add's latest hits (none), test_sub's last complete ones
    assert store.tests_for_line(project.calc, 6) == [SUB]
    assert set(pc.tests) == {ADD, SUB}
    assert pc.stale
    assert pc.last_run.state == state and pc.last_complete_run.run_id == "r1"
    assert pc.decision_for_path(project.calc).reason == "source"


def test_complete_run_of_all_tests_forgets_tests_that_no_longer_exist(project):
    store = Store(project.root)
    store.record(project.result(outcomes={ADD: "passed", SUB: "passed"},
                                hits={ADD: {project.calc: [2]}, SUB: {project.calc: [6]}}))
    store.record(project.result(run_id="r2", outcomes={ADD: "passed"}, hits={ADD: {project.calc: [2]}}))
    pc = store.project()
    assert set(pc.tests) == {ADD}
    assert pc.files[project.calc].executed == {2}
    assert store.tests_for_line(project.calc, 6) == []


def test_record_is_one_transaction_nothing_changes_when_it_fails_midway(project, monkeypatch):
    store = Store(project.root)
    store.record(project.result())
    before = store.project()

    def boom(result):
        yield from ()
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Store, "_file_lines", staticmethod(boom))
    with pytest.raises(RuntimeError):
        store.record(project.result(run_id="r2", outcomes={ADD: "failed"}, hits={ADD: {project.calc: [6]}}))
    after = store.project()
    assert after.files == before.files and after.tests == before.tests and after.last_run == before.last_run


def test_corrupt_database_file_is_rebuilt_with_a_message_not_a_crash(project):
    Store(project.root).record(project.result())
    db = project.root / ".covlens" / "covlens.db"
    for suffix in ("-wal", "-shm"):
        (project.root / ".covlens" / f"covlens.db{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    store = Store(project.root)
    assert store.project().files == {}
    assert any("could not be read" in m and "rebuilt" in m for m in store.messages)
    assert store.project().messages == tuple(store.messages)
    assert (project.root / ".covlens" / "covlens.db.bad").is_file()
    store.record(project.result())  # and it works again
    assert store.project().files[project.calc].executed == {1, 2, 5, 9}


def test_database_of_an_older_schema_version_is_rebuilt_with_a_message(project):
    Store(project.root).record(project.result())
    conn = sqlite3.connect(project.root / ".covlens" / "covlens.db")
    conn.execute("UPDATE meta SET value='0' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    store = Store(project.root)
    assert any("schema version 0" in m for m in store.messages)
    assert store.project().tests == {}


def test_database_without_covlens_tables_is_rebuilt(project):
    (project.root / ".covlens").mkdir()
    conn = sqlite3.connect(project.root / ".covlens" / "covlens.db")
    conn.execute("CREATE TABLE something_else (x)")
    conn.commit()
    conn.close()
    store = Store(project.root)
    assert any("schema version unknown" in m for m in store.messages)
    store.record(project.result())
    assert store.project().tests


def test_corruption_found_while_recording_rebuilds_and_records(project, monkeypatch):
    store = Store(project.root)
    calls = {"n": 0}
    real = Store._record

    def flaky(self, conn, result, *args):
        calls["n"] += 1
        if calls["n"] == 1:
            raise sqlite3.DatabaseError("database disk image is malformed")
        return real(self, conn, result, *args)

    monkeypatch.setattr(Store, "_record", flaky)
    store.record(project.result())
    assert any("malformed" in m for m in store.messages)
    assert store.project().tests


def test_not_imported_file_without_line_facts_is_listed_with_unknown_statements(project, monkeypatch):
    monkeypatch.setattr(store_db, "_analyze", lambda path, module: None)
    result = project.result()
    files = {p: f for p, f in result.files.items() if p != project.never}
    store = Store(project.root)
    store.record(type(result)(result.summary, result.decisions, result.outcomes, result.hits, files))
    pc = store.project()
    assert project.never not in pc.files
    assert pc.decision_for_path(project.never).reason == "not-imported"


def test_readers_in_other_threads_see_whole_records_only(project):
    store = Store(project.root)
    store.record(project.result())
    seen: list[frozenset[int]] = []
    errors: list[BaseException] = []

    def read() -> None:
        reader = Store(project.root)
        try:
            for _ in range(50):
                seen.append(reader.project().files[project.calc].executed)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    for i in range(20):
        lines = [2] if i % 2 else [6]
        store.record(project.result(run_id=f"w{i}", hits={COLLECTION_CONTEXT: {project.calc: [1, 5, 9]},
                                                          ADD: {project.calc: lines}}))
    thread.join()
    assert not errors
    assert set(seen) <= {frozenset({1, 2, 5, 9}), frozenset({1, 5, 6, 9})}


def test_run_history_is_pruned(project, monkeypatch):
    monkeypatch.setattr(store_db, "KEEP_RUNS", 3)
    store = Store(project.root)
    for i in range(6):
        store.record(project.result(run_id=f"r{i}"))
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 3
    conn.close()
    assert store.last_run().run_id == "r5"


def test_read_only_project_folder_gives_a_clear_error(tmp_path):
    from covlens.store import StoreError

    blocker = tmp_path / "proj"
    blocker.mkdir()
    (blocker / ".covlens").write_text("a file where the folder should be")
    with pytest.raises(StoreError, match="cannot create"):
        Store(blocker)


def test_run_narrowed_by_pytest_arguments_updates_only_the_tests_it_ran(project):
    store = Store(project.root)
    store.record(project.result(outcomes={ADD: "passed", SUB: "passed"},
                                hits={ADD: {project.calc: [2]}, SUB: {project.calc: [6]}}))
    # `covlens run -- -k add`: complete, no selection in the summary, but only test_add ran.
    store.record(project.result(run_id="r2", outcomes={ADD: "failed"}, hits={ADD: {project.calc: [2]}}),
                 partial=True)
    pc = store.project()
    assert set(pc.tests) == {ADD, SUB} and pc.files[project.calc].executed == {2, 6}


def test_run_that_stopped_early_is_partial_by_itself(project):
    from dataclasses import replace

    store = Store(project.root)
    store.record(project.result(outcomes={ADD: "passed", SUB: "passed"},
                                hits={ADD: {project.calc: [2]}, SUB: {project.calc: [6]}}))
    # `-x`: 2 tests collected, the first failed, the run ended there.
    result = project.result(run_id="r2", outcomes={ADD: "failed"}, hits={ADD: {project.calc: [2]}})
    store.record(replace(result, summary=replace(result.summary, total=2)))
    assert set(store.project().tests) == {ADD, SUB}


def test_fast_numbits_decoder_agrees_with_coverage():
    import random

    from coverage.numbits import nums_to_numbits

    rnd = random.Random(7)
    for size in (0, 1, 7, 8, 9, 40, 500):
        nums = sorted(rnd.sample(range(1, 5000), size))
        blob = nums_to_numbits(nums)
        assert store_db.decode(blob) == numbits_to_nums(blob) == nums
