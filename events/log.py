"""Writing the case event log: the next event of a case's hash chain (``event_row``), appending it
(``event_append``) and the one-level escalation with its event (``case_level_up``).

Depends on the models, the actor and the hash chain (``events.chain``) only, so every writer of events — the case
transitions in ``events.services``, the sweep and the supervision replies in ``dispatch`` — appends through the same
few lines. The caller holds the case row lock (the chain is race-free because of it) and saves the case after.
"""

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from config.rows import row_insert

from . import chain
from .actors import Actor
from .models import Case, CaseEvent, CommandLevel, EscalationPolicy, EventKind

NEXT_LEVEL: dict[str, str] = {CommandLevel.STREET: CommandLevel.DISTRICT, CommandLevel.DISTRICT: CommandLevel.CITY}
LEVEL_RANK: dict[str, int] = {CommandLevel.STREET: 0, CommandLevel.DISTRICT: 1, CommandLevel.CITY: 2}


def event_row(*, case: Case, kind: str, actor: Actor, role: str, from_state: str, to_state: str, payload: dict,
              now: datetime) -> CaseEvent:
    """The case's next event in its hash chain, not saved yet; moves the case's last_seq and last_hash on."""
    seq = case.last_seq + 1
    actor_id = actor.user.pk if actor.user is not None else None
    content = chain.event_content(
        case_number=case.number, seq=seq, kind=kind, actor_id=actor_id, actor_kind=actor.kind,
        actor_ref=actor.ref, actor_role=role, from_state=from_state, to_state=to_state, level=case.level,
        payload=payload, occurred_at=now,
    )
    event = CaseEvent(
        case=case, seq=seq, kind=kind, actor_id=actor_id, actor_kind=actor.kind, actor_ref=actor.ref,
        actor_role=role, from_state=from_state, to_state=to_state, level=case.level, payload=payload,
        occurred_at=now, prev_hash=case.last_hash, hash=chain.chain_hash(content, case.last_hash),
    )
    case.last_seq, case.last_hash = seq, event.hash
    return event


def event_append(*, case: Case, kind: str, actor: Actor, role: str = "", from_state: str = "", to_state: str = "",
                 payload: dict | None = None, now: datetime | None = None) -> CaseEvent:
    """Append one event to the case's hash chain. The caller holds the case row lock and saves the case after."""
    event = event_row(case=case, kind=kind, actor=actor, role=role, from_state=from_state, to_state=to_state,
                      payload=payload or {}, now=now or timezone.now())
    row_insert(event)
    return event


def escalation_apply(case: Case, policy: str = "") -> dict:
    """Escalate the case one level (上报) by the policy of the level it goes to (``GRIDLOOP_ESCALATION_POLICY``)
    unless ``policy`` is given: take_over moves the owner up (``level``); supervise leaves the owner responsible and
    puts the upper center above it (``escalated_to``). From the highest level on the case (``Case.top_level``) — except
    a take-over asked for (the returns rule: re-dispatch by the owner's next level). Returns the event payload part."""
    from_level = case.level if policy else case.top_level
    to_level = NEXT_LEVEL[from_level]
    policy = policy or settings.GRIDLOOP_ESCALATION_POLICY.get(to_level, EscalationPolicy.TAKE_OVER)
    if policy == EscalationPolicy.TAKE_OVER:
        case.level = to_level
        if case.escalated_to and LEVEL_RANK[case.escalated_to] <= LEVEL_RANK[to_level]:
            case.escalated_to = ""  # the supervising center now owns it
    else:
        case.escalated_to = to_level
    case.escalation_policy = policy
    case.escalations_count += 1
    return {"from_level": from_level, "to_level": to_level, "policy": policy}


def case_level_up(case: Case, *, reason: str, now: datetime, actor: Actor | None = None,
                  policy: str = "") -> CaseEvent:
    """Escalate the case one level (street → district → city; ``escalation_apply``) as a system escalation event,
    which it returns. The caller holds the case row lock and saves the case after."""
    payload = {"reason": reason, **escalation_apply(case, policy)}
    return event_append(case=case, kind=EventKind.ESCALATE, actor=actor or Actor.system("rule:returns"), role="system",
                        from_state=case.state, to_state=case.state, payload=payload, now=now)
