"""The products the shop sells, found by SKU or by name."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from shop._vendored import slugify
from shop.currency import money


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal
    tags: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        return slugify(self.name)


class Catalog:
    def __init__(self, products: list[Product] | None = None) -> None:
        self._by_sku = {p.sku: p for p in products or []}

    def add(self, product: Product) -> None:
        if product.sku in self._by_sku:
            raise ValueError(f"duplicate SKU {product.sku}")
        self._by_sku[product.sku] = product

    def get(self, sku: str) -> Product:
        try:
            return self._by_sku[sku]
        except KeyError:
            raise LookupError(f"no product with SKU {sku!r}") from None

    def search(self, text: str) -> list[Product]:
        text = text.lower()
        return [p for p in self._by_sku.values() if text in p.name.lower()]

    def tagged(self, tag: str) -> list[Product]:
        return [p for p in self._by_sku.values() if tag in p.tags]

    @classmethod
    def from_json(cls, text: str) -> Catalog:
        rows = json.loads(text)
        return cls([Product(r["sku"], r["name"], money(r["price"]), tuple(r.get("tags", ()))) for r in rows])
