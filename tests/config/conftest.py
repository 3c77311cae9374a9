"""The config tests borrow the small city with its staff from the events tests."""

from tests.events.conftest import world  # noqa: F401
