"""Who may act: for every action an actor of the wrong role, and one of the right role but the wrong area, gets a
403 and nothing is written. The case is always in a state (and condition) where the right actor would succeed."""

from contextlib import nullcontext
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from config.errors import PermissionDenied
from events.actors import Actor, citizen_key
from events.integrity import chain_verify
from events.models import CaseState
from events.services import allowed_actions, case_act
from events.workflow import ACTIONS
from grids.models import Role
from tests.events.conftest import act, file_patrol, photo
from tests.events.states import (
    CALLER_PHONE,
    actor_for,
    assert_untouched,
    drive,
    needs,
    ready_state,
    snapshot,
    valid_inputs,
)
from tests.factories import make_user

pytestmark = pytest.mark.django_db




CAPACITIES = ["dispatcher", "handler", "grid_worker", "supervisor", "operator", "system", "reporter"]

# Right role, wrong place: for each capacity, actors holding that role somewhere else than the street-A case.
WRONG_AREA = {
    "dispatcher": ["dispatcher_b", "district_dispatcher", "city_dispatcher"],
    "handler": ["handler_y", "handler_b"],
    "grid_worker": ["worker2"],
    "supervisor": ["supervisor_west"],
    "operator": ["operator_west"],
    "reporter": ["other_citizen"],
}


def _wrong_area_actor(world, who: str) -> Actor:
    if who == "other_citizen":
        return Actor.citizen(citizen_key(phone="13900000000"))
    if who == "handler_b":
        return Actor.staff(make_user("handler_b", (Role.HANDLER, world.dept_b)))
    if who == "supervisor_west":
        return Actor.staff(make_user("supervisor_west", (Role.SUPERVISOR, world.regions["990102"])))
    if who == "operator_west":
        return Actor.staff(make_user("operator_west", (Role.OPERATOR, world.regions["990102"])))
    return Actor.staff(getattr(world, who))


def _ready(world, action):
    """A case where ``action`` would succeed for the right actor, and the clock to act under (a factory)."""
    case = drive(world, ready_state(action), **needs(action))
    later = timezone.now() + timedelta(hours=settings.GRIDLOOP_FEEDBACK_WINDOW_HOURS + 1)

    def clock():
        # close of a citizen case waits for the feedback window
        return time_machine.travel(later, tick=False) if action == "close" else nullcontext()

    return case, clock


def _refused(world, case, clock, action, actor):
    inputs = valid_inputs(world, action)
    before = snapshot(case)
    with clock(), pytest.raises(PermissionDenied) as refused:
        case_act(case=case.number, action=action, actor=actor, inputs=inputs)
    assert case.number in refused.value.message
    assert_untouched(case, before)
    with clock():
        assert action not in allowed_actions(case, actor)


WRONG_ROLE = [(action, capacity) for action, spec in ACTIONS.items() for capacity in CAPACITIES
              if capacity not in spec.by]


@pytest.mark.parametrize(("action", "capacity"), WRONG_ROLE, ids=[f"{a}-by-{c}" for a, c in WRONG_ROLE])
def test_an_actor_of_the_wrong_role_is_refused(world, action, capacity):
    case, clock = _ready(world, action)
    _refused(world, case, clock, action, actor_for(world, capacity))


WRONG_PLACE = [(action, capacity, who) for action, spec in ACTIONS.items() for capacity in spec.by
               for who in WRONG_AREA.get(capacity, [])]


@pytest.mark.parametrize(("action", "capacity", "who"), WRONG_PLACE,
                         ids=[f"{a}-by-{w}" for a, _c, w in WRONG_PLACE])
def test_an_actor_of_the_right_role_elsewhere_is_refused(world, action, capacity, who):
    case, clock = _ready(world, action)
    _refused(world, case, clock, action, _wrong_area_actor(world, who))
    # … while the actor in place may (the refusal was about the area, not the case)
    with clock():
        assert action in allowed_actions(case, actor_for(world, capacity))


def test_the_caller_gives_feedback_with_their_own_key_only(world):
    case = drive(world, "verified")
    before = snapshot(case)
    for key in (citizen_key(phone="13900000000"), citizen_key(openid="someone-else"), ""):
        with pytest.raises(PermissionDenied):
            case_act(case=case.number, action="feedback", actor=Actor.citizen(key), inputs={"rating": 5})
    assert_untouched(case, before)
    caller = Actor.citizen(citizen_key(phone="138-1234-1234"))  # the same number, written differently
    assert allowed_actions(case, caller) == ["feedback"]
    case = case_act(case=case.number, action="feedback", actor=caller, inputs={"rating": 5, "comment": "好"})
    assert (case.state, case.rating) == (CaseState.CLOSED, 5)
    event = case.events.order_by("-seq").first()
    assert (event.actor_kind, event.actor_ref, event.actor_role) == ("citizen", caller.ref, "reporter")
    assert chain_verify(case) is None


def test_a_case_without_a_caller_takes_no_citizen_feedback(world):
    case = file_patrol(world)
    for action, user, inputs in [("dispatch", world.dispatcher, {"department": world.dept.code}),
                                 ("sign", world.handler, {}),
                                 ("complete", world.handler, {"note": "ok", "photos": [photo()]}),
                                 ("verify", world.worker, {"photos": [photo()]})]:
        case = act(case, action, user, **inputs)
    before = snapshot(case)
    for actor in (Actor.citizen(""), Actor.citizen(citizen_key(phone=CALLER_PHONE)), Actor.staff(world.worker2)):
        with pytest.raises(PermissionDenied):
            case_act(case=case.number, action="feedback", actor=actor, inputs={"rating": 5})
    assert_untouched(case, before)
    # nor the grid worker who filed it (staff do not 回访 their own report): the command center closes it (结案)
    assert "feedback" not in allowed_actions(case, Actor.staff(world.worker))
    with pytest.raises(PermissionDenied):
        act(case, "feedback", world.worker, rating=4)
    assert_untouched(case, before)
    assert "close" in allowed_actions(case, Actor.staff(world.dispatcher))  # no feedback window to wait for
    case = act(case, "close", world.dispatcher)
    assert (case.state, case.close_reason, case.rating) == (CaseState.CLOSED, "resolved", None)


def test_a_handler_loses_the_case_when_it_is_returned_or_sent_elsewhere(world):
    case = drive(world, "dispatched")
    case = act(case, "return", world.handler, reason="非本单位职责")
    before = snapshot(case)
    for action, inputs in [("sign", {}), ("return", {"reason": "x"})]:
        with pytest.raises(PermissionDenied):
            act(case, action, world.handler, **inputs)
    assert_untouched(case, before)
    case = act(case, "dispatch", world.dispatcher, department=world.dept_y.code)
    with pytest.raises(PermissionDenied):
        act(case, "sign", world.handler)
    case = act(case, "sign", world.handler_y)
    assert case.state == CaseState.HANDLING


def test_scope_is_checked_before_the_inputs(world):
    """An actor out of scope learns nothing about the inputs the action needs."""
    case = drive(world, "accepted")
    before = snapshot(case)
    with pytest.raises(PermissionDenied):
        act(case, "dispatch", world.dispatcher_b)
    with pytest.raises(PermissionDenied):
        act(case, "dispatch", world.dispatcher_b, department="no-such-department")
    assert_untouched(case, before)


def test_a_district_dispatcher_acts_on_a_street_case_only_once_it_is_escalated(world):
    case = drive(world, "reported")
    district = Actor.staff(world.district_dispatcher)
    assert allowed_actions(case, district) == []
    before = snapshot(case)
    for action, inputs in [("accept", {"category": world.category}), ("reject", {"reason": "x"}),
                           ("escalate", {"reason": "x"})]:
        with pytest.raises(PermissionDenied):
            case_act(case=case.number, action=action, actor=district, inputs=inputs)
    assert_untouched(case, before)
    case = act(case, "escalate", world.supervisor, reason="街道久拖不决")
    assert "accept" in allowed_actions(case, district)
    assert allowed_actions(case, actor_for(world, "dispatcher")) == []
