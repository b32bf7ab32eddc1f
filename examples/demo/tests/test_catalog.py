"""The catalog finds products by SKU, name and tag."""

import pytest


def test_get_by_sku(catalog):
    assert catalog.get("TEA-01").name == "Green tea"


def test_unknown_sku_is_a_lookup_error(catalog):
    with pytest.raises(LookupError):
        catalog.get("NOPE")


def test_search_is_case_insensitive(catalog):
    assert [p.sku for p in catalog.search("TEA")] == ["TEA-01", "TEA-02"]


def test_slug(catalog):
    assert catalog.get("MUG-01").slug == "blue-mug"
