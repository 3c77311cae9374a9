"""The config tests borrow the small city with its staff from the events tests; ``collector`` puts the garbage
collector's settings back after a test changed them."""

import gc

import pytest

from tests.events.conftest import world  # noqa: F401


@pytest.fixture
def collector():
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)
