"""The suite's own machinery (tests/conftest.py): the shared world, ``no_world``, and each xdist worker's broker."""

import pytest

from events.models import Category
from grids.models import Department, Region, User
from tests.conftest import _worker_broker_url
from tests.events.conftest import world  # noqa: F401  (the fixture)
from tests.factories import WORLD_CATEGORY, WORLD_USERS, world_exists


@pytest.mark.parametrize("url, worker, expected", [
    ("redis://127.0.0.1:6379/13", "gw0", "redis://127.0.0.1:6379/13"),
    ("redis://127.0.0.1:6379/13", "gw1", "redis://127.0.0.1:6379/14"),
    ("redis://:secret@redis.example.org:6380/3", "gw2", "redis://:secret@redis.example.org:6380/5"),
    ("redis://127.0.0.1:6379", "gw1", "redis://127.0.0.1:6379/1"),  # (no number: database 0)
    ("redis://127.0.0.1:6379/13", "", "redis://127.0.0.1:6379/13"),  # not under xdist
    ("filesystem://", "gw1", "filesystem://"),
    ("amqp://guest@127.0.0.1//", "gw1", "amqp://guest@127.0.0.1//"),
])
def test_each_xdist_worker_gets_its_own_redis_database(url, worker, expected):
    assert _worker_broker_url(url, worker) == expected


def test_a_worker_number_beyond_the_last_redis_database_is_refused_with_what_to_do():
    with pytest.raises(pytest.UsageError, match="fewer workers"):
        _worker_broker_url("redis://127.0.0.1:6379/15", "gw1")


def test_every_test_database_holds_the_shared_world(db):
    assert world_exists()
    assert Category.objects.filter(code=WORLD_CATEGORY).exists() and Region.objects.filter(code="990101001001001").exists()


def test_a_test_may_change_the_world_in_its_transaction(world):  # noqa: F811
    world.worker.delete()
    Department.objects.filter(pk=world.dept_y.pk).update(name="改名")
    assert not world_exists()


def test_the_changes_of_an_earlier_test_are_gone(world):  # noqa: F811  # (the one above, when they run in one process)
    assert world_exists() and world.dept_y.name != "改名"


def test_no_world_empties_the_world_tables_for_the_test(no_world):
    assert not User.objects.exists() and not Department.objects.exists()
    assert not Region.objects.exists() and not Category.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_starts_with_the_world_too(world):  # noqa: F811
    assert sorted(User.objects.values_list("username", flat=True)) == sorted(WORLD_USERS)
