"""Every module imported under the hook gets a Decision with the right reason, and hits for instrumented ones."""

from __future__ import annotations

from tests.instrument.driver import FIXTURES, run_under_hook

PROJECT = FIXTURES / "hookproj"

SCRIPT = """
import sys, os
sys.path.insert(0, os.path.join(os.getcwd(), "nsroot"))
import pkg.core, pkg.sub.deep, pkg.generated, pkg.optout, legacy.old, scripts.tool
import json, pytest, array
import nspkg.mod
import tests.test_core
RESULT = [pkg.sub.deep.twice(3), pkg.optout.VALUE, nspkg.mod.NS]
"""


def test_every_imported_module_gets_the_reason_that_explains_it():
    run = run_under_hook(PROJECT, SCRIPT)
    assert run.error is None and run.result == [6, 2, 1]
    expected = {
        "pkg": "source", "pkg.core": "source", "pkg.sub.deep": "source", "legacy.old": "source",
        "nspkg.mod": "source",
        "pkg.generated": "excluded", "pkg.optout": "pragma", "scripts.tool": "outside-source",
        "json": "stdlib", "pytest": "third-party", "nspkg": "no-source", "array": "no-source",
        "tests.test_core": "test-file", "pkg.never": "not-imported",
    }
    got = {name: run.decision(name).reason for name in expected}
    assert got == expected
    assert run.decision("covlens.instrument.hook").reason == "self"  # imported before install: still self
    assert run.decision("pkg.never").action == "not-imported"


def test_instrumented_modules_report_their_executed_lines():
    run = run_under_hook(PROJECT, SCRIPT)
    assert run.hits_of(PROJECT, "pkg/core.py") == [4, 5, 8]  # coverage.py counts no docstring line
    assert run.hits_of(PROJECT, "pkg/sub/deep.py") == [1, 4, 5]
    core = run.lines[str(PROJECT / "pkg/core.py")]
    assert core["statements"] == [4, 5, 8, 9]


def test_not_imported_file_has_its_statements_for_the_report():
    run = run_under_hook(PROJECT, "import pkg.core")
    assert run.lines[str(PROJECT / "pkg/never.py")]["statements"] == [4, 5]
    assert "no test imported it" in run.decision("pkg.never").detail


def test_both_engines_give_the_same_lines_where_both_exist():
    import sys

    engines = ["ast"] + (["monitor"] if sys.version_info >= (3, 12) else [])
    runs = [run_under_hook(PROJECT, SCRIPT, engine=e) for e in engines]
    assert [r.engine for r in runs] == engines
    assert all(r.hits == runs[0].hits for r in runs)
