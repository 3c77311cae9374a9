"""Drive a case into any state through real ``case_act`` calls, and the actors and inputs each action needs.

    drive(world, "suspended")                       a hotline (citizen) case, suspended while being handled
    drive(world, "handling", extension_pending=True) … with an extension request waiting for a decision
    drive(world, "reported", field_check=True)      … with an on-site check (核实) requested
    drive(world, "accepted", base="self_handled")   a patrol report filed as handled on the spot
"""

from datetime import timedelta

from django.utils import timezone

from events.actors import Actor, citizen_key
from events.models import Attachment, Case, CaseEvent, CaseState
from events.workflow import ACTIONS
from tests.events.conftest import act, file_hotline, file_patrol, photo

STATES = [s.value for s in CaseState]
CALLER_PHONE = "13812341234"  # the caller of file_hotline

# Who takes each action in the tests (a "by" name of events/workflow.py) and the world user playing it.
ROLE_FOR_ACTION = {
    "request_field_check": "dispatcher", "field_check": "grid_worker", "accept": "dispatcher", "reject": "dispatcher",
    "merge": "dispatcher", "confirm_self_handled": "dispatcher", "dispatch": "dispatcher", "sign": "handler",
    "return": "handler", "request_extension": "handler", "approve_extension": "dispatcher",
    "deny_extension": "dispatcher", "suspend": "dispatcher", "resume": "dispatcher", "complete": "handler",
    "verify": "grid_worker", "rework": "grid_worker", "feedback": "operator", "close": "dispatcher",
    "reopen": "supervisor", "escalate": "dispatcher", "urge": "supervisor", "supervise": "supervisor",
    "cancel": "supervisor",
}
assert set(ROLE_FOR_ACTION) == set(ACTIONS)


def actor_for(world, capacity: str) -> Actor:
    """An actor holding ``capacity`` on a street-A case of world.dept (before any escalation)."""
    users = {
        "dispatcher": world.dispatcher, "handler": world.handler, "grid_worker": world.worker,
        "supervisor": world.supervisor, "operator": world.operator,
    }
    if capacity == "system":
        return Actor.system("test")
    if capacity == "reporter":
        return Actor.citizen(citizen_key(phone=CALLER_PHONE))
    return Actor.staff(users[capacity])


def ready_state(action: str) -> str:
    """A source state of the action from which everyone named in its "by" may take it (a dispatcher urges the
    department in charge: a dispatched case)."""
    return "dispatched" if action == "urge" else ACTIONS[action].sources[0]


def needs(action: str) -> dict:
    """drive() options that make the action's extra conditions hold."""
    return {
        "field_check": {"field_check": True},
        "approve_extension": {"extension_pending": True},
        "deny_extension": {"extension_pending": True},
        "confirm_self_handled": {"base": "self_handled"},
    }.get(action, {})


def valid_inputs(world, action: str) -> dict:
    """Inputs with which the action succeeds from a source state (merge: into a fresh open case)."""
    if action == "merge":
        return {"target": file_hotline(world, description="同一盏路灯").number}
    later = timezone.now() + timedelta(days=30)
    return {
        "field_check": {"result": "confirmed", "photos": [photo()]},
        "accept": {"category": world.category},
        "reject": {"reason": "不属于受理范围"},
        "dispatch": {"department": world.dept.code},
        "return": {"reason": "非本单位职责"},
        "request_extension": {"reason": "需要采购配件"},
        "deny_extension": {"reason": "时限足够"},
        "suspend": {"reason": "待汛期结束", "until": later},
        "complete": {"note": "已处理", "photos": [photo()]},
        "verify": {"photos": [photo()]},
        "rework": {"reason": "没有修好"},
        "feedback": {"rating": 4, "comment": "还行"},
        "reopen": {"reason": "市民不满意"},
        "escalate": {"reason": "超出街道权限"},
        "urge": {"note": "请尽快处理"},
        "supervise": {"note": "督办", "type": "key_case", "reply_due": later},
        "cancel": {"reason": "重复录入"},
    }.get(action, {})


def drive(world, state: str, *, base: str = "hotline", field_check: bool = False,
          extension_pending: bool = False) -> Case:
    """A fresh case in ``state``, brought there only through case_report and case_act.

    base: "hotline" (a citizen's call, no category) or "self_handled" (a grid worker's report of a problem fixed
    on the spot). Closed cases are closed by the caller's dissatisfied feedback (rating 2), so they can be
    reopened; cancelled cases are cancelled while being handled (so a department is in charge).
    """
    assert state in STATES, state
    if base == "hotline":
        case = file_hotline(world)
    elif base == "self_handled":
        case = file_patrol(world, self_handled=True, photos=[], before_photos=[photo()], after_photos=[photo()])
    else:
        raise AssertionError(base)
    assert case.state == CaseState.REPORTED
    if field_check:
        case = act(case, "request_field_check", world.dispatcher)
    if state == "reported":
        return _fresh(case)
    if state == "rejected":
        return _fresh(act(case, "reject", world.dispatcher, reason="不属于受理范围"))
    if state == "merged":
        target = file_hotline(world, description="同一盏路灯")
        return _fresh(act(case, "merge", world.dispatcher, target=target.number))
    case = act(case, "accept", world.dispatcher, category=world.category)
    if state == "accepted":
        return _fresh(case)
    case = act(case, "dispatch", world.dispatcher, department=world.dept.code)
    if state == "dispatched":
        return _fresh(case)
    case = act(case, "sign", world.handler)
    if extension_pending:
        case = act(case, "request_extension", world.handler, reason="需要采购配件")
    if state == "handling":
        return _fresh(case)
    if state == "suspended":
        return _fresh(act(case, "suspend", world.dispatcher, reason="待汛期结束",
                          until=timezone.now() + timedelta(days=30)))
    if state == "cancelled":
        return _fresh(act(case, "cancel", world.supervisor, reason="重复录入"))
    case = act(case, "complete", world.handler, note="已处理", photos=[photo()])
    if state == "handled":
        return _fresh(case)
    case = act(case, "verify", world.worker, photos=[photo()])
    if state == "verified":
        return _fresh(case)
    assert state == "closed"
    return _fresh(act(case, "feedback", world.operator, rating=2, comment="不满意"))


def _fresh(case: Case) -> Case:
    return Case.objects.get(pk=case.pk)


# --- "Nothing was written" ------------------------------------------------------------------------------------------
def snapshot(case: Case) -> dict:
    """The case row as stored, its events and all stored photos."""
    return {
        "row": Case.objects.filter(pk=case.pk).values().get(),
        "events": list(CaseEvent.objects.filter(case_id=case.pk).order_by("seq").values_list("id", "hash")),
        "attachments": Attachment.objects.count(),
        "all_events": CaseEvent.objects.count(),
    }


def assert_untouched(case: Case, before: dict) -> None:
    after = snapshot(case)
    assert after["row"] == before["row"]
    assert after["events"] == before["events"]
    assert after["attachments"] == before["attachments"]
    assert after["all_events"] == before["all_events"]
