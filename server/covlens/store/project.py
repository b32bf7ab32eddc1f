"""ProjectCoverage: the frozen picture of a project's coverage that the store hands to the CLI, the LSP and exports."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from covlens.instrument.decision import INSTRUMENTED, NOT_IMPORTED, Decision
from covlens.model import FileCoverage, RunSummary, TestOutcome


@dataclass(frozen=True)
class Totals:
    """Summed line counts over measured files."""

    statements: int
    covered: int
    excluded: int

    @property
    def missing(self) -> int:
        return self.statements - self.covered

    @property
    def percent(self) -> float:
        return 100.0 if not self.statements else 100.0 * self.covered / self.statements


@dataclass(frozen=True)
class ProjectCoverage:
    """Coverage of the project = the union over each test's latest hits, with every module's latest decision.

    `files` holds every measured file (instrumented, or under the sources but not imported) by absolute path;
    `FileCoverage.hits` counts, per line, the tests that ran it (lines run only at import/collection time are in
    `executed` with no entry in `hits`). `decisions` holds every module's latest decision, measured or not.
    `stale` is true when the last run did not complete (cancelled, timed out, crashed, failed to start): what is
    shown is then the last complete picture plus what the unfinished run streamed for the tests that finished.
    """

    root: str
    files: Mapping[str, FileCoverage] = field(default_factory=dict)
    decisions: tuple[Decision, ...] = ()
    tests: Mapping[str, TestOutcome] = field(default_factory=dict)
    last_run: RunSummary | None = None
    last_complete_run: RunSummary | None = None
    messages: tuple[str, ...] = ()  # e.g. "the database was corrupt and has been rebuilt"

    @property
    def stale(self) -> bool:
        return self.last_run is not None and self.last_run.state != "complete"

    @cached_property
    def _by_path(self) -> dict[str, Decision]:
        return {os.path.normcase(d.path): d for d in self.decisions if d.path}

    @cached_property
    def _by_module(self) -> dict[str, Decision]:
        # Several modules can share a name across runs (a file moved); the last one recorded wins.
        return {d.module: d for d in self.decisions}

    def decision_for_path(self, path: str) -> Decision | None:
        """The latest decision for the file at `path` (absolute), if any module was loaded from it."""
        return self._by_path.get(os.path.normcase(os.path.abspath(path)))

    def decision_for_module(self, module: str) -> Decision | None:
        """The latest decision for the module named `module` (dotted)."""
        return self._by_module.get(module)

    def file(self, path: str) -> FileCoverage | None:
        """The coverage of the measured file at `path` (absolute or relative to the root)."""
        full = path if os.path.isabs(path) else os.path.join(self.root, path)
        return self.files.get(os.path.abspath(full))

    @property
    def failures(self) -> tuple[TestOutcome, ...]:
        """Tests whose latest outcome is failed or error, in nodeid order."""
        return tuple(t for _, t in sorted(self.tests.items()) if t.outcome in ("failed", "error"))

    def totals(self) -> Totals:
        """Statements, covered and excluded lines summed over measured files."""
        statements = covered = excluded = 0
        for fc in self.files.values():
            if fc.decision.action not in (INSTRUMENTED, NOT_IMPORTED):
                continue
            statements += len(fc.statements)
            covered += len(fc.covered)
            excluded += len(fc.excluded)
        return Totals(statements, covered, excluded)

    def relpath(self, path: str) -> str:
        """`path` relative to the project root when it is inside it (with forward slashes), else unchanged."""
        try:
            rel = os.path.relpath(path, self.root)
        except ValueError:  # another drive on Windows
            return path
        if rel.startswith(os.pardir):
            return path
        return rel.replace(os.sep, "/")
