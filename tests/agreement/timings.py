"""Wall times of the agreement runs, kept on the pytest config and printed in the terminal summary."""

from __future__ import annotations

import pytest

TIMINGS = pytest.StashKey[list[tuple[str, float]]]()


def record_timing(config: pytest.Config, label: str, seconds: float) -> None:
    """Keep a run's wall time: not a speed gate, but a slowdown shows up in every CI log."""
    config.stash.setdefault(TIMINGS, []).append((label, seconds))


def recorded(config: pytest.Config) -> list[tuple[str, float]]:
    return config.stash.get(TIMINGS, [])
