"""Every corpus module under every engine: statements, excluded lines and executed lines equal coverage.py's."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from covlens.instrument.engine import create_engine, monitoring_available
from covlens.instrument.lines import SourceLines, analyze
from covlens.instrument.recorder import FileHits
from tests.agreement.corpus_driver import run_module

AGREEMENT = Path(__file__).resolve().parent
CORPUS = AGREEMENT.parent / "corpus"
DRIVER = AGREEMENT / "corpus_driver.py"
REQUIRES = re.compile(r"^# covlens-corpus: requires (\d+)\.(\d+)$", re.MULTILINE)

# The monitor engine is part of the contract wherever sys.monitoring exists: no skip-if-missing.
ENGINES = ["ast", "monitor"] if monitoring_available() else ["ast"]


def _runs_here(path: Path) -> bool:
    """Corpus modules using newer syntax say so (`# covlens-corpus: requires 3.11`); older Pythons leave them out."""
    found = REQUIRES.search(path.read_text(encoding="latin-1"))
    return found is None or sys.version_info >= (int(found[1]), int(found[2]))


MODULES = [path for path in sorted(CORPUS.glob("*.py")) if _runs_here(path)]


def _source(path: Path) -> str:
    # As the import system decodes it: BOM and encoding cookie honoured, universal newlines.
    return importlib.util.decode_source(path.read_bytes())


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, dict[str, Any]]:
    """coverage.py's JSON report for one subprocess running every corpus module, by resolved path."""
    work = tmp_path_factory.mktemp("coverage-oracle")
    rcfile = work / "empty.coveragerc"  # default settings, whatever config files lie around
    rcfile.write_text("")
    data = work / ".coverage"
    report = work / "coverage.json"
    env = {k: v for k, v in os.environ.items() if k not in ("COVERAGE_PROCESS_START", "COVERAGE_RCFILE")}
    common = [f"--rcfile={rcfile}", f"--data-file={data}"]
    run = subprocess.run(
        [sys.executable, "-m", "coverage", "run", *common, str(DRIVER), *map(str, MODULES)],
        cwd=work, env=env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, f"the corpus failed under coverage.py:\n{run.stdout}\n{run.stderr}"
    subprocess.run(
        [sys.executable, "-m", "coverage", "json", *common, "-q", "-o", str(report)],
        cwd=work, env=env, check=True, capture_output=True, timeout=120,
    )
    files = json.loads(report.read_text())["files"]
    return {(work / name).resolve(): facts for name, facts in files.items()}


def _coverage_facts(oracle: dict[Path, dict[str, Any]], module: Path) -> dict[str, frozenset[int]]:
    facts = oracle.get(module.resolve())
    assert facts is not None, f"coverage.py did not measure {module.name}; measured: {sorted(p.name for p in oracle)}"
    executed = frozenset(facts["executed_lines"])
    return {
        "statements": executed | frozenset(facts["missing_lines"]),
        "excluded": frozenset(facts["excluded_lines"]),
        "executed": executed,
    }


def _run_with_engine(module: Path, engine_name: str) -> tuple[SourceLines, frozenset[int]]:
    """Compile `module` with the engine, run it and its main() in a fresh module, return its reported lines."""
    source = _source(module)
    lines = analyze(source, str(module))
    target = FileHits(str(module), module.stem, lines)
    engine = create_engine(engine_name)
    try:
        code, extra = engine.compile(source, str(module), target)
        run_module(str(module), f"covlens_corpus_{engine_name}_{module.stem}", code, extra)
    finally:
        engine.close()
    return lines, lines.reported(target.hits)


def _diff(label: str, ours: frozenset[int], theirs: frozenset[int]) -> str:
    return f"{label}: only covlens {sorted(ours - theirs)}, only coverage.py {sorted(theirs - ours)}"


def _ids(paths: list[Path]) -> Iterator[str]:
    return (path.stem for path in paths)


@pytest.mark.parametrize("module", MODULES, ids=list(_ids(MODULES)))
def test_statements_and_exclusions_agree_with_coverage(module: Path, oracle: dict[Path, dict[str, Any]]) -> None:
    theirs = _coverage_facts(oracle, module)
    lines = analyze(_source(module), str(module))
    assert lines.statements == theirs["statements"], _diff("statements", lines.statements, theirs["statements"])
    assert lines.excluded == theirs["excluded"], _diff("excluded", lines.excluded, theirs["excluded"])


@pytest.mark.parametrize("engine_name", ENGINES)
@pytest.mark.parametrize("module", MODULES, ids=list(_ids(MODULES)))
def test_executed_lines_agree_with_coverage(module: Path, engine_name: str, oracle: dict[Path, dict[str, Any]]) -> None:
    theirs = _coverage_facts(oracle, module)
    _, reported = _run_with_engine(module, engine_name)
    assert reported == theirs["executed"], _diff("executed", reported, theirs["executed"])


def test_corpus_leaves_lines_unexecuted_so_agreement_means_something(oracle: dict[Path, dict[str, Any]]) -> None:
    # Only the modules made of exclusions or of nothing at all may run every statement they have.
    whole = {"empty_module", "only_docstring", "pragmas", "type_checking"}
    for module in MODULES:
        facts = _coverage_facts(oracle, module)
        if module.stem not in whole:
            assert facts["statements"] - facts["executed"], f"{module.name} runs every line: make main() skip some"
