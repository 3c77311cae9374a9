"""Guards added after review: merge stays inside the dispatcher's area, reopen clears the old rating, API-style
inputs (category code, plain dates) are accepted."""

from datetime import date, timedelta

import pytest
import time_machine
from django.utils import timezone

from config.errors import InvalidInput
from events.actors import Actor
from events.models import Case, CaseEvent, CaseState
from events.services import allowed_actions
from tests.events.conftest import act, file_hotline, file_patrol, photo
from tests.factories import grid_center

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("in_english")
def test_a_dispatcher_cannot_merge_into_a_case_of_another_street(world):
    mine = file_hotline(world)
    lat, lng = grid_center("990101002001001")
    other = file_hotline(world, lat=lat, lng=lng)
    events_before = CaseEvent.objects.count()
    with pytest.raises(InvalidInput, match="in your area") as refused:
        act(mine, "merge", world.dispatcher, target=other.number)
    assert refused.value.field == "target"
    with pytest.raises(InvalidInput, match="in your area"):  # the same answer for a number that does not exist
        act(mine, "merge", world.dispatcher, target="209901010000001")
    assert CaseEvent.objects.count() == events_before
    assert Case.objects.get(pk=mine.pk).state == CaseState.REPORTED


def test_accept_takes_a_category_code_and_refuses_an_unknown_one(world):
    case = file_hotline(world)
    with pytest.raises(InvalidInput) as refused:
        act(case, "accept", world.dispatcher, category="X9999")
    assert refused.value.field == "category"
    case = act(case, "accept", world.dispatcher, category="E0101")
    assert case.category.code == "E0101"


def test_suspend_accepts_a_plain_date(world):
    case = file_patrol(world)
    act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    act(case, "sign", world.handler)
    case = act(case, "suspend", world.dispatcher, reason="待审批", until=date.today() + timedelta(days=30))
    assert case.state == CaseState.SUSPENDED and case.suspended_until is not None


def test_reopen_clears_the_rating_so_an_old_rating_cannot_reopen_again(world):
    case = file_hotline(world)
    act(case, "accept", world.dispatcher, category="E0101")
    act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    act(case, "sign", world.handler)
    act(case, "complete", world.handler, note="done", photos=[photo()])
    act(case, "verify", world.worker, photos=[photo()])
    case = act(case, "feedback", world.operator, rating=2)
    case = act(case, "reopen", world.supervisor, reason="居民不满意")
    assert case.rating is None
    assert case.events.get(kind="reopen").payload["previous_rating"] == 2
    act(case, "complete", world.handler, note="again", photos=[photo()])
    act(case, "verify", world.worker, photos=[photo()])
    with time_machine.travel(timezone.now() + timedelta(days=4)):
        case = act(case, "close", world.dispatcher)
        assert case.state == CaseState.CLOSED
        assert "reopen" not in allowed_actions(case, Actor.staff(world.supervisor))
