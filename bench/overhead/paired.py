"""Paired per-round ratios and a distribution-free 95% interval of their median: verdicts that noise cannot flip."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

LEVEL = 0.95

MET, MISSED, UNSETTLED = "met", "missed", "unsettled"


@dataclass(frozen=True)
class Interval:
    """The median of a row's per-round ratios, and the interval that holds the true median with LEVEL confidence."""

    median: float
    low: float
    high: float
    rounds: int

    def text(self) -> str:
        return f"{self.median:.2f}× [{self.low:.2f}–{self.high:.2f}]"


def ratios(values: dict[int, float], base: dict[int, float]) -> list[float]:
    """value / base for every round both were measured in: each pair ran minutes apart at most, under the same load."""
    return [values[r] / base[r] for r in sorted(values) if r in base and base[r] > 0]


def ranks(n: int, level: float = LEVEL) -> tuple[int, int] | None:
    """The ranks (k, n + 1 - k), 1-based, of the order statistics around the median of n samples that hold the true
    median with at least `level` confidence, k as large as it can be: the number of samples below the true median is
    Binomial(n, 1/2), whatever the distribution. None when n is too small (below 6 for 95%)."""
    best = 0
    below = 0.0  # P(Binomial(n, 1/2) < k)
    for k in range(1, n // 2 + 1):
        below += math.comb(n, k - 1) / 2 ** n
        if 2 * below > 1 - level:
            break
        best = k
    return (best, n + 1 - best) if best else None


def median_interval(samples: Sequence[float], level: float = LEVEL) -> Interval | None:
    """The median of `samples` and its distribution-free interval (`ranks`); None with too few samples."""
    xs = sorted(samples)
    found = ranks(len(xs), level)
    if found is None:
        return None
    low, high = found
    return Interval(statistics.median(xs), xs[low - 1], xs[high - 1], len(xs))


def against(interval: Interval | None, limit: float, *, strict: bool = False) -> str:
    """MET when the whole interval is within `limit` (below it when `strict`), MISSED when it is wholly beyond,
    else UNSETTLED: this run cannot tell."""
    if interval is None:
        return UNSETTLED
    within = interval.high < limit if strict else interval.high <= limit
    beyond = interval.low >= limit if strict else interval.low > limit
    return MET if within else MISSED if beyond else UNSETTLED


def verdict(checks: list[tuple[str, str]]) -> str:
    """One line for a target from (row text, MET/MISSED/UNSETTLED) of each row."""
    if not checks:
        return "not measured"
    missed = [row for row, v in checks if v == MISSED]
    unsettled = [row for row, v in checks if v == UNSETTLED]
    if missed:
        text = f"**not met** (missed beyond noise: {', '.join(missed)}"
        return text + (f"; within noise: {', '.join(unsettled)})" if unsettled else ")")
    if unsettled:
        return f"**unsettled** ({len(checks) - len(unsettled)}/{len(checks)} rows met; within noise: " \
               f"{', '.join(unsettled)})"
    return f"**met** ({len(checks)}/{len(checks)} rows)"
