"""A tiny shop: a catalog, a cart, prices and discounts, and reports nobody tests yet."""

__version__ = "1.0.0"
