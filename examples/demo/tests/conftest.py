"""Fixtures for the shop's tests."""

import pytest

from testsupport.factories import small_catalog


@pytest.fixture
def catalog():
    return small_catalog()
