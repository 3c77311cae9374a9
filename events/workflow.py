"""The case workflow at a glance: every action, the states it starts from, who may take it and what it needs.

The state changes themselves are django-fsm transitions on ``events.models.Case``; ``events.services.case_act`` is
the one function that performs them. Action names are part of the API (``POST /cases/{number}/actions/{action}/``).

Who ("by"):
    dispatcher  — a dispatcher of the command center that owns the case at its current level (street/district/city)
    handler     — a handler of the department in charge
    grid_worker — the grid worker of the case's unit grid
    supervisor  — a supervisor whose region covers the case
    operator    — a hotline operator whose region covers the case (on a citizen's behalf)
    reporter    — the citizen who reported the case (staff who filed a case do not give its feedback)
    system      — Gridloop itself (rules, the sweep)
"""

from dataclasses import dataclass

from .models import OPEN_STATES
from .models import CaseState as S


@dataclass(frozen=True)
class Action:
    name: str  # API name
    method: str  # the django-fsm transition on Case
    sources: tuple[str, ...]
    target: str | None  # None: the state stays
    by: tuple[str, ...]
    requires: tuple[str, ...] = ()  # inputs that must be present (400 naming the field when missing)


OPEN = tuple(OPEN_STATES)

ACTIONS: dict[str, Action] = {a.name: a for a in [
    # receive 受理/立案
    # system: a sensor case whose readings recovered asks the grid worker to check on site (events/sensors)
    Action("request_field_check", "request_field_check", (S.REPORTED,), None, ("dispatcher", "system")),  # 请求核实
    Action("field_check", "field_check", (S.REPORTED,), None, ("grid_worker",), ("result",)),  # 核实
    Action("accept", "accept", (S.REPORTED,), S.ACCEPTED, ("dispatcher", "system")),  # 立案
    Action("reject", "reject", (S.REPORTED,), S.REJECTED, ("dispatcher",), ("reason",)),  # 不予立案
    Action("merge", "merge", (S.REPORTED, S.ACCEPTED), S.MERGED, ("dispatcher",), ("target",)),  # 并案
    Action("confirm_self_handled", "confirm_self_handled", (S.REPORTED,), S.CLOSED, ("dispatcher",)),  # 自行处置确认
    # assign 派遣/签收
    Action("dispatch", "dispatch", (S.ACCEPTED,), S.DISPATCHED, ("dispatcher", "system"), ("department",)),
    Action("sign", "sign", (S.DISPATCHED,), S.HANDLING, ("handler",)),  # 签收
    Action("return", "return_to_dispatcher", (S.DISPATCHED, S.HANDLING), S.ACCEPTED, ("handler",), ("reason",)),  # 回退
    # handle 处置
    Action("request_extension", "request_extension", (S.HANDLING,), None, ("handler",), ("reason",)),  # 延期申请
    Action("approve_extension", "approve_extension", (S.HANDLING,), None, ("dispatcher",)),
    Action("deny_extension", "deny_extension", (S.HANDLING,), None, ("dispatcher",), ("reason",)),
    Action("suspend", "suspend", (S.HANDLING,), S.SUSPENDED, ("dispatcher",), ("reason", "until")),  # 挂账
    Action("resume", "resume", (S.SUSPENDED,), S.HANDLING, ("dispatcher", "system")),
    Action("complete", "complete", (S.HANDLING,), S.HANDLED, ("handler",), ("note", "photos")),  # 处置完成
    # supervise 核查
    Action("verify", "verify", (S.HANDLED,), S.VERIFIED, ("grid_worker", "supervisor"), ("photos",)),  # 核查通过
    Action("rework", "rework", (S.HANDLED,), S.HANDLING, ("grid_worker", "dispatcher"), ("reason",)),  # 返工
    # feedback 回访/结案
    Action("feedback", "feedback", (S.VERIFIED,), S.CLOSED, ("reporter", "operator"), ("rating",)),  # 回访评价
    # system: the sweep closes a verified case with no citizen to ask once the feedback window has passed
    Action("close", "close", (S.VERIFIED,), S.CLOSED, ("dispatcher", "system")),  # 结案
    Action("reopen", "reopen", (S.CLOSED,), S.HANDLING, ("supervisor",), ("reason",)),  # 重新办理
    # oversight, from any open state
    Action("escalate", "escalate", OPEN, None, ("dispatcher", "supervisor", "system"), ("reason",)),  # 上报
    # 催办: the command center's daily tool (the dispatchers of the owning center) and supervisors'; 督办: supervisors
    Action("urge", "urge", OPEN, None, ("dispatcher", "supervisor"), ("note",)),  # 催办
    Action("supervise", "supervise", OPEN, None, ("supervisor",), ("note", "type", "reply_due")),  # 督办
    Action("cancel", "cancel", OPEN, S.CANCELLED, ("supervisor",), ("reason",)),  # 作废
]}
