"""The results store (SQLite under `.covlens/`) and its exports: LCOV, coverage.py JSON, coverage.py data file."""

from covlens.store.db import Store, StoreError
from covlens.store.project import ProjectCoverage, Totals

__all__ = ["ProjectCoverage", "Store", "StoreError", "Totals"]
