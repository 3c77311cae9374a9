from tests.events.conftest import world  # noqa: F401  (the shared case-test world, see tests/events/conftest.py)
