"""The evaluation counters counted directly from cases, events and clocks — without facts or rollups.

Written separately from ``facts.case_items``, one counter family at a time and in terms of time intervals rather
than the fact code's walk over the log, so that a mistake in either shows up as a difference. It reads every case:
it is the check behind ``rebuild_rollups --check`` and the tests, not something to run per request.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta

from django.conf import settings

from dispatch.models import StageClock
from dispatch.models.evaluation import (
    COUNTERS,
    DURATION_BOUNDS_HOURS,
    DURATION_BUCKETS,
    DailyFact,
    SummaryFact,
)
from events.models import Case, CaseEvent, CaseState, Channel, CloseReason, EventKind
from grids.models import Department

from .facts import local_day

PUBLIC = {Channel.HOTLINE, Channel.WECHAT, Channel.OPEN311, Channel.WEB}


def _hours_bucket(seconds: int) -> str:
    for bound, name in zip(DURATION_BOUNDS_HOURS, DURATION_BUCKETS, strict=False):
        if seconds <= bound * 3600:
            return name
    return DURATION_BUCKETS[-1]


def _metres(a, b) -> float:
    dy = (b[0] - a[0]) * 111_320.0
    dx = (b[1] - a[1]) * 111_320.0 * math.cos(math.radians((a[0] + b[0]) / 2))
    return math.hypot(dx, dy)


def direct_counts() -> dict[tuple, dict[str, int]]:
    """Counters per (day, region code, department id, category id, channel) — the DailyFact key."""
    cases = {c.pk: c for c in Case.objects.all()}
    log = defaultdict(list)
    for event in CaseEvent.objects.order_by("case_id", "seq"):
        log[event.case_id].append(event)
    clocks = defaultdict(list)
    for clock in StageClock.objects.order_by("case_id", "id"):
        clocks[clock.case_id].append(clock)
    dept = dict(Department.objects.values_list("code", "id"))
    out: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def count(case, moment, department, **values):
        row = out[(local_day(moment), case.region_code, department or 0, case.category_id or 0, case.channel)]
        for name, value in values.items():
            row[name] += int(value)

    def late(case_id, stage, after=None, upto=None, started_from=None):
        for clock in clocks[case_id]:
            if clock.stage != stage or clock.on_time is not False:
                continue
            if after is not None and not (clock.finished_at and clock.finished_at > after):
                continue
            if upto is not None and not (clock.finished_at and clock.finished_at <= upto):
                continue
            if started_from is not None and clock.started_at < started_from:
                continue
            return True
        return False

    def in_charge(events, seq):
        holder = 0
        for event in events:
            if event.seq < seq and event.kind == EventKind.DISPATCH:
                holder = dept.get(event.payload.get("department"), 0)
            elif event.seq < seq and event.kind == EventKind.RETURN:
                holder = 0
        return holder

    resolved = {}  # case id → (moment, lat, lng, category) of resolved, located, categorised cases
    reports = []  # (case id, moment, lat, lng, category) of cases that may repeat a problem
    for case_id, events in log.items():
        case = cases[case_id]
        kinds = [e.kind for e in events]
        report = events[0]
        filed = [e for e in events if e.kind in ("accept", "confirm_self_handled")]
        ok = bool(filed) and case.state != CaseState.MERGED
        count(case, report.occurred_at, 0, reported=1, valid=ok, valid_public=ok and case.channel in PUBLIC)
        voided = case.state in (CaseState.CANCELLED, CaseState.MERGED)
        dispatch_events = [e for e in events if e.kind == EventKind.DISPATCH]
        last_dispatch = dispatch_events[-1] if dispatch_events else None
        open_assignment = last_dispatch is not None and not any(
            e.kind == EventKind.RETURN and e.seq > last_dispatch.seq for e in events)
        if filed:
            closed = case.state == CaseState.CLOSED
            in_time = not any(c.on_time is False and c.stage != "feedback" for c in clocks[case_id])
            once = "return" not in kinds and "rework" not in kinds and "reopen" not in kinds
            holder = dept.get(last_dispatch.payload.get("department"), 0) if open_assignment else 0
            count(case, filed[0].occurred_at, holder, accepted=1, accepted_on_time=not late(case_id, "accept"),
                  accepted_accurate=not voided, voided=voided, due=not voided, due_closed=not voided and closed,
                  due_closed_on_time=not voided and closed and in_time,
                  due_closed_late=not voided and closed and not in_time,
                  first_time=not voided and closed and once)
        previous = None
        for index, event in enumerate(dispatch_events):
            following = dispatch_events[index + 1].seq if index + 1 < len(dispatch_events) else math.inf
            returned = any(e.kind == EventKind.RETURN and event.seq < e.seq < following for e in events)
            in_time = not late(case_id, "dispatch", after=previous, upto=event.occurred_at)
            count(case, event.occurred_at, dept.get(event.payload.get("department"), 0), dispatched=1,
                  dispatched_on_time=in_time, dispatched_accurate=not returned, dispatch_returned=returned)
            previous = event.occurred_at
        if open_assignment and not voided:
            later = [e for e in events if e.seq > last_dispatch.seq]
            done = case.state in (CaseState.HANDLED, CaseState.VERIFIED, CaseState.CLOSED) and any(
                e.kind == EventKind.COMPLETE for e in later)
            count(case, last_dispatch.occurred_at, dept.get(last_dispatch.payload.get("department"), 0),
                  handle_due=1, handle_done=done,
                  handle_on_time=done and not late(case_id, "handle", started_from=last_dispatch.occurred_at),
                  reworks=sum(e.kind == EventKind.REWORK for e in later),
                  extensions=sum(e.kind == EventKind.APPROVE_EXTENSION for e in later))
        completes = [e for e in events if e.kind == EventKind.COMPLETE]
        if completes and case.state in (CaseState.HANDLED, CaseState.VERIFIED, CaseState.CLOSED):
            count(case, completes[-1].occurred_at, in_charge(events, completes[-1].seq), handled=1)
        for event in events:
            if event.kind in ("verify", "rework"):
                on_time = not any(c.stage == "verify" and c.on_time is False and c.finished_at == event.occurred_at
                                  for c in clocks[case_id])
                count(case, event.occurred_at, in_charge(events, event.seq), checks=1, checks_on_time=on_time)
            elif event.kind == EventKind.FEEDBACK:
                count(case, event.occurred_at, in_charge(events, event.seq), rated=1,
                      satisfied=(event.payload.get("rating") or 0) >= 4)
            elif event.kind == EventKind.ESCALATE:
                count(case, event.occurred_at, in_charge(events, event.seq), escalated=1)
        if case.state not in (CaseState.REJECTED, CaseState.CANCELLED) and case.lat is not None and case.category_id:
            reports.append((case_id, report.occurred_at, case.lat, case.lng, case.category_id))
        if case.state == CaseState.CLOSED:
            closing = [e for e in events if e.to_state == CaseState.CLOSED][-1]
            values = {"closed": 1, "closed_self_handled": case.close_reason == CloseReason.SELF_HANDLED}
            if case.close_reason == CloseReason.RESOLVED:
                seconds = max(0, int((closing.occurred_at - report.occurred_at).total_seconds()))
                values.update(duration_count=1, duration_seconds=seconds, **{_hours_bucket(seconds): 1})
            count(case, closing.occurred_at, in_charge(events, closing.seq), **values)
            if case.close_reason in (CloseReason.RESOLVED, CloseReason.SELF_HANDLED) and case.lat is not None \
                    and case.category_id:
                resolved[case_id] = (closing, in_charge(events, closing.seq))
    radius = float(getattr(settings, "GRIDLOOP_RECURRENCE_RADIUS_M", 50))
    days = int(getattr(settings, "GRIDLOOP_RECURRENCE_DAYS", 30))
    for case_id, (closing, holder) in resolved.items():
        case = cases[case_id]
        again = any(
            other != case_id and category == case.category_id
            and closing.occurred_at < moment <= closing.occurred_at + timedelta(days=days)
            and _metres((case.lat, case.lng), (lat, lng)) <= radius
            for other, moment, lat, lng, category in reports
        )
        count(case, closing.occurred_at, holder, resolved_located=1, recurred=again)
    return {key: {k: v for k, v in row.items() if v} for key, row in out.items() if any(row.values())}


def direct_mismatches() -> list[str]:
    """Differences between DailyFact and the direct count, and between each SummaryFact dimension and DailyFact:
    one line per differing value (empty: they agree exactly)."""
    expected = direct_counts()
    stored = {}
    for row in DailyFact.objects.values("day", "region_code", "department", "category", "channel", *COUNTERS):
        key = (row.pop("day"), row.pop("region_code"), row.pop("department"), row.pop("category"), row.pop("channel"))
        values = {k: v for k, v in row.items() if v}
        if values:
            stored[key] = values
    problems = []
    for key in sorted(set(expected) | set(stored), key=str):
        want, have = expected.get(key, {}), stored.get(key, {})
        for name in sorted(set(want) | set(have)):
            if want.get(name, 0) != have.get(name, 0):
                problems.append(f"{key}: {name} rollup {have.get(name, 0)} != direct {want.get(name, 0)}")
    totals = defaultdict(int)
    for values in expected.values():
        for name, value in values.items():
            totals[name] += value
    for dim in ("city", "district", "street", "community", "grid", "department", "category", "channel", "person"):
        for grain in ("d", "m"):
            sums = defaultdict(int)
            for row in SummaryFact.objects.filter(dim=dim, grain=grain).values(*COUNTERS):
                for name, value in row.items():
                    sums[name] += value
            for name in COUNTERS:
                if sums[name] != totals.get(name, 0):
                    problems.append(f"summary {dim}/{grain}: {name} {sums[name]} != direct {totals.get(name, 0)}")
    return problems
