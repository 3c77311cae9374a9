"""Every action from every state, through ``case_act``: the right target state, counters, closing reason and one
hash-chained event when the state is a source of the action; a 409 naming the allowed actions, and nothing
written, when it is not. Then the multi-step rules: extensions, suspension, escalation, returns, rework, merge,
close and reopen windows."""

from contextlib import nullcontext
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from config.errors import Conflict, InvalidInput, PermissionDenied
from events.actors import Actor
from events.integrity import chain_verify
from events.models import Attachment, Case, CaseEvent, CaseState, CloseReason, CommandLevel, FieldCheck
from events.services import allowed_actions, case_act
from events.workflow import ACTIONS
from grids.models import Role
from tests.events.conftest import act, file_hotline, file_patrol, photo
from tests.events.states import (
    ROLE_FOR_ACTION,
    STATES,
    actor_for,
    assert_untouched,
    drive,
    needs,
    ready_state,
    snapshot,
    valid_inputs,
)
from tests.factories import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]



COUNTERS = ["returns_count", "reworks_count", "extensions_count", "reopens_count", "escalations_count",
            "suspensions_count"]
COUNTER_OF = {"return": "returns_count", "rework": "reworks_count", "approve_extension": "extensions_count",
              "reopen": "reopens_count", "escalate": "escalations_count", "suspend": "suspensions_count"}
CLOSE_REASON = {"reject": CloseReason.REJECTED, "merge": CloseReason.DUPLICATE,
                "confirm_self_handled": CloseReason.SELF_HANDLED, "feedback": CloseReason.RESOLVED,
                "close": CloseReason.RESOLVED, "cancel": CloseReason.CANCELLED, "reopen": ""}
PHOTOS_STORED = {"field_check": 1, "complete": 1, "verify": 1}
HANDLER_ACTIONS = {name for name, spec in ACTIONS.items() if spec.by == ("handler",)}


def _after_feedback_window():
    """Move the clock past the reporter's feedback window (close of a citizen case is refused before)."""
    return time_machine.travel(timezone.now() + timedelta(hours=settings.GRIDLOOP_FEEDBACK_WINDOW_HOURS + 1),
                               tick=False)


def _new_events(case: Case, after_seq: int) -> list[CaseEvent]:
    return list(CaseEvent.objects.filter(case=case, seq__gt=after_seq).order_by("seq"))


MATRIX = [(action, state) for action in ACTIONS for state in STATES]


@pytest.mark.parametrize(("action", "state"), MATRIX, ids=[f"{a}-from-{s}" for a, s in MATRIX])
def test_every_action_from_every_state(world, action, state):
    spec = ACTIONS[action]
    case = drive(world, state, **needs(action))
    inputs = valid_inputs(world, action)
    role = ROLE_FOR_ACTION[action]
    actor = actor_for(world, role)
    before = snapshot(case)
    clock = _after_feedback_window() if action == "close" else nullcontext()

    if state not in spec.sources:
        # A handler has no standing on a case no department of theirs is in charge of (not yet dispatched,
        # returned, rejected, merged): that is a 403 before any state check, as for every actor out of scope.
        expected = PermissionDenied if action in HANDLER_ACTIONS and case.department_id is None else Conflict
        with clock, pytest.raises(expected) as refused:
            case_act(case=case.number, action=action, actor=actor, inputs=inputs)
        assert_untouched(case, before)
        if expected is Conflict:
            allowed = refused.value.extra["allowed_actions"]
            assert refused.value.extra["state"] == state
            assert action not in allowed
            assert allowed == allowed_actions(Case.objects.get(pk=case.pk), actor)
            for name in allowed:
                assert state in ACTIONS[name].sources and role in ACTIONS[name].by
        return

    with clock:
        result = case_act(case=case.number, action=action, actor=actor, inputs=inputs)
    stored = Case.objects.get(pk=case.pk)
    target_state = spec.target or state
    assert result.state == stored.state == target_state

    for counter in COUNTERS:
        expected = getattr(case, counter) + (1 if COUNTER_OF.get(action) == counter else 0)
        assert getattr(stored, counter) == expected, counter
    assert stored.close_reason == CLOSE_REASON.get(action, case.close_reason)
    if target_state in (CaseState.CLOSED, CaseState.REJECTED, CaseState.MERGED, CaseState.CANCELLED):
        assert stored.closed_at is not None
    elif action == "reopen":
        assert stored.closed_at is None and stored.verified_at is None

    events = _new_events(stored, case.last_seq)
    assert len(events) == 1
    event = events[0]
    assert (event.kind, event.from_state, event.to_state) == (action, state, target_state)
    assert event.seq == case.last_seq + 1 == stored.last_seq
    assert event.actor_role == role and event.level == stored.level
    assert chain_verify(stored) is None
    assert Attachment.objects.count() == before["attachments"] + PHOTOS_STORED.get(action, 0)
    if action in PHOTOS_STORED:
        assert list(stored.attachments.filter(event_seq=event.seq).values_list("pk", flat=True)) == \
            event.payload["photos"]

    # what each action changes besides the state
    if action == "dispatch":
        assert stored.department == world.dept and event.payload["department"] == world.dept.code
    elif action == "return":
        assert stored.department is None and event.payload["department"] == world.dept.code
    elif action == "escalate":
        assert (stored.level, event.payload["from_level"], event.payload["to_level"]) == (
            CommandLevel.DISTRICT, CommandLevel.STREET, CommandLevel.DISTRICT)
    elif action == "merge":
        target = Case.objects.get(number=inputs["target"])
        assert stored.merged_into == target and event.payload["target"] == target.number
        merged_in = target.events.order_by("-seq").first()
        assert merged_in.kind == "merged_in" and merged_in.payload == {"case": stored.number}
        assert target.state == CaseState.REPORTED and chain_verify(target) is None
    elif action == "suspend":
        assert stored.suspended_until == inputs["until"]
    elif action == "resume":
        assert stored.suspended_until is None
    elif action == "feedback":
        assert (stored.rating, stored.rating_comment) == (4, "还行")
    elif action == "verify":
        assert stored.verified_at is not None
    elif action == "request_field_check":
        assert stored.field_check_status == FieldCheck.REQUESTED
    elif action == "field_check":
        assert stored.field_check_status == FieldCheck.CONFIRMED
    elif action == "request_extension":
        assert stored.extension_pending
    elif action in ("approve_extension", "deny_extension"):
        assert not stored.extension_pending
    elif action == "accept":
        assert stored.category == world.category


BY_PAIRS = [(action, by) for action, spec in ACTIONS.items() for by in spec.by]


@pytest.mark.parametrize(("action", "by"), BY_PAIRS, ids=[f"{a}-by-{b}" for a, b in BY_PAIRS])
def test_everyone_named_in_by_can_take_the_action(world, action, by):
    state = ready_state(action)
    case = drive(world, state, **needs(action))
    clock = _after_feedback_window() if action == "close" else nullcontext()
    with clock:
        result = case_act(case=case.number, action=action, actor=actor_for(world, by),
                          inputs=valid_inputs(world, action))
    assert result.state == (ACTIONS[action].target or state)
    event = result.events.order_by("-seq").first()
    assert (event.kind, event.actor_role) == (action, by)
    assert chain_verify(result) is None


def test_allowed_actions_per_role_on_a_fresh_hotline_report(world):
    case = drive(world, "reported")
    assert allowed_actions(case, actor_for(world, "dispatcher")) == [
        "request_field_check", "accept", "reject", "merge", "escalate"]
    assert allowed_actions(case, actor_for(world, "supervisor")) == ["escalate", "urge", "supervise", "cancel"]
    assert allowed_actions(case, actor_for(world, "handler")) == []
    assert allowed_actions(case, actor_for(world, "grid_worker")) == []
    handling = drive(world, "handling")
    assert allowed_actions(handling, actor_for(world, "handler")) == ["return", "request_extension", "complete"]
    checked = drive(world, "reported", field_check=True)
    assert allowed_actions(checked, actor_for(world, "grid_worker")) == ["field_check"]
    assert "request_field_check" not in allowed_actions(checked, actor_for(world, "dispatcher"))


# --- Extensions ---------------------------------------------------------------------------------------------------
def test_at_most_two_extensions_are_approved_then_requests_are_refused(world):
    case = drive(world, "handling")
    for n in (1, 2):
        case = act(case, "request_extension", world.handler, reason=f"第{n}次")
        with pytest.raises(Conflict, match="already waiting"):
            act(case, "request_extension", world.handler, reason="again")
        case = act(case, "approve_extension", world.dispatcher)
        assert (case.extensions_count, case.extension_pending) == (n, False)
        assert case.events.order_by("-seq").first().payload["extensions"] == n
    before = snapshot(case)
    with pytest.raises(Conflict, match="at most 2 extensions") as refused:
        act(case, "request_extension", world.handler, reason="第三次")
    assert "request_extension" not in refused.value.extra["allowed_actions"]
    assert refused.value.extra["allowed_actions"] == ["return", "complete"]
    assert_untouched(case, before)


def test_a_denied_extension_does_not_count_and_may_be_asked_again(world):
    case = drive(world, "handling", extension_pending=True)
    case = act(case, "deny_extension", world.dispatcher, reason="时限足够")
    assert (case.extensions_count, case.extension_pending) == (0, False)
    with pytest.raises(Conflict, match="no extension request is waiting"):
        act(case, "approve_extension", world.dispatcher)
    case = act(case, "request_extension", world.handler, reason="再申请")
    case = act(case, "approve_extension", world.dispatcher)
    assert case.extensions_count == 1 and chain_verify(case) is None


def test_an_extension_request_lapses_when_the_handling_ends(world):
    """A request still waiting when the work is completed (or returned) must not be approvable after rework."""
    case = drive(world, "handling", extension_pending=True)
    case = act(case, "complete", world.handler, note="已处理", photos=[photo()])
    assert not case.extension_pending
    case = act(case, "rework", world.worker, reason="没有修好")
    with pytest.raises(Conflict, match="no extension request is waiting"):
        act(case, "approve_extension", world.dispatcher)
    returned = drive(world, "handling", extension_pending=True)
    returned = act(returned, "return", world.handler, reason="非本单位职责")
    assert not returned.extension_pending


# --- Suspension ---------------------------------------------------------------------------------------------------
def test_a_case_is_suspended_only_once(world):
    case = drive(world, "suspended")
    assert case.suspensions_count == 1 and case.suspended_until is not None
    case = case_act(case=case.number, action="resume", actor=Actor.system("sweep"))
    assert case.state == CaseState.HANDLING and case.suspended_until is None
    before = snapshot(case)
    with pytest.raises(Conflict, match="only once") as refused:
        act(case, "suspend", world.dispatcher, reason="再挂账", until=timezone.now() + timedelta(days=5))
    assert "suspend" not in refused.value.extra["allowed_actions"]
    assert_untouched(case, before)


def test_suspend_accepts_an_iso_date(world):
    case = drive(world, "handling")
    day = (timezone.localdate() + timedelta(days=10)).isoformat()
    case = act(case, "suspend", world.dispatcher, reason="待汛期结束", until=day)
    assert timezone.localtime(case.suspended_until).date().isoformat() == day


# --- Escalation -----------------------------------------------------------------------------------------------------
def test_escalation_goes_street_district_city_and_moves_ownership(world):
    case = drive(world, "reported")
    case = act(case, "escalate", world.dispatcher, reason="超出街道权限")
    assert (case.level, case.escalations_count, case.state) == (CommandLevel.DISTRICT, 1, CaseState.REPORTED)

    # The street center no longer owns the case; the district center does.
    before = snapshot(case)
    with pytest.raises(PermissionDenied):
        act(case, "accept", world.dispatcher, category=world.category)
    assert_untouched(case, before)
    case = act(case, "accept", world.district_dispatcher, category=world.category)
    with pytest.raises(PermissionDenied):
        act(case, "dispatch", world.dispatcher, department=world.dept.code)
    case = act(case, "dispatch", world.district_dispatcher, department=world.district_dept.code)
    assert case.department == world.district_dept
    district_handler = make_user("district_handler", (Role.HANDLER, world.district_dept))
    case = act(case, "sign", district_handler)
    assert case.state == CaseState.HANDLING

    case = act(case, "escalate", world.district_dispatcher, reason="需要市级协调")
    assert (case.level, case.escalations_count) == (CommandLevel.CITY, 2)
    with pytest.raises(PermissionDenied):
        act(case, "escalate", world.district_dispatcher, reason="again")
    before = snapshot(case)
    for actor in (Actor.staff(world.city_dispatcher), Actor.staff(world.supervisor), Actor.system("sweep")):
        with pytest.raises(Conflict, match="already at the city") as refused:
            case_act(case=case.number, action="escalate", actor=actor, inputs={"reason": "again"})
        assert "escalate" not in refused.value.extra["allowed_actions"]
    assert_untouched(case, before)
    levels = list(case.events.filter(kind="escalate").values_list("payload__from_level", "payload__to_level"))
    assert levels == [("street", "district"), ("district", "city")]
    assert chain_verify(case) is None


# --- Returns and rework -------------------------------------------------------------------------------------------
def test_two_returns_count_two_and_hand_the_case_back(world):
    case = drive(world, "dispatched")
    case = act(case, "return", world.handler, reason="非本单位职责")
    assert (case.state, case.returns_count, case.department) == (CaseState.ACCEPTED, 1, None)
    case = act(case, "dispatch", world.dispatcher, department=world.dept.code)
    case = act(case, "sign", world.handler)
    case = act(case, "return", world.handler, reason="还是不归我们管")
    assert (case.state, case.returns_count, case.department) == (CaseState.ACCEPTED, 2, None)
    # issue 4: a case returned twice goes up one level, so the district re-dispatches it
    assert case.level == "district"
    with pytest.raises(PermissionDenied):
        act(case, "dispatch", world.dispatcher, department=world.dept_y.code)
    case = act(case, "dispatch", world.district_dispatcher, department=world.district_dept.code)
    assert case.department == world.district_dept
    kinds = list(case.events.order_by("seq").values_list("kind", flat=True))
    assert kinds[-6:] == ["return", "dispatch", "sign", "return", "escalate", "dispatch"]
    assert chain_verify(case) is None


def test_rework_restarts_handling_by_the_same_department(world):
    case = drive(world, "handled")
    case = act(case, "rework", world.worker, reason="没有修好")
    assert (case.state, case.reworks_count, case.department) == (CaseState.HANDLING, 1, world.dept)
    case = act(case, "complete", world.handler, note="返工完成", photos=[photo()])
    case = act(case, "verify", world.worker, photos=[photo()])
    assert case.verified_at is not None
    # a dispatcher may also send the work back; a second rework counts 2 and clears the earlier check
    with pytest.raises(Conflict):
        act(case, "rework", world.worker, reason="verified already")
    case = drive(world, "handled")
    case = act(case, "rework", world.dispatcher, reason="照片不清楚")
    case = act(case, "complete", world.handler, note="已处理", photos=[photo()])
    case = act(case, "rework", world.worker, reason="还是不行")
    assert (case.state, case.reworks_count, case.verified_at) == (CaseState.HANDLING, 2, None)
    assert chain_verify(case) is None


# --- Merge ----------------------------------------------------------------------------------------------------------
def test_merge_points_the_case_at_an_open_target_which_records_it(world):
    target = drive(world, "handling")
    case = drive(world, "accepted")
    case = act(case, "merge", world.dispatcher, target=target.number)
    assert (case.state, case.merged_into_id, case.close_reason) == (CaseState.MERGED, target.pk,
                                                                   CloseReason.DUPLICATE)
    target = Case.objects.get(pk=target.pk)
    assert target.state == CaseState.HANDLING
    merged_in = target.events.order_by("-seq").first()
    assert (merged_in.kind, merged_in.payload, merged_in.actor_id) == ("merged_in", {"case": case.number},
                                                                       world.dispatcher.pk)
    assert chain_verify(case) is None and chain_verify(target) is None
    assert list(target.merged_cases.all()) == [case]


@pytest.mark.parametrize("target_state", ["closed", "rejected", "merged", "cancelled"])
def test_merge_into_a_case_that_is_over_is_refused(world, target_state):
    target = drive(world, target_state)
    case = drive(world, "reported")
    before, target_before = snapshot(case), snapshot(target)
    with pytest.raises(InvalidInput) as refused:
        act(case, "merge", world.dispatcher, target=target.number)
    assert refused.value.field == "target"
    assert_untouched(case, before)
    assert_untouched(target, target_before)


def test_a_case_is_not_merged_into_itself(world):
    case = drive(world, "reported")
    before = snapshot(case)
    with pytest.raises(InvalidInput, match="itself") as refused:
        act(case, "merge", world.dispatcher, target=case.number)
    assert refused.value.field == "target"
    assert_untouched(case, before)


# --- Close and reopen ---------------------------------------------------------------------------------------------
def test_a_citizen_case_is_closed_by_the_dispatcher_only_after_the_feedback_window(world):
    case = drive(world, "verified")
    before = snapshot(case)
    with pytest.raises(Conflict, match="feedback is still due") as refused:
        act(case, "close", world.dispatcher)
    assert "close" not in refused.value.extra["allowed_actions"]
    assert_untouched(case, before)
    with time_machine.travel(case.verified_at + timedelta(hours=settings.GRIDLOOP_FEEDBACK_WINDOW_HOURS, seconds=1),
                             tick=False):
        assert "close" in allowed_actions(case, actor_for(world, "dispatcher"))
        case = act(case, "close", world.dispatcher)
    assert (case.state, case.close_reason, case.rating) == (CaseState.CLOSED, CloseReason.RESOLVED, None)


def test_a_staff_report_is_closed_at_once_after_verification(world):
    case = file_patrol(world)
    case = act(case, "dispatch", world.dispatcher, department=world.dept.code)
    case = act(case, "sign", world.handler)
    case = act(case, "complete", world.handler, note="已处理", photos=[photo()])
    case = act(case, "verify", world.supervisor, photos=[photo()])
    case = act(case, "close", world.dispatcher)
    assert (case.state, case.close_reason) == (CaseState.CLOSED, CloseReason.RESOLVED)


def test_a_self_handled_report_is_confirmed_closed_as_self_handled(world):
    case = drive(world, "reported", base="self_handled")
    assert case.self_handled and case.attachments.count() == 2
    case = act(case, "confirm_self_handled", world.dispatcher)
    assert (case.state, case.close_reason) == (CaseState.CLOSED, CloseReason.SELF_HANDLED)
    with pytest.raises(Conflict):
        act(case, "reopen", world.supervisor, reason="not a resolved case")
    plain = drive(world, "reported")
    before = snapshot(plain)
    with pytest.raises(Conflict, match="handled on the spot"):
        act(plain, "confirm_self_handled", world.dispatcher)
    assert_untouched(plain, before)


@pytest.mark.parametrize("rating", [1, 2, 3])
def test_reopen_after_dissatisfied_feedback_within_the_window(world, rating):
    case = drive(world, "verified")
    case = act(case, "feedback", world.operator, rating=rating)
    with time_machine.travel(case.closed_at + timedelta(days=settings.GRIDLOOP_REOPEN_WINDOW_DAYS), tick=False):
        case = act(case, "reopen", world.supervisor, reason="市民不满意")
    assert (case.state, case.reopens_count, case.close_reason, case.closed_at) == (CaseState.HANDLING, 1, "", None)
    assert case.department == world.dept


def test_no_reopen_after_satisfied_feedback_a_plain_close_or_the_window(world):
    satisfied = drive(world, "verified")
    satisfied = act(satisfied, "feedback", world.operator, rating=4)
    late = drive(world, "closed")
    plain = file_patrol(world)
    for action, user, inputs in [("dispatch", world.dispatcher, {"department": world.dept.code}),
                                 ("sign", world.handler, {}),
                                 ("complete", world.handler, {"note": "ok", "photos": [photo()]}),
                                 ("verify", world.worker, {"photos": [photo()]}), ("close", world.dispatcher, {})]:
        plain = act(plain, action, user, **inputs)
    window = timedelta(days=settings.GRIDLOOP_REOPEN_WINDOW_DAYS, seconds=1)
    for case, why, clock in [
        (satisfied, "dissatisfied feedback", nullcontext()),
        (plain, "dissatisfied feedback", nullcontext()),
        (late, "reopen window", time_machine.travel(late.closed_at + window, tick=False)),
    ]:
        before = snapshot(case)
        with clock, pytest.raises(Conflict, match=why) as refused:
            act(case, "reopen", world.supervisor, reason="市民不满意")
        assert refused.value.extra["allowed_actions"] == []
        assert_untouched(case, before)


def test_a_reopened_case_runs_the_loop_again(world):
    case = drive(world, "closed")
    case = act(case, "reopen", world.supervisor, reason="市民不满意")
    case = act(case, "complete", world.handler, note="重新处理", photos=[photo()])
    case = act(case, "verify", world.worker, photos=[photo()])
    case = act(case, "feedback", world.operator, rating=5)
    assert (case.state, case.rating, case.reopens_count) == (CaseState.CLOSED, 5, 1)
    with pytest.raises(Conflict):
        act(case, "reopen", world.supervisor, reason="again")
    kinds = list(case.events.order_by("seq").values_list("kind", flat=True))
    assert kinds[-5:] == ["feedback", "reopen", "complete", "verify", "feedback"]
    assert chain_verify(case) is None


def test_hotline_reports_and_cases_keep_separate_numbers(world):
    first, second = file_hotline(world), file_hotline(world)
    assert first.number != second.number and int(second.number[-5:]) == int(first.number[-5:]) + 1
