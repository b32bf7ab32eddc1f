"""Real projects' test suites under covlens: same outcomes as plain pytest, same executed lines as coverage.py."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scripts import fetch_sdist
from tests.agreement.timings import record_timing

pytestmark = [pytest.mark.pypi, pytest.mark.timeout(600)]

RUN_TIMEOUT = 300  # seconds per run of a suite; each runs in seconds, this only stops a hang

# Plugins installed in covlens's own test venv that the projects never asked for: pytest-asyncio warns at
# configure time, which toolz's `filterwarnings = error` turns into an INTERNALERROR. Same args for all three runs.
FOREIGN_PLUGINS = ("-p", "no:asyncio", "-p", "no:pytest-lsp", "-p", "no:slipcover", "-p", "no:cacheprovider")


@dataclass(frozen=True)
class Project:
    name: str
    pytest_args: tuple[str, ...]  # as the project's own CI runs its suite, from the project folder
    packages: tuple[str, ...]  # top-level package folders whose non-test files are compared line by line
    min_files: int  # files coverage.py must report with executed lines, or the harness measured nothing


PROJECTS = [
    # testpaths = ["toolz"] and [tool.coverage.run] source/omit come from its pyproject.toml.
    Project("toolz", (), ("toolz", "tlz"), min_files=10),
    # tox.ini: pytest --doctest-modules boltons tests (doctests import every module through the import system).
    Project("boltons", ("--doctest-modules", "boltons", "tests"), ("boltons",), min_files=25),
]


# Both engines wherever they can run: they must agree with coverage.py, and so with each other.
ENGINES = ["ast", "monitor"] if sys.version_info >= (3, 12) else ["ast"]


@dataclass(frozen=True)
class Run:
    """One run of a project's suite: how it ended, each test's outcome, and the JSON coverage report if any."""

    label: str
    returncode: int
    output: str
    outcomes: Counter[tuple[str, str]]  # (test id, outcome) -> count; a test can fail in call and error in teardown
    report: dict[str, Any] | None
    seconds: float

    def counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for (_, outcome), n in self.outcomes.items():
            counts[outcome] += n
        return counts

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


@dataclass(frozen=True)
class Suite:
    project: Project
    folder: Path
    plain: Run
    coverage: Run
    bytecode_before_covlens: dict[str, tuple[int, int]]


def subprocess_env(folder: Path, coverage_file: Path) -> dict[str, str]:
    # Nothing from the outer pytest (xdist worker ids, PYTEST_ADDOPTS, PYTEST_CURRENT_TEST) or an outer coverage
    # measurement may leak into the project's runs; the project folder comes first on the path in all three.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_CORE_", "COVERAGE_"))}
    env["PYTHONPATH"] = str(folder)
    env["COVERAGE_FILE"] = str(coverage_file)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the bytecode check needs the plain run to write .pyc files
    return env


def read_outcomes(junit: Path) -> Counter[tuple[str, str]]:
    outcomes: Counter[tuple[str, str]] = Counter()
    for case in ET.parse(junit).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        skipped = case.find("skipped")
        if case.find("failure") is not None:
            outcome = "failed"
        elif case.find("error") is not None:
            outcome = "error"
        elif skipped is not None:
            outcome = "xfailed" if skipped.get("type") == "pytest.xfail" else "skipped"
        else:
            outcome = "passed"
        outcomes[(test_id, outcome)] += 1
    return outcomes


def run_suite(label: str, command: list[str], folder: Path, env: dict[str, str], junit: Path,
              json_report: Path | None) -> Run:
    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL
    )
    seconds = time.perf_counter() - started
    output = f"$ {' '.join(command)}\n(exit {result.returncode})\n{result.stdout}{result.stderr}"
    assert junit.is_file(), f"{label}: no junit XML at {junit}; did the run start pytest at all?\n{output[-6000:]}"
    report = json.loads(json_report.read_text()) if json_report is not None and json_report.is_file() else None
    return Run(label, result.returncode, output, read_outcomes(junit), report, seconds)


def pyc_snapshot(folder: Path, project: Project) -> dict[str, tuple[int, int]]:
    """(mtime, size) of every cached .pyc of the project's own modules."""
    return {
        str(pyc.relative_to(folder)): (pyc.stat().st_mtime_ns, pyc.stat().st_size)
        for package in project.packages
        for pyc in (folder / package).rglob("*.pyc")
    }


def is_test_file(relative: str) -> bool:
    parts = relative.split("/")
    return any(part in ("tests", "test", "testing") for part in parts[:-1]) or parts[-1].startswith("test_") or (
        parts[-1] == "conftest.py"
    )


def project_lines(
    report: dict[str, Any], folder: Path, project: Project, key: str = "executed_lines"
) -> dict[str, frozenset[int]]:
    """One line list (`key`) per project module (tests left out), keyed by posix path relative to the project folder."""
    root = folder.resolve()
    out: dict[str, frozenset[int]] = {}
    for name, facts in report["files"].items():
        path = Path(name)
        path = (path if path.is_absolute() else root / path).resolve()
        try:
            relative = path.relative_to(root).as_posix()
        except ValueError:
            continue  # outside the project (covlens or coverage.py measuring something else entirely)
        if relative.split("/")[0] in project.packages and not is_test_file(relative):
            out[relative] = frozenset(facts[key])
    return out


def decisions_mentioning(report: dict[str, Any], relative: str) -> str:
    """Whatever the covlens section says about one file, for the failure message (its shape is covlens's own)."""
    section = report.get("covlens", {})
    entries = section.get("decisions", section) if isinstance(section, dict) else section
    items = entries.items() if isinstance(entries, dict) else enumerate(entries if isinstance(entries, list) else [])
    found = [json.dumps(value) for key, value in items if relative in str(key) or relative in json.dumps(value)]
    return "; ".join(found) or "(no decision found)"


def covlens_command(engine: str, json_report: Path, pytest_args: list[str]) -> list[str]:
    script = shutil.which("covlens", path=str(Path(sys.executable).parent))
    launcher = [script] if script else [sys.executable, "-m", "covlens"]
    exports = json_report.with_suffix("")
    return [*launcher, "run", "--engine", engine, "--json", str(json_report),
            "--coverage-data", f"{exports}.coverage", "--lcov", f"{exports}.lcov", "--", *pytest_args]


@pytest.fixture(scope="module")
def suites() -> dict[str, Suite]:
    """Suites already run, by project: pytest may tear `suite` down between its params (when the engine param of
    `covlens_run` interleaves them), and each project's plain and coverage.py runs must still happen only once."""
    return {}


# Under xdist every worker that draws one of a project's tests repeats its runs (correct, only slower).
@pytest.fixture(scope="module", params=PROJECTS, ids=[p.name for p in PROJECTS])
def suite(request: pytest.FixtureRequest, suites: dict[str, Suite], tmp_path_factory: pytest.TempPathFactory) -> Suite:
    project: Project = request.param
    if project.name not in suites:
        suites[project.name] = run_plain_and_coverage(project, request.config, tmp_path_factory)
    return suites[project.name]


def run_plain_and_coverage(project: Project, config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Suite:
    source = fetch_sdist.fetch(project.name)
    work = tmp_path_factory.mktemp(f"pypi-{project.name}")
    folder = work / source.name
    shutil.copytree(source, folder)  # the cache stays pristine: runs write .pyc, junit files, coverage data
    args = [*FOREIGN_PLUGINS, *project.pytest_args]
    env = subprocess_env(folder, work / ".coverage")

    plain = run_suite(
        "plain pytest", [sys.executable, "-m", "pytest", "-q", *args, f"--junitxml={work / 'plain.xml'}"],
        folder, env, work / "plain.xml", None,
    )  # fmt: skip

    measured = run_suite(
        "coverage.py",
        [sys.executable, "-m", "coverage", "run", "-m", "pytest", "-q", *args, f"--junitxml={work / 'coverage.xml'}"],
        folder, env, work / "coverage.xml", None,
    )  # fmt: skip
    started = time.perf_counter()
    reported = subprocess.run(
        [sys.executable, "-m", "coverage", "json", "-o", str(work / "coverage.json")],
        cwd=folder, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert reported.returncode == 0, f"coverage json failed:\n{reported.stdout}{reported.stderr}"
    coverage_run = dataclasses.replace(
        measured,
        report=json.loads((work / "coverage.json").read_text()),
        seconds=measured.seconds + time.perf_counter() - started,
    )
    record_timing(config, f"{project.name}: plain pytest", plain.seconds)
    record_timing(config, f"{project.name}: coverage.py run + json", coverage_run.seconds)
    return Suite(project, folder, plain, coverage_run, pyc_snapshot(folder, project))


@pytest.fixture(scope="module", params=ENGINES)
def covlens_run(suite: Suite, request: pytest.FixtureRequest) -> Run:
    engine: str = request.param
    work = suite.folder.parent
    env = subprocess_env(suite.folder, work / f".coverage-covlens-{engine}")
    json_report = work / f"covlens-{engine}.json"
    junit = work / f"covlens-{engine}.xml"
    pytest_args = [*FOREIGN_PLUGINS, *suite.project.pytest_args, f"--junitxml={junit}"]
    started = time.perf_counter()
    try:
        command = covlens_command(engine, json_report, pytest_args)
        run = run_suite(f"covlens ({engine})", command, suite.folder, env, junit, json_report)
    finally:
        label = f"{suite.project.name}: covlens run, {engine} engine"
        record_timing(request.config, label, time.perf_counter() - started)
    assert run.report is not None, f"covlens wrote no JSON report\n{run.tail()}"
    used = run.report.get("covlens", {}).get("last_run", {}).get("engine")
    assert used == engine, f"asked for the {engine} engine, the report says {used!r}"
    return run


def outcome_mismatch(expected: Run, actual: Run) -> str:
    only_expected = sorted((expected.outcomes - actual.outcomes).elements())
    only_actual = sorted((actual.outcomes - expected.outcomes).elements())
    return (
        f"{expected.label}: {dict(expected.counts())} (exit {expected.returncode}), "
        f"{actual.label}: {dict(actual.counts())} (exit {actual.returncode})\n"
        f"only under {expected.label}: {only_expected[:20]}\nonly under {actual.label}: {only_actual[:20]}\n"
        f"--- {actual.label} output (tail)\n{actual.tail()}"
    )


def test_plain_run_of_the_suite_passes(suite: Suite) -> None:
    # The baseline itself must be healthy, or "same outcomes" would prove little.
    counts = suite.plain.counts()
    assert suite.plain.returncode == 0, suite.plain.tail()
    assert counts["passed"] > 100 and counts["failed"] == counts["error"] == 0, dict(counts)


def test_coverage_py_run_keeps_plain_outcomes(suite: Suite) -> None:
    # The harness's own check: a measured run changes no outcome, so any covlens difference below is covlens's.
    assert suite.coverage.outcomes == suite.plain.outcomes, outcome_mismatch(suite.plain, suite.coverage)
    assert suite.coverage.returncode == suite.plain.returncode
    assert suite.coverage.report is not None
    files = project_lines(suite.coverage.report, suite.folder, suite.project)
    assert sum(1 for lines in files.values() if lines) >= suite.project.min_files, sorted(files)


def test_covlens_run_keeps_plain_outcomes(suite: Suite, covlens_run: Run) -> None:
    assert covlens_run.outcomes == suite.plain.outcomes, outcome_mismatch(suite.plain, covlens_run)
    assert covlens_run.counts() == suite.plain.counts()
    assert covlens_run.returncode == suite.plain.returncode, covlens_run.tail()


def compare_lines(suite: Suite, covlens_run: Run, key: str) -> None:
    assert covlens_run.report is not None, f"covlens wrote no JSON report\n{covlens_run.tail()}"
    assert "covlens" in covlens_run.report, "the JSON report has no covlens section (decisions)"
    assert suite.coverage.report is not None
    expected = project_lines(suite.coverage.report, suite.folder, suite.project, key)
    actual = project_lines(covlens_run.report, suite.folder, suite.project, key)

    disagreements = []
    for relative in sorted(set(expected) | set(actual)):
        # A file missing from one report counts as "no such lines" there (e.g. omitted, or never imported).
        want, got = expected.get(relative, frozenset()), actual.get(relative, frozenset())
        if want != got:
            disagreements.append(
                f"{relative}: only coverage.py {sorted(want - got)[:30]}, only covlens {sorted(got - want)[:30]} "
                f"({len(want)} vs {len(got)} lines); "
                f"covlens decision: {decisions_mentioning(covlens_run.report, relative)}"
            )
    assert not disagreements, (
        f"{key}: {len(disagreements)} of {len(set(expected) | set(actual))} files disagree with coverage.py:\n"
        + "\n".join(disagreements)
    )


def test_covlens_executed_lines_equal_coverage_py(suite: Suite, covlens_run: Run) -> None:
    compare_lines(suite, covlens_run, "executed_lines")


def test_covlens_missing_lines_equal_coverage_py(suite: Suite, covlens_run: Run) -> None:
    # Same statements, not only the same hits: the editor paints missed lines too.
    compare_lines(suite, covlens_run, "missing_lines")


def test_covlens_writes_no_bytecode_for_project_modules(suite: Suite, covlens_run: Run) -> None:
    # The plain run cached every project module's .pyc; instrumented code must never replace one of them.
    assert suite.bytecode_before_covlens, "the plain run wrote no .pyc files to compare against"
    assert pyc_snapshot(suite.folder, suite.project) == suite.bytecode_before_covlens


def test_covlens_exports_load_in_coverage_py_with_the_same_lines(
    suite: Suite, covlens_run: Run, request: pytest.FixtureRequest
) -> None:
    engine = request.node.callspec.params["covlens_run"]
    exports = suite.folder.parent / f"covlens-{engine}"
    env = subprocess_env(suite.folder, suite.folder.parent / ".coverage-unused")
    # coverage.py itself reads covlens's data file: report, and JSON to compare lines with its own run.
    for command in (["report"], ["json", "-o", f"{exports}.from-data.json"]):
        done = subprocess.run(
            [sys.executable, "-m", "coverage", *command, f"--data-file={exports}.coverage"],
            cwd=suite.folder, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode == 0, f"coverage {command[0]} on covlens's data file failed:\n{done.stdout}{done.stderr}"
    from_data = dataclasses.replace(covlens_run, report=json.loads(Path(f"{exports}.from-data.json").read_text()))
    from_data.report.setdefault("covlens", {})  # coverage.py's own JSON has no decisions section
    compare_lines(suite, from_data, "executed_lines")
    lcov = Path(f"{exports}.lcov").read_text()
    for relative in project_lines(suite.coverage.report, suite.folder, suite.project, "executed_lines"):
        assert f"SF:{suite.folder / relative}" in lcov or f"SF:{relative}" in lcov, f"{relative} missing from LCOV"
