"""Money amounts as Decimal cents, and how to show them."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")


def money(value: str | int | float | Decimal) -> Decimal:
    """An amount rounded to the cent, the way the shop's accounts do it."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def show(amount: Decimal, symbol: str = "€") -> str:
    """'€12.50'; negative amounts as '-€3.00'."""
    if amount < 0:
        return f"-{symbol}{-amount:.2f}"
    return f"{symbol}{amount:.2f}"
