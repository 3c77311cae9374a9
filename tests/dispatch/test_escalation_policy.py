"""Escalation policy per receiving level (GRIDLOOP_ESCALATION_POLICY): take_over (the default: the upper center owns
the case) or supervise (the upper center watches, coordinates and may act as its dispatcher; the street stays
responsible). Time is moved with time_machine around Tuesday 2026-11-24 as in test_sweep."""

import pytest

from config.errors import Conflict
from dispatch.models import StageClock
from dispatch.sweep import sweep
from events.actors import Actor
from events.integrity import chain_verify
from events.models import Case
from events.services import allowed_actions
from tests.conftest import client_for
from tests.dispatch.test_sweep import at, handling_case, local, sweep_escalations
from tests.events.conftest import act, file_patrol

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervise(settings):
    settings.GRIDLOOP_ESCALATION_POLICY = {"district": "supervise", "city": "take_over"}


def test_the_default_policy_is_take_over_everywhere(settings):
    assert settings.GRIDLOOP_ESCALATION_POLICY == {"district": "take_over", "city": "take_over"}


def test_a_breach_under_supervise_puts_the_district_above_a_street_that_keeps_the_case(world, supervise):
    case = handling_case(world)
    with at(17):
        assert sweep().escalated == 1
    case = Case.objects.get(pk=case.pk)
    assert (case.level, case.escalated_to, case.escalation_policy, case.escalations_count) == (
        "street", "district", "supervise", 1)
    (event,) = sweep_escalations(case)
    assert event.payload["policy"] == "supervise" and event.payload["to_level"] == "district"
    # the street keeps acting; the district's dispatchers may act as dispatcher too (urge here)
    street, district = Actor.staff(world.dispatcher), Actor.staff(world.district_dispatcher)
    assert {"suspend", "urge", "escalate"} <= set(allowed_actions(case, street))
    assert {"suspend", "urge", "escalate"} <= set(allowed_actions(case, district))
    act(case, "urge", world.district_dispatcher, note="区中心协调：请今天处理")
    assert allowed_actions(case, Actor.staff(world.dispatcher_b)) == []  # another street: nothing
    # the fresh handle clock runs at the district's limit and level: its breach goes on to the city (take_over)
    clock = StageClock.objects.filter(case=case, stage="handle", finished_at__isnull=True).get()
    assert (clock.level, clock.started_at) == ("district", local(17))
    with at(12, day=25):
        assert sweep().escalated == 1
    case = Case.objects.get(pk=case.pk)
    assert (case.level, case.escalated_to, case.escalation_policy) == ("city", "", "take_over")
    assert "urge" not in allowed_actions(case, street) and "urge" in allowed_actions(case, Actor.staff(
        world.city_dispatcher))
    assert chain_verify(case) is None


def test_the_district_dispatches_a_supervised_case_to_its_own_department(world, supervise, in_english):
    case = file_patrol(world)  # accepted, at the street
    case = act(case, "escalate", world.dispatcher, reason="需要区级部门协同")
    assert (case.level, case.escalated_to) == ("street", "district")
    assert "dispatch" in allowed_actions(case, Actor.staff(world.dispatcher))  # the street still may
    case = act(case, "dispatch", world.district_dispatcher, department=world.district_dept.code)
    assert case.state == "dispatched" and case.department == world.district_dept
    assert case.events.order_by("-seq").first().actor_role == "dispatcher"
    with pytest.raises(Conflict, match="already at the city"):
        act(act(case, "escalate", world.district_dispatcher, reason="市级协调"), "escalate", world.supervisor,
            reason="再上报")


def test_a_supervised_case_is_in_the_district_escalated_bucket_and_stays_in_the_street_queues(world, supervise):
    case = act(file_patrol(world), "escalate", world.dispatcher, reason="需要区级协调")
    street = client_for(world.dispatcher).get("/api/v1/queues/street/").json()
    assert case.number in [row["number"] for row in street["buckets"]["awaiting_dispatch"]["items"]]
    district = client_for(world.district_dispatcher).get("/api/v1/queues/district/").json()
    assert [row["number"] for row in district["buckets"]["escalated_to_us"]["items"]] == [case.number]
    assert district["buckets"]["awaiting_dispatch"]["count"] == 0  # the street dispatches it, or the district may
    detail = client_for(world.district_dispatcher).get(f"/api/v1/cases/{case.number}/").json()
    assert (detail["level"], detail["escalated_to"], detail["escalation_policy"]) == ("street", "district",
                                                                                       "supervise")
    assert "dispatch" in detail["allowed_actions"]


def test_under_take_over_the_street_can_no_longer_act(world):
    case = act(file_patrol(world), "escalate", world.dispatcher, reason="超出街道权限")
    assert (case.level, case.escalated_to, case.escalation_policy) == ("district", "", "take_over")
    assert allowed_actions(case, Actor.staff(world.dispatcher)) == []
    assert "dispatch" in allowed_actions(case, Actor.staff(world.district_dispatcher))


def test_a_case_returned_twice_goes_up_for_re_dispatch_whatever_the_policy(world, supervise):
    case = file_patrol(world)
    for _ in range(2):
        act(case, "dispatch", world.dispatcher, department=world.dept.code)
        case = act(case, "return", world.handler, reason="非本单位职责")
    assert (case.level, case.escalated_to, case.escalation_policy) == ("district", "", "take_over")
