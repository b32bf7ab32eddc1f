"""A module that is only a docstring."""
