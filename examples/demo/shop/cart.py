"""A shopping cart: lines of products and quantities, with its total after discounts."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from shop.catalog import Catalog
from shop.currency import money, show
from shop.legacy import coupon_percent
from shop.pricing import best_price


@dataclass
class Cart:
    catalog: Catalog
    lines: dict[str, int] = field(default_factory=dict)
    coupon: str | None = None

    def add(self, sku: str, quantity: int = 1) -> None:
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        self.catalog.get(sku)  # unknown SKUs fail here, not at checkout
        self.lines[sku] = self.lines.get(sku, 0) + quantity

    def remove(self, sku: str, quantity: int | None = None) -> None:
        if sku not in self.lines:
            return
        if quantity is None or quantity >= self.lines[sku]:
            del self.lines[sku]
        else:
            self.lines[sku] -= quantity

    def total(self) -> Decimal:
        percent = coupon_percent(self.coupon)
        total = Decimal(0)
        for sku, quantity in self.lines.items():
            total += best_price(self.catalog.get(sku).price, quantity, percent)
        return money(total)

    def receipt(self) -> str:
        rows = []
        for sku, quantity in sorted(self.lines.items()):
            product = self.catalog.get(sku)
            rows.append(f"{quantity} x {product.name}: {show(product.price * quantity)}")
        rows.append(f"total: {show(self.total())}")
        return "\n".join(rows)
