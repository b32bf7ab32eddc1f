"""The old coupon codes, still accepted at checkout; excluded from coverage in pyproject.toml."""

from __future__ import annotations

COUPONS = {"WELCOME10": 10, "SPRING5": 5}


def coupon_percent(code: str | None) -> int:
    if not code:
        return 0
    return COUPONS.get(code.strip().upper(), 0)
