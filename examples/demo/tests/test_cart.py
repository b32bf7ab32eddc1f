"""The cart adds, removes and totals lines."""

from decimal import Decimal

import pytest

from shop.cart import Cart


def test_total_of_two_lines(catalog):
    cart = Cart(catalog)
    cart.add("TEA-01", 2)
    cart.add("MUG-01")
    assert cart.total() == Decimal("21.00")


def test_remove_part_of_a_line(catalog):
    cart = Cart(catalog)
    cart.add("TEA-02", 3)
    cart.remove("TEA-02", 1)
    assert cart.lines == {"TEA-02": 2}


def test_quantity_must_be_positive(catalog):
    with pytest.raises(ValueError):
        Cart(catalog).add("TEA-01", 0)


def test_coupon_applies_to_every_line(catalog):
    cart = Cart(catalog, coupon="welcome10")
    cart.add("MUG-01")
    assert cart.total() == Decimal("10.80")
