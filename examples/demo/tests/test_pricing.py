"""Discount rules."""

from decimal import Decimal

from shop.pricing import bulk_price, percent_off


def test_percent_off():
    assert percent_off(Decimal("20.00"), 25) == Decimal("15.00")


def test_no_bulk_discount_below_threshold():
    assert bulk_price(Decimal("2.00"), 9) == Decimal("18.00")


def test_bulk_discount_from_ten_items():
    # Fails on purpose, so that the demo shows how covlens reports a failure: the bulk rate is 5%, not 10%.
    assert bulk_price(Decimal("2.00"), 10) == Decimal("18.00")
