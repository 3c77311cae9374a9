"""Row locks on PostgreSQL: concurrent actions on one case, and case numbers under concurrent intake."""

import threading

import pytest
from django.db import connection

from config.errors import Conflict
from events.actors import Actor
from events.models import Case, CaseEvent, InboundReport
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


# --- One Idempotency-Key sent several times at once (issue 21, race 1) ----------------------------------------------
def _post_together(count, post):
    """``post()`` from ``count`` threads at once; (status, number) of each answer, or the exception it raised."""
    results = _run_together([post] * count)
    return [r if isinstance(r, Exception) else (r.status_code, r.json().get("number")) for r in results]


@pytest.mark.parametrize("channel", ["hotline", "patrol"])
def test_one_idempotency_key_posted_four_times_at_once_files_one_case(world, channel):
    """201 for the attempt that files the case, 200 with the same case for the others; never a 500."""
    from tests.conftest import client_for
    from tests.events.conftest import photo

    lat, lng = world.point
    if channel == "hotline":
        user, fields, fmt = world.operator, {"channel": "hotline", "description": "路灯不亮", "lat": lat, "lng": lng,
                                             "citizen_phone": "13812341234"}, "json"
    else:  # photos, and accepted on filing: the longer transaction
        user, fields, fmt = world.worker, {"channel": "patrol", "description": "垃圾堆放", "lat": lat, "lng": lng,
                                           "category": "E0102"}, "multipart"

    def post():
        data = dict(fields, photos=[photo()]) if fmt == "multipart" else fields
        return client_for(user).post("/api/v1/cases/", data, format=fmt, HTTP_IDEMPOTENCY_KEY="burst-1")

    answers = _post_together(4, post)
    assert sorted(a[0] if isinstance(a, tuple) else a for a in answers) == [200, 200, 200, 201], answers
    assert len({number for _status, number in answers}) == 1
    assert Case.objects.count() == 1 and InboundReport.objects.count() == 1


def test_one_idempotency_key_on_an_action_sent_four_times_at_once_acts_once(world):
    from tests.conftest import client_for

    case = file_hotline(world)

    def post():
        return client_for(world.dispatcher).post(f"/api/v1/cases/{case.number}/actions/accept/",
                                                 {"category": "E0101"}, format="json",
                                                 HTTP_IDEMPOTENCY_KEY="accept-1")

    answers = _post_together(4, post)
    assert [a[0] if isinstance(a, tuple) else a for a in answers] == [200] * 4, answers
    assert CaseEvent.objects.filter(case=case, kind="accept").count() == 1
