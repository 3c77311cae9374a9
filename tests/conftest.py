"""Suite-wide fixtures: the shared world in every test database, per-process caches emptied between tests, settings
that make tests fast and isolated, and per-worker resources when pytest-xdist runs the suite in parallel."""

import os
import re

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from django.utils import translation
from rest_framework.test import APIClient

from tests.factories import small_city, world_build, world_exists, world_remove

_db_blocker = None  # pytest-django's blocker, kept by django_db_setup for the rebuild after a flush


def _worker_broker_url(url: str, worker: str) -> str:
    """The Redis database of this pytest-xdist worker: the given number plus the worker's (gw0 → +0, gw1 → +1 …),
    so that one worker's tests never purge or take another's tasks. Other brokers are left as they are."""
    found = re.fullmatch(r"(rediss?://[^/]*)(?:/(\d*))?", url)
    if not found or not worker.startswith("gw"):
        return url
    number = int(found.group(2) or 0) + int(worker[2:])
    if number > 15:
        raise pytest.UsageError(f"{url} plus the xdist worker number {worker} is beyond Redis database 15: "
                                "use a lower database number or fewer workers (-n)")
    return f"{found.group(1)}/{number}"


# (at import: before any test runs, and before the e2e tests hand os.environ to the worker processes they start)
_broker = _worker_broker_url(django_settings.CELERY_BROKER_URL, os.environ.get("PYTEST_XDIST_WORKER", ""))
if _broker != django_settings.CELERY_BROKER_URL:
    from config.celery import app as _celery_app

    os.environ["CELERY_BROKER_URL"] = django_settings.CELERY_BROKER_URL = _celery_app.conf.broker_url = _broker


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database as pytest-django makes it, plus the shared world (tests/factories.py), committed once:
    each test runs in a transaction rolled back after it, so the world is the same for every test."""
    global _db_blocker
    _db_blocker = django_db_blocker
    with django_db_blocker.unblock():
        _world_ensure()


def _world_ensure() -> None:
    with override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        if not world_exists():  # (a kept database, --reuse-db, has it already)
            world_build()


def _flushes_database(item: pytest.Item) -> bool:
    """A transactional test (django_db(transaction=True), transactional_db, live_server) empties every table after it."""
    marker = item.get_closest_marker("django_db")
    if marker is not None and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")
                               or (marker.args and marker.args[0])):
        return True
    return bool({"transactional_db", "live_server", "django_db_reset_sequences"} & set(item.fixturenames))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    try:
        return (yield)
    finally:
        if _db_blocker is not None and nextitem is not None and _flushes_database(item):
            with _db_blocker.unblock():
                _world_ensure()  # the flush took the world with everything else: the next test finds it again


@pytest.fixture(autouse=True)
def _fresh_grid_index(settings):
    # Every locate re-checks the geometry version (tests roll back imports between them).
    settings.GRIDLOOP_GRID_INDEX_CHECK_SECONDS = 0
    settings.GRIDLOOP_CONFIG_CHECK_SECONDS = 0


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_process_copies():
    """Each test starts with none of this process's copies of database rows (roles, sensor rules and devices, SLA
    policies, the work calendar) and the grid index re-checks its version: an earlier test's rolled-back rows cannot
    be served from them, whatever their ids."""
    from dispatch.selectors import work_calendar_invalidate
    from dispatch.sla import sla_policies_invalidate
    from events.sensors.services import sensor_config_invalidate
    from grids import selectors

    selectors._roles_cache.clear()
    selectors.grid_index_invalidate()
    sensor_config_invalidate()
    sla_policies_invalidate()
    work_calendar_invalidate()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Real hashing costs ~0.3 s per user; tests that check hashing itself set their own hasher.
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def no_world(db):
    """The database without the shared world (tests/factories.py: world_remove), for this test."""
    world_remove()


@pytest.fixture
def city(db):
    """The small city (tests/factories.py) by code: the shared world's, or built again after ``no_world``."""
    from grids.models import Region

    regions = {r.code: r for r in Region.objects.all()}
    return regions if regions else small_city()


@pytest.fixture
def api():
    return APIClient()


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def in_english():
    """For tests that check, in English, the messages of services called directly (not through a request)."""
    with translation.override("en"):
        yield


def english(client: APIClient) -> APIClient:
    """For tests that check messages in English (Chinese is the default: the catalogue translates them)."""
    client.credentials(HTTP_ACCEPT_LANGUAGE="en")
    return client


def assert_field_error(response, field: str, *words: str) -> None:
    """A 400 whose ``fields`` name ``field``, its first message containing each of ``words``."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid" and field in body["fields"], body
    for word in words:
        assert word in body["fields"][field][0], body


@pytest.hookimpl(trylast=True)  # (after pytest-django's ordering: database tests, transactional ones, the rest)
def pytest_collection_modifyitems(config, items):
    from django.db import connection

    if connection.vendor != "postgresql":
        skip = pytest.mark.skip(reason="PostgreSQL only (row locks, triggers, SKIP LOCKED): runs in CI's second pass")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)
    # The slow end-to-end tests first: under pytest-xdist one worker waits on them while the others take the rest,
    # instead of everyone else finishing and waiting for them at the end. (Order does not matter otherwise: the
    # shared world is back after every transactional test.)
    items.sort(key=lambda item: "slow" not in item.keywords)
