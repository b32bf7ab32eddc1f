"""Ready-made catalogs for the tests."""

from __future__ import annotations

from shop.catalog import Catalog

CATALOG_JSON = """[
  {"sku": "TEA-01", "name": "Green tea", "price": "4.50", "tags": ["tea"]},
  {"sku": "TEA-02", "name": "Black tea", "price": "3.90", "tags": ["tea"]},
  {"sku": "MUG-01", "name": "Blue mug", "price": "12.00", "tags": ["kitchen"]}
]"""


def small_catalog() -> Catalog:
    return Catalog.from_json(CATALOG_JSON)
