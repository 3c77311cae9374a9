"""What one case contributes to the indicators: ``case_items`` turns a case's event log and stage clocks into
counters on (day, department, person). A pure function — the rollup sweep and ``rebuild_rollups`` both call it, so
the incremental and the rebuilt tables cannot disagree. docs/indicators.md states every rule below in prose.

Days are local days (settings.TIME_ZONE). "On time" comes from the stage clocks (``dispatch.clocks``): a clock
finished after its deadline, or escalated for a breach, has ``on_time = False``; a stage with no clock is on time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from django.utils import timezone

from dispatch.models.evaluation import DURATION_BOUNDS_HOURS, DURATION_BUCKETS
from dispatch.models.sla import Stage
from events.models import CaseState, Channel, CloseReason, EventKind

PUBLIC_CHANNELS = (Channel.HOTLINE, Channel.WECHAT, Channel.OPEN311, Channel.WEB)  # reports by the public (漏报)
FILING_KINDS = (EventKind.ACCEPT, EventKind.CONFIRM_SELF_HANDLED)  # 立案 (a report filed as handled on the spot is 立案 and closed)
VOIDED_STATES = (CaseState.CANCELLED, CaseState.MERGED)  # 作废 / 并案: excluded from the "due" denominators
DONE_STATES = (CaseState.HANDLED, CaseState.VERIFIED, CaseState.CLOSED)  # handling finished (and not undone)
RESOLVED_REASONS = (CloseReason.RESOLVED, CloseReason.SELF_HANDLED)
CASE_FIELDS = ("id", "number", "state", "channel", "category_id", "region_code", "department_id", "reporter_id",
               "close_reason", "lat", "lng", "last_seq")
EVENT_FIELDS = ("case_id", "seq", "kind", "actor_id", "payload", "occurred_at", "to_state")
CLOCK_FIELDS = ("case_id", "id", "stage", "started_at", "finished_at", "on_time")

Key = tuple[date, int, int]  # (day, department id, person id); 0 = none


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment, timezone.get_default_timezone()).date()


def duration_bucket(seconds: float) -> str:
    hours = seconds / 3600
    for index, bound in enumerate(DURATION_BOUNDS_HOURS):
        if hours <= bound:
            return DURATION_BUCKETS[index]
    return DURATION_BUCKETS[-1]


@dataclass(frozen=True)
class Attrs:
    """The case attributes its items are rolled up under."""

    region_code: str
    category: int
    channel: str


def case_attrs(case: dict) -> Attrs:
    return Attrs(case["region_code"], case["category_id"] or 0, case["channel"])


def _on_time(clocks: list[dict]) -> bool:
    return not any(clock["on_time"] is False for clock in clocks)


def _take_until(clocks: list[dict], start: int, moment: datetime) -> tuple[list[dict], int]:
    """The clocks from ``start`` up to and including the first one finished at ``moment`` (the clock an action
    finished carries that action's own timestamp), and the index after it. None finished then: nothing taken."""
    for index in range(start, len(clocks)):
        if clocks[index]["finished_at"] == moment:
            return clocks[start:index + 1], index + 1
    return [], start


def case_items(case: dict, events: list[dict], clocks: list[dict], *, departments: dict[str, int],
               recurred: bool = False) -> dict[Key, dict[str, int]]:
    """The counters a case contributes, per (day, department id, person id). ``events`` in seq order, ``clocks``
    in id order; ``departments`` maps department codes (as in dispatch/return payloads) to ids; ``recurred``: a
    report of the same problem came after the case's resolution (``rollups.recurred``)."""
    items: dict[Key, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(moment: datetime, department: int | None, person: int | None, **counts: int) -> None:
        bucket = items[(local_day(moment), department or 0, person or 0)]
        for name, value in counts.items():
            if value:
                bucket[name] += value

    reported = next((e for e in events if e["kind"] == EventKind.REPORTED), None)
    if reported is None:
        return {}
    state = case["state"]
    voided = state in VOIDED_STATES
    closed = state == CaseState.CLOSED
    by_stage: dict[str, list[dict]] = defaultdict(list)
    for clock in clocks:
        by_stage[clock["stage"]].append(clock)

    # Dispatches (派遣): each one, with whether a return (回退) followed before the next dispatch.
    dispatches = []  # [event, department id, returned, wait clocks]
    pointer = 0
    for event in events:
        if event["kind"] == EventKind.DISPATCH:
            code = (event["payload"] or {}).get("department", "")
            wait, pointer = _take_until(by_stage[Stage.DISPATCH], pointer, event["occurred_at"])
            dispatches.append([event, departments.get(code, 0), False, wait])
        elif event["kind"] == EventKind.RETURN and dispatches:
            dispatches[-1][2] = True

    def department_at(seq: int) -> int:
        """The department in charge just before event ``seq``: the last dispatch's, unless it was returned."""
        current = 0
        for event in events:
            if event["seq"] >= seq:
                break
            if event["kind"] == EventKind.DISPATCH:
                current = departments.get((event["payload"] or {}).get("department", ""), 0)
            elif event["kind"] == EventKind.RETURN:
                current = 0
        return current

    current = dispatches[-1] if dispatches and not dispatches[-1][2] else None
    department_now = current[1] if current else 0
    kinds = {event["kind"] for event in events}

    # 上报 (report cohort, on the report day, for the reporter).
    filing = next((e for e in events if e["kind"] in FILING_KINDS), None)
    valid = filing is not None and state != CaseState.MERGED
    add(reported["occurred_at"], 0, case["reporter_id"], reported=1, valid=int(valid),
        valid_public=int(valid and case["channel"] in PUBLIC_CHANNELS))

    # 立案 cohort, on the 立案 day, for who filed it; the "due to close" (应结案) counters ride on it.
    if filing is not None:
        closed_on_time = _on_time([c for c in clocks if c["stage"] != Stage.FEEDBACK])
        due = not voided
        first_time = not kinds.intersection({EventKind.RETURN, EventKind.REWORK, EventKind.REOPEN})
        add(filing["occurred_at"], department_now, filing["actor_id"],
            accepted=1, accepted_on_time=int(_on_time(by_stage[Stage.ACCEPT])),
            accepted_accurate=int(not voided), voided=int(voided),
            due=int(due), due_closed=int(due and closed), due_closed_on_time=int(due and closed and closed_on_time),
            due_closed_late=int(due and closed and not closed_on_time),
            first_time=int(due and closed and first_time))

    # 派遣: every dispatch, for the department it went to and the dispatcher.
    for event, department, returned, wait in dispatches:
        add(event["occurred_at"], department, event["actor_id"], dispatched=1,
            dispatched_on_time=int(_on_time(wait)), dispatched_accurate=int(not returned),
            dispatch_returned=int(returned))

    # 处置 cohort: the current assignment (the last dispatch, not returned), on its dispatch day, unless voided.
    completes = [e for e in events if e["kind"] == EventKind.COMPLETE]
    if current is not None and not voided:
        event, department, _returned, wait = current
        after = [e for e in events if e["seq"] > event["seq"]]
        last_clock_id = wait[-1]["id"] if wait else None
        handle_clocks = [
            c for c in by_stage[Stage.HANDLE]
            if (c["id"] > last_clock_id if last_clock_id is not None else c["started_at"] >= event["occurred_at"])
        ]
        done = state in DONE_STATES and any(e["kind"] == EventKind.COMPLETE for e in after)
        handler = next((e["actor_id"] for e in reversed(after) if e["kind"] == EventKind.COMPLETE), None)
        add(event["occurred_at"], department, handler, handle_due=1, handle_done=int(done),
            handle_on_time=int(done and _on_time(handle_clocks)),
            reworks=sum(e["kind"] == EventKind.REWORK for e in after),
            extensions=sum(e["kind"] == EventKind.APPROVE_EXTENSION for e in after))
    # 处置数 (volume): the case's last completion, on its day, when it still stands.
    if completes and state in DONE_STATES:
        last = completes[-1]
        add(last["occurred_at"], department_at(last["seq"]), last["actor_id"], handled=1)

    # 核查: each on-site check after handling (verify passes it, rework sends it back).
    pointer = 0
    for event in events:
        if event["kind"] in (EventKind.VERIFY, EventKind.REWORK):
            taken, pointer = _take_until(by_stage[Stage.VERIFY], pointer, event["occurred_at"])
            add(event["occurred_at"], department_at(event["seq"]), event["actor_id"], checks=1,
                checks_on_time=int(_on_time(taken)))

    # 结案 (volume): the closure that stands, on its day, for the department in charge and who closed it.
    if closed:
        closing = next(e for e in reversed(events) if e["to_state"] == CaseState.CLOSED)
        counts = {"closed": 1}
        if case["close_reason"] == CloseReason.SELF_HANDLED:
            counts["closed_self_handled"] = 1
        elif case["close_reason"] == CloseReason.RESOLVED:
            seconds = max(0, int((closing["occurred_at"] - reported["occurred_at"]).total_seconds()))
            counts.update(duration_count=1, duration_seconds=seconds)
            counts[duration_bucket(seconds)] = 1
        if case["close_reason"] in RESOLVED_REASONS and case["lat"] is not None and case["category_id"]:
            counts.update(resolved_located=1, recurred=int(recurred))
        add(closing["occurred_at"], department_at(closing["seq"]), closing["actor_id"], **counts)

    # 回访: every rating given (满意 = 4 or 5 of 5).
    for event in events:
        if event["kind"] == EventKind.FEEDBACK:
            rating = (event["payload"] or {}).get("rating") or 0
            add(event["occurred_at"], department_at(event["seq"]), None, rated=1, satisfied=int(rating >= 4))
        elif event["kind"] == EventKind.ESCALATE:
            add(event["occurred_at"], department_at(event["seq"]), None, escalated=1)

    return {key: dict(counts) for key, counts in items.items() if counts}


def resolved_at(case: dict, events: list[dict]) -> datetime | None:
    """When the case was resolved (closed as resolved or handled on the spot), if it stands closed that way."""
    if case["state"] != CaseState.CLOSED or case["close_reason"] not in RESOLVED_REASONS:
        return None
    return next(e["occurred_at"] for e in reversed(events) if e["to_state"] == CaseState.CLOSED)


def recurrence_candidate(case: dict) -> bool:
    """Whether a case can count as the same problem reported again: anything but rejected or cancelled."""
    return case["state"] not in (CaseState.REJECTED, CaseState.CANCELLED)
