"""Files a run of every test has settled while it goes on: each test that ran them last time has finished."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from covlens.instrument.decision import INSTRUMENTED, Decision
from covlens.model import COLLECTION_CONTEXT, FileCoverage, FileLines
from covlens.runner import events as ev


class SettledFiles:
    """Follows the events of a run of every test with per-test contexts, and gives each file's coverage as soon as
    every test that ran the file in the stored results (`expected`: path -> nodeids) has finished in this run.

    That coverage is the file's lines in this run so far, counted as the store counts them when the run is recorded,
    so it is the run's final word on the file, unless a test that never ran the file before does now, or the
    session's own teardown runs more of it: the end of the run sends every file again, which settles those. A file
    that no stored test ran (new, or only imported) is left to the end of the run.
    """

    def __init__(self, expected: Mapping[str, Iterable[str]]) -> None:
        self._waiting: dict[str, set[str]] = {path: set(tests) for path, tests in expected.items() if tests}
        self._paths_of: dict[str, list[str]] = {}  # nodeid -> the files still waiting for it
        for path, tests in self._waiting.items():
            for nodeid in tests:
                self._paths_of.setdefault(nodeid, []).append(path)
        # Only for the files that can settle: path -> context -> lines (as the run's Results keeps them).
        self._hits: dict[str, dict[str, frozenset[int]]] = {path: {} for path in self._waiting}
        self._lines: dict[str, FileLines] = {}
        self._decisions: dict[str, Decision] = {}
        self._ready: set[str] = set()  # settled, waiting for their line facts or their decision to arrive

    @property
    def waiting(self) -> int:
        """How many files have not settled yet (the ones the end of the run will settle)."""
        return len(self._waiting) + len(self._ready)

    def add(self, event: ev.Event) -> list[FileCoverage]:
        """Take the run's next event; the coverage of each file it settles (most events settle none)."""
        if isinstance(event, ev.TestFinished):
            nodeid = event.outcome.nodeid
            self._add_hits(nodeid, event.hits)
            for path in self._paths_of.pop(nodeid, ()):
                waiting = self._waiting.get(path)
                if waiting is not None:
                    waiting.discard(nodeid)
                    if not waiting:
                        del self._waiting[path]
                        self._ready.add(path)
        elif isinstance(event, ev.ContextHits):
            self._add_hits(event.context, event.hits)
            return []
        elif isinstance(event, ev.FilesMeasured):
            for lines in event.files:
                self._lines[lines.path] = lines
        elif isinstance(event, ev.DecisionMade):
            decision = event.decision
            # Several processes (xdist) may decide a module each: measured in one is what the store keeps.
            if decision.path and (decision.action == INSTRUMENTED or decision.path not in self._decisions):
                self._decisions[decision.path] = decision
        else:
            return []
        return self._settle() if self._ready else []

    def _add_hits(self, context: str, hits: ev.Hits) -> None:
        for path, lines in hits.items():
            per_context = self._hits.get(path)
            if per_context is None or not lines:
                continue  # a file that cannot settle early, or has settled: the end of the run covers it
            old = per_context.get(context)
            per_context[context] = frozenset(lines) if old is None else old | lines

    def _settle(self) -> list[FileCoverage]:
        settled = []
        for path in sorted(self._ready):
            lines, decision = self._lines.get(path), self._decisions.get(path)
            if decision is not None and decision.action != INSTRUMENTED:
                # Not measured this time (excluded since, a pragma...), so no line facts will come: the end of the
                # run says what became of it.
                self._ready.discard(path)
                self._hits.pop(path, None)
            elif lines is not None and decision is not None:
                self._ready.discard(path)
                settled.append(_coverage(lines, decision, self._hits.pop(path, {})))
        return settled


def _coverage(lines: FileLines, decision: Decision, per_context: Mapping[str, frozenset[int]]) -> FileCoverage:
    """A file's coverage from its contexts' lines: every line any context ran, and per line the number of tests
    (contexts besides collection) that ran it."""
    executed: set[int] = set()
    counts: Counter[int] = Counter()
    for context, ran in per_context.items():
        executed.update(ran)
        if context != COLLECTION_CONTEXT:
            counts.update(ran)
    return FileCoverage(path=lines.path, module=lines.module, decision=decision, statements=lines.statements,
                        executed=frozenset(executed), excluded=lines.excluded, hits=dict(counts))
