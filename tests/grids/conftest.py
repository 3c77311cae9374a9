"""The grids tests build their own geography and staff (``city`` is the small city again): they start without the
shared world."""

import pytest


@pytest.fixture(autouse=True)
def _without_world(request):
    if "_django_db_helper" in request.fixturenames or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("no_world")
