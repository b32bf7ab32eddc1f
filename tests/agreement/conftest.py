"""The `pypi` marker: agreement tests that download real projects' sdists and run their suites three ways."""

from __future__ import annotations

import pytest

from tests.agreement.timings import recorded


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "pypi: downloads pinned PyPI sdists (scripts/fetch_sdist.py) and compares covlens with plain pytest and "
        "coverage.py",
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    timings = recorded(config)
    if timings:
        terminalreporter.section("PyPI agreement timings")
        for label, seconds in timings:
            terminalreporter.write_line(f"{seconds:7.1f} s  {label}")
