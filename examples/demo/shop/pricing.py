"""Discounts: a percentage off tagged products, and a bulk discount on large quantities."""

from __future__ import annotations

from decimal import Decimal

from shop.currency import money

BULK_THRESHOLD = 10
BULK_RATE = Decimal("0.05")


def percent_off(price: Decimal, percent: int) -> Decimal:
    if not 0 <= percent <= 100:
        raise ValueError(f"a discount is between 0 and 100 percent, got {percent}")
    return money(price * (100 - percent) / 100)


def bulk_price(unit_price: Decimal, quantity: int) -> Decimal:
    """The line total: 5% off the whole line from BULK_THRESHOLD items on."""
    total = unit_price * quantity
    if quantity >= BULK_THRESHOLD:
        total -= total * BULK_RATE
    return money(total)


def best_price(unit_price: Decimal, quantity: int, percent: int = 0) -> Decimal:
    """The lower of the bulk price and the percentage-off price."""
    discounted = percent_off(unit_price, percent) * quantity if percent else None
    bulk = bulk_price(unit_price, quantity)
    if discounted is not None and discounted < bulk:
        return money(discounted)
    return bulk
