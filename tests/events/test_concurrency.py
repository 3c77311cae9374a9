"""Row locks on PostgreSQL: concurrent actions on one case, and case numbers under concurrent intake."""

import threading

import pytest
from django.db import connection

from config.errors import Conflict
from events.actors import Actor
from events.models import Case, CaseEvent
from events.services import case_act
from tests.events.conftest import file_hotline, file_patrol

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_together(functions):
    """Start every function at once in its own thread (its own DB connection); return results/exceptions."""
    barrier = threading.Barrier(len(functions))
    results = [None] * len(functions)

    def runner(index, function):
        try:
            barrier.wait(timeout=10)
            results[index] = function()
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_dispatchers_acting_at_once_exactly_one_succeeds(world):
    from grids.models import Role
    from tests.factories import make_user

    second = make_user("dispatcher2", (Role.DISPATCHER, world.regions["990101001"]))
    case = file_hotline(world)
    before = CaseEvent.objects.filter(case=case).count()

    def accept(user):
        return lambda: case_act(case=case.number, action="accept", actor=Actor.staff(user),
                                inputs={"category": world.category})

    def reject(user):
        return lambda: case_act(case=case.number, action="reject", actor=Actor.staff(user),
                                inputs={"reason": "重复"})

    results = _run_together([accept(world.dispatcher), reject(second)])
    succeeded = [r for r in results if isinstance(r, Case)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(succeeded) == 1 and len(conflicts) == 1, results
    assert CaseEvent.objects.filter(case=case).count() == before + 1
    assert Case.objects.get(pk=case.pk).state == succeeded[0].state


def test_concurrent_intake_gives_unique_consecutive_case_numbers(world):
    results = _run_together([lambda: file_patrol(world).number for _ in range(6)])
    numbers = [r for r in results if isinstance(r, str)]
    assert len(numbers) == 6, results
    assert len(set(numbers)) == 6
    sequence = sorted(int(n[-5:]) for n in numbers)
    assert sequence == list(range(sequence[0], sequence[0] + 6))
