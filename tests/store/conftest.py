"""A tiny project on disk and hand-made RunResults about it, for the store and export tests."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from covlens.instrument.decision import make
from covlens.model import COLLECTION_CONTEXT, COMPLETE, FileLines, RunResult, RunSummary, TestOutcome

CALC = textwrap.dedent('''\
    def add(a, b):
        return a + b


    def sub(a, b):
        return a - b


    def unused():  # pragma: no cover
        return 0
''')
NEVER = textwrap.dedent('''\
    X = 1
    def f():
        return X
''')


@dataclass(frozen=True)
class Project:
    """Paths of the fixture project: pkg/__init__.py, pkg/calc.py (imported), pkg/never.py (never imported)."""

    root: Path

    @property
    def init(self) -> str:
        return str(self.root / "pkg" / "__init__.py")

    @property
    def calc(self) -> str:
        return str(self.root / "pkg" / "calc.py")

    @property
    def never(self) -> str:
        return str(self.root / "pkg" / "never.py")

    @property
    def test_file(self) -> str:
        return str(self.root / "tests" / "test_calc.py")

    def result(
        self,
        *,
        state: str = COMPLETE,
        run_id: str = "r1",
        outcomes: Mapping[str, str] | None = None,
        hits: Mapping[str, Mapping[str, Sequence[int]]] | None = None,
        selection: tuple[str, ...] | None = None,
        imported: bool = True,
        messages: Mapping[str, str] | None = None,
    ) -> RunResult:
        """A RunResult: by default a complete run where test_add ran calc.add and test_nothing ran nothing."""
        if outcomes is None:
            outcomes = {"tests/test_calc.py::test_add": "passed", "tests/test_calc.py::test_nothing": "failed"}
        if hits is None:
            hits = {
                COLLECTION_CONTEXT: {self.calc: [1, 5, 9]},
                "tests/test_calc.py::test_add": {self.calc: [2]},
            }
        decisions = [
            make("tests.test_calc", self.test_file, "test-file", "matches test_*.py"),
            make("json", "/usr/lib/python3/json/__init__.py", "stdlib", "standard library"),
            make("pytest", "/venv/site-packages/pytest/__init__.py", "third-party", "site-packages"),
            make("sys", None, "no-source", "built-in"),
        ]
        if imported:
            decisions += [make("pkg", self.init, "source", "under pkg"),
                          make("pkg.calc", self.calc, "source", "under pkg")]
        decisions.append(make("pkg.never", self.never, "not-imported", "no test imported it"))
        messages = messages or {}
        return RunResult(
            summary=RunSummary(run_id=run_id, state=state, started=100.0, finished=101.5,
                               counts={o: list(outcomes.values()).count(o) for o in set(outcomes.values())},
                               total=len(outcomes), exit_code=1 if "failed" in outcomes.values() else 0,
                               selection=selection),
            decisions=tuple(decisions),
            outcomes=tuple(
                TestOutcome(nodeid, outcome, 0.01, self.test_file, 3, messages.get(nodeid))
                for nodeid, outcome in outcomes.items()
            ),
            hits={ctx: {p: frozenset(lines) for p, lines in per.items()} for ctx, per in hits.items()},
            files={
                self.init: FileLines(self.init, "pkg", frozenset(), frozenset()),
                self.calc: FileLines(self.calc, "pkg.calc", frozenset({1, 2, 5, 6}), frozenset({9, 10})),
                self.never: FileLines(self.never, "pkg.never", frozenset({1, 2, 3}), frozenset()),
            },
        )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text(CALC)
    (root / "pkg" / "never.py").write_text(NEVER)
    (root / "tests" / "test_calc.py").write_text(
        "from pkg.calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n")
    return Project(root)
