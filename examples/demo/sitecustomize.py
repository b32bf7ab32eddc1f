"""Imported by Python at start-up when this folder is on PYTHONPATH: it loads shop.currency before covlens can see it."""

# Registering the shop's money format for the whole interpreter is the kind of start-up import real projects do;
# covlens reports shop and shop.currency as `already-imported` (by this file) because their code ran before the
# import hook was installed.
import shop.currency  # noqa: F401
