"""The SQLite results store under `<project>/.covlens/`: runs, latest test outcomes, decisions, per-test line hits."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import tokenize
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from covlens.instrument.decision import NOT_IMPORTED, Decision
from covlens.lazylog import LazyLogger
from covlens.model import (COLLECTION_CONTEXT, COMPLETE, FileCoverage, FileLines, Location, RunResult, RunSummary,
                           TestOutcome)
from covlens.store.project import ProjectCoverage
from covlens.workfolder import ensure_covlens_folder

log = LazyLogger("covlens.store")

# Bump when the tables change: an older database is then rebuilt (results are cheap to recompute, a migration is not).
SCHEMA_VERSION = 3
DIRNAME = ".covlens"
FILENAME = "covlens.db"
KEEP_RUNS = 50  # run history kept for `covlens report`/the LSP; older rows are pruned at each record

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, state TEXT NOT NULL,
    summary TEXT NOT NULL, output TEXT NOT NULL DEFAULT '');
-- the latest outcome of every test; columns, not JSON: a run writes and the CLI reads back hundreds of rows
CREATE TABLE tests (nodeid TEXT PRIMARY KEY, run_seq INTEGER NOT NULL, outcome TEXT NOT NULL, duration REAL NOT NULL,
    path TEXT, line INTEGER, message TEXT, failure_path TEXT, failure_line INTEGER, deepest_path TEXT,
    deepest_line INTEGER);
-- the latest decision of every module, keyed by path (or "module:<name>" when it has none)
CREATE TABLE decisions (key TEXT PRIMARY KEY, module TEXT NOT NULL, path TEXT, action TEXT NOT NULL,
    reason TEXT NOT NULL, detail TEXT NOT NULL, rule TEXT, run_seq INTEGER NOT NULL);
-- the line facts of every measured file, as numbits blobs
CREATE TABLE files (path TEXT PRIMARY KEY, module TEXT NOT NULL, statements BLOB NOT NULL, excluded BLOB NOT NULL,
    run_seq INTEGER NOT NULL);
-- the latest lines each context (a test nodeid, or '' for collection) ran in each file, as numbits blobs
CREATE TABLE hits (context TEXT NOT NULL, path TEXT NOT NULL, lines BLOB NOT NULL, run_seq INTEGER NOT NULL,
    PRIMARY KEY (context, path));
CREATE INDEX hits_by_path ON hits (path);
-- per file, the union of all contexts' lines and the number of tests per line, kept in step with `hits`
-- so that reading the project is one pass over files rather than over every (test, file) pair
CREATE TABLE line_totals (path TEXT PRIMARY KEY, executed BLOB NOT NULL, counts TEXT NOT NULL);
-- the text each measured file had when its lines were recorded: the "before" of the next edit, from which
-- test selection finds the changed blocks and line numbers are moved (no row: unknown, e.g. edited mid-run)
CREATE TABLE sources (path TEXT PRIMARY KEY, text TEXT NOT NULL);
"""


class StoreError(Exception):
    """The store cannot be used at all (e.g. the project folder is read-only); the message says what to do."""


def _key(decision: Decision) -> str:
    return os.path.normcase(decision.path) if decision.path else f"module:{decision.module}"


_CHUNK = 500  # contexts per statement: well under SQLite's limit on bound parameters (999 before 3.32)


def _forget_contexts(conn: sqlite3.Connection, contexts: list[str], touched: set[str]) -> None:
    """Delete the hits of `contexts`, adding the paths they were in to `touched`: a few statements, not two each."""
    for start in range(0, len(contexts), _CHUNK):
        chunk = contexts[start:start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        touched.update(r[0] for r in conn.execute(f"SELECT DISTINCT path FROM hits WHERE context IN ({marks})", chunk))
        conn.execute(f"DELETE FROM hits WHERE context IN ({marks})", chunk)


def _bits(lines: Iterable[int]) -> bytes:
    """coverage.py's numbits of `lines` (bit j of byte i is line i*8+j), without importing coverage.py (~30 ms)."""
    nums = list(lines)
    if not nums:
        return b""
    out = bytearray(max(nums) // 8 + 1)
    for num in nums:
        out[num >> 3] |= 1 << (num & 7)
    return bytes(out)


# Set-bit offsets of every byte value: decoding numbits a byte at a time is several times faster than
# coverage.numbits.numbits_to_nums (same format: bit j of byte i is line i*8+j), and the store decodes a lot.
_BITS = tuple(tuple(j for j in range(8) if value & (1 << j)) for value in range(256))


def decode(blob: bytes) -> list[int]:
    """The sorted line numbers of a numbits blob (equal to `coverage.numbits.numbits_to_nums`)."""
    return [i * 8 + j for i, value in enumerate(blob) if value for j in _BITS[value]]


def _nums(blob: bytes) -> frozenset[int]:
    return frozenset(decode(blob))


class Store:
    """The results of a project's runs; safe to share between threads, and between processes through SQLite's locks.

    Open with `Store(root)`; `record(result)` after every run (complete or not), `project()` to read the picture.
    A corrupt database or one of an older schema is moved aside and rebuilt; what happened is in `messages`
    (and logged), never raised.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = str(Path(root).resolve())
        self.folder = Path(self.root) / DIRNAME
        self.path = self.folder / FILENAME
        self.messages: list[str] = []
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        try:
            ensure_covlens_folder(self.folder.parent)
        except OSError as exc:
            raise StoreError(f"cannot create {self.folder} ({exc.strerror or exc}); "
                             "make the project folder writable, or run covlens from a writable copy") from None
        with self._lock:
            self._open()

    # ----------------------------------------------------------------- connection, schema, rebuild

    def _open(self) -> None:
        try:
            self._conn = self._connect()
            self._check_schema(self._conn)
        except sqlite3.DatabaseError as exc:
            self._rebuild(f"{self.path} could not be read ({exc}); it was moved to {FILENAME}.bad and rebuilt, "
                          "so earlier results are gone: run the tests again")

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves so that a record() is exactly one transaction.
        conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")  # readers (the LSP) never block the writer (a run) and vice versa
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            self._create(conn)
            return
        version = None
        if "meta" in tables:
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = row[0] if row else None
        if version != str(SCHEMA_VERSION):
            self._close()
            self._rebuild(f"{self.path} has schema version {version or 'unknown'}, this covlens uses "
                          f"{SCHEMA_VERSION}; it was rebuilt, so earlier results are gone: run the tests again")

    def _create(self, conn: sqlite3.Connection) -> None:
        # One script, one transaction: a crash while creating leaves an empty file, which is simply created again.
        conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}"
                           f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');COMMIT;")

    def _rebuild(self, message: str) -> None:
        self._close()
        self.messages.append(message)
        log.warning("%s", message)
        bad = self.path.with_name(FILENAME + ".bad")
        try:
            if self.path.exists():
                os.replace(self.path, bad)  # kept for a bug report; the next rebuild overwrites it
            for suffix in ("-wal", "-shm", "-journal"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            self._conn = self._connect()
            self._create(self._conn)
        except (OSError, sqlite3.DatabaseError) as exc:
            raise StoreError(f"cannot rebuild {self.path} ({exc}); delete the {DIRNAME} folder and run again") from None

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
            self._conn = None

    def close(self) -> None:
        """Close the database connection (the store reopens it on the next call)."""
        with self._lock:
            self._close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._open()
        assert self._conn is not None
        return self._conn

    def _guarded(self, action, *, retry: bool = True):  # type: ignore[no-untyped-def]
        """Run `action(conn)`; a database found corrupt in the middle is rebuilt and the action tried once more."""
        with self._lock:
            try:
                return action(self._db())
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                    raise StoreError(f"{self.path} is locked by another covlens process for too long; "
                                     "stop the other `covlens` (watch or server) or try again") from None
                if not retry:
                    raise StoreError(f"{self.path} is unusable ({exc}); delete the {DIRNAME} folder") from None
                self._rebuild(f"{self.path} was found corrupt ({exc}); it was moved to {FILENAME}.bad and rebuilt, "
                              "so earlier results are gone: run the tests again")
                return self._guarded(action, retry=False)

    # ----------------------------------------------------------------- writing

    def record(self, result: RunResult, *, partial: bool = False,
               sources: Mapping[str, str | None] | None = None) -> None:
        """Store one run's results in a single transaction.

        A complete run of all tests replaces everything. Any other run (a selection of tests, or a run that was
        cancelled, timed out or crashed) replaces only what it knows: the outcome and hits of each test that
        finished, the import-time hits of the files it imported, the decisions of the modules it loaded. So the
        project's coverage stays the union over each test's latest hits, and an unfinished run never erases the
        last complete results. Pass `partial=True` when the run was narrowed in a way the summary cannot show
        (pytest arguments such as `-k`, `-m` or paths); a run that stopped early (`-x`, fewer outcomes than tests
        collected) is treated as partial by itself.

        `sources` maps paths to the text they had when the run started (None: edited while it ran), for test
        selection; see `_keep_sources`.
        """
        self._guarded(lambda conn: self._record(conn, result, partial, sources))

    def _record(self, conn: sqlite3.Connection, result: RunResult, partial: bool = False,
                sources: Mapping[str, str | None] | None = None) -> None:
        summary = result.summary
        complete = summary.state == COMPLETE
        stopped_early = summary.total is not None and len(result.outcomes) < summary.total
        authoritative = complete and summary.selection is None and not partial and not stopped_early
        finished = {o.nodeid for o in result.outcomes}
        with _transaction(conn):
            seq = conn.execute(
                "INSERT INTO runs (run_id, state, summary, output) VALUES (?, ?, ?, ?)",
                (summary.run_id, summary.state, json.dumps(summary.to_json()), result.output[-20000:]),
            ).lastrowid
            touched: set[str] = set()

            # Tests and their hits.
            if authoritative:
                conn.execute("DELETE FROM tests")
                conn.execute("DELETE FROM hits")
            conn.executemany(f"INSERT OR REPLACE INTO tests VALUES ({_marks(11)})",
                             [_test_row(o, seq) for o in result.outcomes])
            rows: list[tuple[str, str, bytes, int]] = []
            replaced: list[str] = []
            for context, per_file in result.hits.items():
                if context == COLLECTION_CONTEXT:
                    continue  # below, file by file
                if not complete and context not in finished:
                    continue  # a test cut short: its hits are partial and would hide its last full hits
                replaced.append(context)
                rows.extend((context, path, _bits(lines), seq) for path, lines in per_file.items() if lines)
            # A test that finished and ran no measured line (skipped, or failed early): its old hits are no longer
            # true either.
            replaced.extend(finished - set(result.hits))
            if not authoritative:  # (an authoritative run emptied the table above)
                _forget_contexts(conn, replaced, touched)
            self._insert_rows(conn, rows, touched)  # one statement for every test's rows
            # Import-time lines: a partial run imports only some files, so replace per file, never wholesale.
            collection = result.hits.get(COLLECTION_CONTEXT, {})
            for path in collection:
                conn.execute("DELETE FROM hits WHERE context=? AND path=?", (COLLECTION_CONTEXT, path))
            self._insert_hits(conn, COLLECTION_CONTEXT, collection, seq, touched)

            # Decisions.
            if authoritative:
                conn.execute("DELETE FROM decisions")
            replace, fill = [], []
            for decision in result.decisions:
                row = (_key(decision), decision.module, decision.path, decision.action, decision.reason,
                       decision.detail, decision.rule, seq)
                # A partial or unfinished run did not import everything: "not imported" only fills a gap.
                (fill if not authoritative and decision.action == NOT_IMPORTED else replace).append(row)
            conn.executemany(f"INSERT OR REPLACE INTO decisions VALUES ({_marks(8)})", replace)
            conn.executemany(f"INSERT OR IGNORE INTO decisions VALUES ({_marks(8)})", fill)

            # Line facts of measured files.
            if authoritative:
                conn.execute("DELETE FROM files")
            conn.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
                             [(fl.path, fl.module, _bits(fl.statements), _bits(fl.excluded), seq)
                              for fl in self._file_lines(result)])

            self._keep_sources(conn, result, sources)
            if authoritative:  # the table now holds exactly this run's hits: no need to read them back
                conn.execute("DELETE FROM line_totals")
                conn.executemany("INSERT INTO line_totals VALUES (?, ?, ?)", _totals(result.hits))
            else:
                self._update_totals(conn, touched)
            conn.execute("DELETE FROM runs WHERE seq <= ?", (seq - KEEP_RUNS,))

    @staticmethod
    def _keep_sources(conn: sqlite3.Connection, result: RunResult, sources: Mapping[str, str | None] | None) -> None:
        """Keep the texts given; None for a path means its text is unknown (edited mid-run). A path left out
        keeps its row (the caller knows it did not change). Without `sources` at all (a run recorded by the CLI)
        the lines now stored match no kept text: forget the texts, and the next edit of such a file runs every
        test."""
        if sources is None:
            measured = set(result.files) | {p for per_file in result.hits.values() for p in per_file}
            conn.executemany("DELETE FROM sources WHERE path=?", [(p,) for p in measured])
            return
        for path, text in sources.items():
            if text is None:
                conn.execute("DELETE FROM sources WHERE path=?", (path,))
            else:
                conn.execute("INSERT OR REPLACE INTO sources VALUES (?, ?)", (path, text))

    def apply_edit(self, path: str, text: str, mapping: Mapping[int, int]) -> None:
        """The file at `path` now reads `text`: move every context's lines through `mapping` (old → new line),
        dropping lines the edit rewrote, and take the new statements; the tests that ran rewritten code must be
        run again (test selection does that) to get their lines back."""
        def edit(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                rows = conn.execute("SELECT context, lines FROM hits WHERE path=?", (path,)).fetchall()
                for context, blob in rows:
                    moved = _moved(blob, mapping)
                    if moved:
                        conn.execute("UPDATE hits SET lines=? WHERE context=? AND path=?",
                                     (_bits(moved), context, path))
                    else:
                        conn.execute("DELETE FROM hits WHERE context=? AND path=?", (context, path))
                row = conn.execute("SELECT module, statements, excluded FROM files WHERE path=?", (path,)).fetchone()
                if row is not None:
                    facts = _analyze_text(text, path, row[0])
                    if facts is None:  # a syntax error: the old statements, moved, are the best guess
                        statements, excluded = _moved(row[1], mapping), _moved(row[2], mapping)
                    else:
                        statements, excluded = sorted(facts.statements), sorted(facts.excluded)
                    conn.execute("UPDATE files SET statements=?, excluded=? WHERE path=?",
                                 (_bits(statements), _bits(excluded), path))
                conn.execute("INSERT OR REPLACE INTO sources VALUES (?, ?)", (path, text))
                self._update_totals(conn, [path])
        self._guarded(edit)

    def forget_tests(self, nodeids: Iterable[str]) -> None:
        """Drop tests that no longer exist (their outcomes and lines)."""
        def forget(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                touched: set[str] = set()
                gone = list(nodeids)
                _forget_contexts(conn, gone, touched)
                conn.executemany("DELETE FROM tests WHERE nodeid=?", [(nodeid,) for nodeid in gone])
                self._update_totals(conn, touched)
        self._guarded(forget)

    @staticmethod
    def _insert_hits(conn: sqlite3.Connection, context: str, per_file: Mapping[str, Iterable[int]], seq: int,
                     touched: set[str]) -> None:
        Store._insert_rows(conn, [(context, path, _bits(lines), seq) for path, lines in per_file.items() if lines],
                           touched)

    @staticmethod
    def _insert_rows(conn: sqlite3.Connection, rows: list[tuple[str, str, bytes, int]], touched: set[str]) -> None:
        conn.executemany("INSERT OR REPLACE INTO hits VALUES (?, ?, ?, ?)", rows)
        touched.update(row[1] for row in rows)

    @staticmethod
    def _file_lines(result: RunResult) -> Iterator[FileLines]:
        yield from result.files.values()
        # A not-imported file's statements come from the worker; if it sent none, analyse the source here.
        for decision in result.decisions:
            if decision.action == NOT_IMPORTED and decision.path and decision.path not in result.files:
                lines = _analyze(decision.path, decision.module)
                if lines is not None:
                    yield lines

    @staticmethod
    def _update_totals(conn: sqlite3.Connection, paths: Iterable[str]) -> None:
        """Recompute the line_totals rows of `paths` from the hits stored for them (after a partial change)."""
        for path in paths:
            stored = {context: {path: decode(blob)}
                      for context, blob in conn.execute("SELECT context, lines FROM hits WHERE path=?", (path,))}
            rows = _totals(stored)
            if rows:
                conn.executemany("INSERT OR REPLACE INTO line_totals VALUES (?, ?, ?)", rows)
            else:
                conn.execute("DELETE FROM line_totals WHERE path=?", (path,))

    # ----------------------------------------------------------------- reading

    def project(self) -> ProjectCoverage:
        """The current picture: every measured file's coverage, every decision, every test's latest outcome."""
        return self._guarded(self._project)

    def _project(self, conn: sqlite3.Connection) -> ProjectCoverage:
        decisions = tuple(Decision(*row)
                          for row in conn.execute(f"SELECT {_DECISION} FROM decisions ORDER BY module, key"))
        by_path = {d.path: d for d in decisions if d.path}
        totals = {path: (executed, counts)
                  for path, executed, counts in conn.execute("SELECT path, executed, counts FROM line_totals")}
        files: dict[str, FileCoverage] = {}
        rows = conn.execute("SELECT path, module, statements, excluded FROM files").fetchall()
        known = {r[0] for r in rows}
        for path in totals:
            if path not in known:  # hits without line facts: report what ran, statements unknown
                rows.append((path, _module_name(by_path.get(path), path), b"", b""))
        for path, module, statements, excluded in rows:
            decision = by_path.get(path) or _unknown_decision(module, path)
            files[path] = _coverage(path, module, decision, statements, excluded, *totals.get(path, (b"", "{}")))
        tests = {row[0]: _test_of(row) for row in conn.execute(f"SELECT {_TEST} FROM tests")}
        return ProjectCoverage(
            root=self.root, files=files, decisions=decisions, tests=tests,
            last_run=self._last(conn, None), last_complete_run=self._last(conn, COMPLETE),
            messages=tuple(self.messages),
        )

    def file_coverage(self, path: str) -> FileCoverage | None:
        """One measured file's coverage as `project()` would give it (cheap: for publishing an edited file first)."""
        def read(conn: sqlite3.Connection) -> FileCoverage | None:
            row = conn.execute("SELECT module, statements, excluded FROM files WHERE path=?", (path,)).fetchone()
            if row is None:
                return None
            found = conn.execute(f"SELECT {_DECISION} FROM decisions WHERE key=?", (os.path.normcase(path),)).fetchone()
            decision = Decision(*found) if found else _unknown_decision(row[0], path)
            totals = conn.execute("SELECT executed, counts FROM line_totals WHERE path=?", (path,)).fetchone()
            return _coverage(path, row[0], decision, row[1], row[2], *(totals or (b"", "{}")))
        return self._guarded(read)

    @staticmethod
    def _last(conn: sqlite3.Connection, state: str | None) -> RunSummary | None:
        if state is None:
            row = conn.execute("SELECT summary FROM runs ORDER BY seq DESC LIMIT 1").fetchone()
        else:
            row = conn.execute("SELECT summary FROM runs WHERE state=? ORDER BY seq DESC LIMIT 1", (state,)).fetchone()
        return RunSummary.from_json(json.loads(row[0])) if row else None

    def last_run(self) -> RunSummary | None:
        """The summary of the most recently recorded run, whatever its state."""
        return self._guarded(lambda conn: self._last(conn, None))

    def last_output(self) -> str:
        """The tail of the worker's output in the most recently recorded run (for a crash report)."""
        def read(conn: sqlite3.Connection) -> str:
            row = conn.execute("SELECT output FROM runs ORDER BY seq DESC LIMIT 1").fetchone()
            return row[0] if row else ""
        return self._guarded(read)

    def tests_for_line(self, path: str, line: int) -> list[str]:
        """The nodeids of the tests whose latest run executed `line` (1-based) of the file at `path`, sorted."""
        full = os.path.abspath(path if os.path.isabs(path) else os.path.join(self.root, path))

        def read(conn: sqlite3.Connection) -> list[str]:
            return sorted(context for context, blob in
                          conn.execute("SELECT context, lines FROM hits WHERE path=? AND context != ?",
                                       (full, COLLECTION_CONTEXT))
                          if line in decode(blob))
        return self._guarded(read)

    def source_of(self, path: str) -> str | None:
        """The text the file at `path` had when its lines were last recorded (None: unknown)."""
        def read(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT text FROM sources WHERE path=?", (path,)).fetchone()
            return row[0] if row else None
        return self._guarded(read)

    def hits_in(self, path: str) -> dict[str, frozenset[int]]:
        """Each test's latest lines in the file at `path` (nodeid -> lines; import-time lines not included)."""
        def read(conn: sqlite3.Connection) -> dict[str, frozenset[int]]:
            return {context: _nums(blob) for context, blob in
                    conn.execute("SELECT context, lines FROM hits WHERE path=? AND context != ?",
                                 (path, COLLECTION_CONTEXT))}
        return self._guarded(read)

    def tests_by_file(self) -> dict[str, frozenset[str]]:
        """The tests whose latest run executed each file: path -> nodeids (import-time lines not counted)."""
        def read(conn: sqlite3.Connection) -> dict[str, frozenset[str]]:
            found: dict[str, set[str]] = {}
            for path, context in conn.execute("SELECT path, context FROM hits WHERE context != ?",
                                              (COLLECTION_CONTEXT,)):
                found.setdefault(path, set()).add(context)
            return {path: frozenset(tests) for path, tests in found.items()}
        return self._guarded(read)

    def test_ids(self) -> dict[str, str]:
        """Every known test's latest outcome, by nodeid."""
        return self._guarded(lambda conn: dict(conn.execute("SELECT nodeid, outcome FROM tests").fetchall()))

    def context_hits(self) -> dict[str, dict[str, frozenset[int]]]:
        """Every context's latest lines: context ('' for collection, else a nodeid) -> path -> lines."""
        def read(conn: sqlite3.Connection) -> dict[str, dict[str, frozenset[int]]]:
            out: dict[str, dict[str, frozenset[int]]] = {}
            for context, path, blob in conn.execute("SELECT context, path, lines FROM hits ORDER BY context, path"):
                out.setdefault(context, {})[path] = _nums(blob)
            return out
        return self._guarded(read)


def _totals(hits: Mapping[str, Mapping[str, Iterable[int]]]) -> list[tuple[str, bytes, str]]:
    """The line_totals rows of exactly these hits (context -> path -> lines): every path's executed lines, and per
    line the number of tests (contexts other than collection) that ran it."""
    executed: dict[str, set[int]] = {}
    counts: dict[str, Counter[int]] = {}
    for context, per_file in hits.items():
        for path, lines in per_file.items():
            if not lines:
                continue
            executed.setdefault(path, set()).update(lines)
            if context != COLLECTION_CONTEXT:
                counts.setdefault(path, Counter()).update(lines)
    return [(path, _bits(lines), json.dumps(counts.get(path, {}))) for path, lines in executed.items()]


_DECISION = "module, path, action, reason, detail, rule"  # Decision's fields, in order
_TEST = "nodeid, outcome, duration, path, line, message, failure_path, failure_line, deepest_path, deepest_line"


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _test_row(o: TestOutcome, seq: int) -> tuple[object, ...]:
    failure, deepest = o.failure, o.deepest
    return (o.nodeid, seq, o.outcome, o.duration, o.path, o.line, o.message,
            failure.path if failure else None, failure.line if failure else None,
            deepest.path if deepest else None, deepest.line if deepest else None)


def _test_of(row: tuple[Any, ...]) -> TestOutcome:
    nodeid, outcome, duration, path, line, message, fpath, fline, dpath, dline = row
    return TestOutcome(nodeid, outcome, duration, path, line, message,
                       Location(fpath, fline) if fpath is not None else None,
                       Location(dpath, dline) if dpath is not None else None)


def _coverage(path: str, module: str, decision: Decision, statements: bytes, excluded: bytes, executed: bytes,
              counts: str) -> FileCoverage:
    return FileCoverage(path=path, module=module, decision=decision, statements=_nums(statements),
                        executed=_nums(executed), excluded=_nums(excluded),
                        hits={int(k): v for k, v in json.loads(counts).items()})


def _module_name(decision: Decision | None, path: str) -> str:
    return decision.module if decision else Path(path).stem


def _unknown_decision(module: str, path: str) -> Decision:
    # Line facts or hits with no decision recorded: it was measured, so it was instrumented.
    return Decision(module, path, "instrumented", "workspace", "measured (no decision was recorded for this file)")


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: committed when the block ends, rolled back if it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _moved(blob: bytes, mapping: Mapping[int, int]) -> list[int]:
    """The lines of a numbits blob moved through an edit (lines it rewrote dropped)."""
    return [mapping[n] for n in decode(blob) if n in mapping]


def _analyze_text(text: str, path: str, module: str) -> FileLines | None:
    try:
        from covlens.instrument.lines import analyze

        facts = analyze(text, path)
        return FileLines(path, module, frozenset(facts.statements), frozenset(facts.excluded))
    except Exception:  # a syntax error: unknown
        log.debug("cannot analyse the new text of %s", path, exc_info=True)
        return None


def _analyze(path: str, module: str) -> FileLines | None:
    """Statements and excluded lines of a file no test imported, or None when they cannot be known."""
    try:
        from covlens.instrument.lines import analyze

        with tokenize.open(path) as f:  # honours an encoding cookie, as the import system does
            source = f.read()
        facts = analyze(source, path)
        return FileLines(path, module, frozenset(facts.statements), frozenset(facts.excluded))
    except Exception:  # an unreadable file or a syntax error: the file is listed, its statements unknown
        log.debug("cannot analyse %s", path, exc_info=True)
        return None
