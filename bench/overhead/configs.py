"""What is measured: the suites (our workloads, toolz, boltons) and the configurations, as command lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Same for every configuration: pytest quiet, no cache plugin writing between runs.
PYTEST_COMMON = ("-q", "-p", "no:cacheprovider")
# The plugin that times a suite's session inside pytest (plugins/bench_session.py), on PYTHONPATH for every run.
PLUGINS = Path(__file__).resolve().parent / "plugins"
SESSION_PLUGIN = ("-p", "bench_session")


@dataclass(frozen=True)
class Suite:
    """A test suite: where it comes from, how its CI runs it, and which package is the code under measurement."""

    name: str
    pytest_args: tuple[str, ...]
    package: str  # what coverage.py and slipcover measure (covlens: from [tool.coverage.run] or [tool.covlens])
    covlens_source: bool  # write `source = [package]` into [tool.covlens] (else it comes from [tool.coverage.run])
    coverage_source_arg: bool  # pass --source to coverage.py (else its pyproject says it)
    omit: tuple[str, ...] = ()  # slipcover's --omit, matching the project's [tool.coverage.run] omit
    per_test: bool = False  # our conftest writes per-test call timings
    session: bool = False  # plugins/bench_session.py times the session inside pytest (collection and tests)


SUITES = {
    "workloads": Suite("workloads", (), "benchwork", covlens_source=False, coverage_source_arg=False, per_test=True),
    # testpaths and [tool.coverage.run] source/omit from its own pyproject.toml, as its CI runs it.
    "toolz": Suite("toolz", (), "toolz", covlens_source=False, coverage_source_arg=False,
                   omit=("toolz/tests/test*", "toolz/*/tests/test*", "toolz/compatibility.py"), session=True),
    # tox.ini: pytest --doctest-modules boltons tests
    "boltons": Suite("boltons", ("--doctest-modules", "boltons", "tests"), "boltons", covlens_source=True,
                     coverage_source_arg=True, session=True),
}


@dataclass(frozen=True)
class Config:
    """One way of running a suite. `tool` picks the command line; the rest are its settings."""

    name: str
    tool: str  # plain | covlens | coverage | slipcover
    label: str
    engine: str | None = None  # covlens --engine
    contexts: bool = True  # covlens [tool.covlens] contexts
    env: dict[str, str] = field(default_factory=dict, hash=False)
    needs_monitoring: bool = False  # 3.12+ only

    def command(self, python: str, suite: Suite, folder: Path, out: Path) -> list[str]:
        pytest_args = [*PYTEST_COMMON, *(SESSION_PLUGIN if suite.session else ()), *suite.pytest_args]
        if self.tool == "plain":
            return [python, "-m", "pytest", *pytest_args]
        if self.tool == "covlens":
            return [python, "-m", "covlens", "run", "--quiet", "--json", str(out), "--engine", str(self.engine),
                    "--", *pytest_args]
        if self.tool == "coverage":
            source = [f"--source={suite.package}"] if suite.coverage_source_arg else []
            return [python, "-m", "coverage", "run", f"--data-file={out}", *source, "-m", "pytest", *pytest_args]
        if self.tool == "slipcover":
            omit = ["--omit", ",".join(suite.omit)] if suite.omit else []
            return [python, "-m", "slipcover", "--source", suite.package, *omit, "--json", "--out", str(out),
                    "-m", "pytest", *pytest_args]
        raise ValueError(f"unknown tool {self.tool!r}")

    def covlens_table(self, suite: Suite) -> str:
        """The [tool.covlens] table appended to the project's pyproject.toml for this configuration."""
        lines = ["", "", "[tool.covlens]  # written by bench/overhead/run.py"]
        if suite.covlens_source:
            lines.append(f'source = ["{suite.package}"]')
        lines.append(f"contexts = {'true' if self.contexts else 'false'}")
        return "\n".join(lines) + "\n"


CONFIGS = [
    Config("plain", "plain", "plain pytest"),
    Config("covlens-ast", "covlens", "covlens AST", engine="ast", contexts=True),
    Config("covlens-ast-noctx", "covlens", "covlens AST, contexts off", engine="ast", contexts=False),
    Config("covlens-monitor", "covlens", "covlens monitor", engine="monitor", contexts=True, needs_monitoring=True),
    Config("covlens-monitor-noctx", "covlens", "covlens monitor, contexts off", engine="monitor", contexts=False,
           needs_monitoring=True),
    Config("coverage", "coverage", "coverage.py (default core)"),
    Config("coverage-sysmon", "coverage", "coverage.py (sysmon core)", env={"COVERAGE_CORE": "sysmon"},
           needs_monitoring=True),
    Config("slipcover", "slipcover", "slipcover"),
]
BY_NAME = {c.name: c for c in CONFIGS}

# Left out by default to keep a full run under ~25 minutes on two busy cores (the targets do not need them).
DEFAULT_SKIP = {"3.13": {"covlens-ast-noctx"}}


def configs_for(version: str, monitoring: bool, only: list[str] | None = None) -> list[Config]:
    chosen = [c for c in CONFIGS if (monitoring or not c.needs_monitoring)]
    if only:
        chosen = [c for c in chosen if c.name in only or c.name == "plain"]
    else:
        chosen = [c for c in chosen if c.name not in DEFAULT_SKIP.get(version, set())]
    return chosen
