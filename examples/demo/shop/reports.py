"""Sales reports for the back office; no test imports this module yet, so covlens lists it as not-imported."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from shop.currency import money


def best_sellers(orders: list[dict[str, int]], top: int = 3) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for order in orders:
        counts.update(order)
    return counts.most_common(top)


def revenue(orders: list[Decimal]) -> Decimal:
    return money(sum(orders, Decimal(0)))
