"""Which tests a run runs: all of them, a list of node ids or files, or the tests a change affects."""

from __future__ import annotations

import fnmatch
import os
import tokenize
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from covlens.runner.blocks import MODULE, Unparsable, blocks_of, line_map

# Files whose change may change any test's behaviour: everything runs.
EVERYTHING_FILES = ("conftest.py", "pyproject.toml", "setup.cfg", "setup.py", "tox.ini", "pytest.ini",
                    "requirements*.txt", "*.lock", "Pipfile", "*.pth", ".coveragerc")
FAILING = ("failed", "error")


@dataclass(frozen=True)
class Selection:
    """What pytest is asked to run.

    `targets` None means every test pytest collects; otherwise node ids (`tests/test_a.py::test_x`) or paths,
    given to pytest as arguments. `only`, when set, keeps of what the targets collect just the tests whose node
    id, or whose file (`tests/test_a.py`), is listed — filtering after collection, so that a node id that no
    longer exists is simply not run rather than a pytest usage error.
    """

    targets: tuple[str, ...] | None = None
    only: tuple[str, ...] | None = None

    @classmethod
    def all(cls) -> Selection:
        return cls(None)

    @classmethod
    def of(cls, targets: Iterable[str]) -> Selection:
        return cls(tuple(str(t) for t in targets))

    @classmethod
    def tests(cls, entries: Iterable[str], first: Iterable[str] = ()) -> Selection:
        """Exactly these node ids and whole test files (paths relative to the root, as node ids spell them);
        the files of the entries in `first` run first."""
        only = tuple(sorted(set(entries) | set(first)))
        ordered = [*sorted(set(first)), *only]
        files = tuple(dict.fromkeys(e.split("::", 1)[0] for e in ordered))
        return cls(files, only)

    @classmethod
    def coerce(cls, value: Selection | Iterable[str] | None) -> Selection:
        if value is None:
            return cls.all()
        if isinstance(value, Selection):
            return value
        if isinstance(value, str):
            return cls.of([value])
        return cls.of(value)

    @property
    def everything(self) -> bool:
        return self.targets is None

    def pytest_args(self) -> list[str]:
        """Positional arguments for pytest (nothing for "all": pytest then uses testpaths / the root)."""
        return list(self.targets or ())


def changes_everything(path: str) -> bool:
    """Whether a change of the file at `path` may change every test (conftest.py, configuration, dependencies)."""
    name = os.path.basename(path)
    return any(fnmatch.fnmatchcase(name, p) for p in EVERYTHING_FILES)


def keeps(only: Iterable[str], nodeid: str) -> bool:
    """Whether a test is kept by an `only` list (its node id, or its file, is listed)."""
    chosen = only if isinstance(only, (set, frozenset)) else frozenset(only)
    return nodeid in chosen or nodeid.split("::", 1)[0] in chosen


class History(Protocol):
    """What selection reads from the store."""

    def source_of(self, path: str) -> str | None: ...

    def hits_in(self, path: str) -> dict[str, frozenset[int]]: ...

    def test_ids(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class Edit:
    """A measured file's new text and how its old lines move (applied to the store before the run)."""

    path: str
    text: str
    mapping: Mapping[int, int]


@dataclass(frozen=True)
class Plan:
    """The tests a change affects (`selection` None: all of them, for `reason`) and the line moves it implies."""

    selection: Selection | None
    reason: str
    edits: tuple[Edit, ...] = ()
    affected: frozenset[str] = field(default_factory=frozenset)  # node ids / files chosen for the change itself


def plan(changed: Iterable[str], history: History, *, root: str, test_patterns: Iterable[str],
         also: Iterable[str] = ()) -> Plan:
    """The tests to run for `changed` paths: those that ran a changed block, plus failing tests and `also`.

    Everything runs when the change touches what every test may depend on (conftest.py, configuration,
    dependencies), a file that is gone or that covlens never measured (who imports it is unknown), or when no
    per-test lines are stored yet. Comment-only or whitespace-only edits run nothing but still move the lines.
    """
    patterns = tuple(test_patterns)
    known = history.test_ids()
    if not known:
        return Plan(None, "no per-test results stored yet")
    chosen: set[str] = set()
    edits: list[Edit] = []
    for path in sorted(set(changed)):
        name = os.path.basename(path)
        if changes_everything(path):
            return Plan(None, f"{_rel(path, root)} can change every test")
        if not name.endswith(".py"):
            return Plan(None, f"{_rel(path, root)} is not Python: which tests read it is unknown")
        text = _read(path)
        if text is None:
            return Plan(None, f"{_rel(path, root)} was removed or cannot be read")
        is_test = any(fnmatch.fnmatchcase(name, p) for p in patterns)
        if is_test:
            chosen.add(_rel(path, root))  # the whole file: its new, renamed and edited tests
        old = history.source_of(path)
        if old is None:
            if is_test:
                continue
            return Plan(None, f"{_rel(path, root)} has no recorded lines: which tests import it is unknown")
        if old == text:
            continue
        edits.append(Edit(path, text, line_map(old, text)))
        chosen |= _touching(path, old, text, history)
    affected = frozenset(chosen)
    chosen |= {nodeid for nodeid, outcome in known.items() if outcome in FAILING}
    chosen |= set(also)
    reason = f"{len(affected)} affected" + (f", {len(chosen) - len(affected)} failing or pending" if
                                           len(chosen) > len(affected) else "")
    return Plan(Selection.tests(chosen, first=affected), reason, tuple(edits), affected)


def _touching(path: str, old: str, new: str, history: History) -> set[str]:
    """The tests that ran code of `path` that the edit from `old` to `new` changed."""
    hits = history.hits_in(path)
    try:
        before, after = blocks_of(old), blocks_of(new)
    except Unparsable:
        return set(hits)  # a syntax error: every test that imports it will report it
    changed = before.changed(after)
    if not changed:
        return set()
    if MODULE in changed:
        return set(hits)  # module-level code runs for everyone who uses the module
    spans = [(b.start, b.end) for name, b in before.blocks.items() if name in changed]
    return {nodeid for nodeid, lines in hits.items() if any(s <= n <= e for n in lines for s, e in spans)}


Stamp = tuple[int, int]  # (mtime_ns, size) of a file


def texts_as_of(paths: Iterable[str], started_ns: int, kept: Mapping[str, Stamp]
                ) -> tuple[dict[str, str | None], dict[str, Stamp]]:
    """The texts a run measured, for the store: each file's text, None when it changed after `started_ns` (the
    run may have measured another text), and nothing for a file whose stamp is still the one in `kept` (its
    stored text is current). With the stamps of the texts returned."""
    texts: dict[str, str | None] = {}
    stamps: dict[str, Stamp] = {}
    for path in paths:
        stamp = stamp_of(path)
        if stamp is None or stamp[0] > started_ns:
            texts[path] = None
        elif kept.get(path) != stamp:
            texts[path] = _read(path)
            if texts[path] is not None:
                stamps[path] = stamp
    return texts, stamps


def stamp_of(path: str) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _rel(path: str, root: str) -> str:
    try:
        rel = os.path.relpath(path, root)
    except ValueError:
        return path
    return path if rel.startswith(os.pardir) else rel.replace(os.sep, "/")


def _read(path: str) -> str | None:
    try:
        with tokenize.open(path) as handle:  # honours an encoding cookie, as the import system does
            return handle.read()
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
