import pytest
from django.utils import translation
from rest_framework.test import APIClient

from tests.factories import small_city


@pytest.fixture(autouse=True)
def _fresh_grid_index(settings):
    # Every locate re-checks the geometry version (tests roll back imports between them).
    settings.GRIDLOOP_GRID_INDEX_CHECK_SECONDS = 0
    settings.GRIDLOOP_CONFIG_CHECK_SECONDS = 0


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Real hashing costs ~0.3 s per user; tests that check hashing itself set their own hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def city(db):
    return small_city()


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


def pytest_collection_modifyitems(config, items):
    from django.db import connection

    if connection.vendor != "postgresql":
        skip = pytest.mark.skip(reason="PostgreSQL only (row locks, triggers, SKIP LOCKED): runs in CI's second pass")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)
