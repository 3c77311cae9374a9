"""Stage clocks: one row per open stage of a case, started, paused, extended and finished with the case's
transitions (``clocks_on_transition``, called by ``events.services`` under the case row lock), and advanced by the
periodic ``sweep`` (lights, breach escalation, resuming suspended cases).

Stages follow the case state: reported → accept, accepted → dispatch, dispatched → sign, handling and suspended →
handle, handled → verify, verified → feedback; a terminal state has none. On a transition every open clock of another
stage is finished (``on_time`` = finished by its deadline) and the new state's stage gets a clock if it has none open.
suspend pauses the handle clock, resume resumes it (the paused time, counted in the clock's unit, moves the deadline);
approve_extension adds one base limit to the handle clock (at most 2); rework finishes verify and starts a fresh
handle clock.

Time: the limit's length L is counted as the work calendar counts it (``dispatch.calendar``): wall-clock seconds for
urgent_hour / natural_day, working seconds for work_hour / work_day (for work_day: the working seconds from the start
to the calendar's work_day deadline). ``warn_at`` is the moment 0.8 × L (+ paused time) has been used, ``deadline`` the
moment L (+ paused time) has been; with no pause the deadline is exactly ``calendar.deadline(start, amount, unit)``.

Escalation: when the sweep finds a clock past its deadline that has not been escalated for, it locks the case (skipping
it if someone else holds the lock — the next sweep retries), moves the case one level up (street → district → city) with
an "escalate" event by the system actor "sweep", marks the clock ``escalated_for_breach`` and finishes it (late), and
starts a fresh clock for the same stage at the new level with that level's limit. The clock update, the level change and
its event commit together, and the clock row is locked (FOR UPDATE SKIP LOCKED on PostgreSQL) while it is processed:
concurrent sweeps, or a sweep after a crash half way, never escalate the same breach twice. A breach at city level only
turns the light red.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from events.models import OPEN_STATES, Case, CaseState, CommandLevel, LimitUnit

from .models import Light, Stage, StageClock
from .selectors import work_calendar
from .sla import case_limit

log = logging.getLogger(__name__)

WARN_FRACTION = Decimal("0.8")
MAX_EXTENSIONS = 2
STAGE_OF_STATE = {
    CaseState.REPORTED: Stage.ACCEPT,
    CaseState.ACCEPTED: Stage.DISPATCH,
    CaseState.DISPATCHED: Stage.SIGN,
    CaseState.HANDLING: Stage.HANDLE,
    CaseState.SUSPENDED: Stage.HANDLE,
    CaseState.HANDLED: Stage.VERIFY,
    CaseState.VERIFIED: Stage.FEEDBACK,
}
_WORKING_UNITS = (LimitUnit.WORK_HOUR, LimitUnit.WORK_DAY)
_ESCALATING_LEVELS = (CommandLevel.STREET, CommandLevel.DISTRICT)


# --- Clock arithmetic ----------------------------------------------------------------------------------------------------
def _limit_seconds(calendar, start: datetime, amount: Decimal, unit: str) -> float:
    """The limit's length in the unit's counting (wall-clock or working seconds)."""
    if unit == LimitUnit.WORK_DAY:
        return calendar.working_seconds(start, calendar.deadline(start, amount, unit), unit)
    if unit == LimitUnit.NATURAL_DAY:
        return float(amount) * 86400
    return float(amount) * 3600


def _moment(calendar, start: datetime, seconds: float, unit: str) -> datetime:
    """When ``seconds`` counted in ``unit`` have passed after ``start``."""
    if seconds <= 0:
        return start
    if unit in _WORKING_UNITS:
        return calendar.deadline(start, seconds / 3600, LimitUnit.WORK_HOUR)
    return start + timedelta(seconds=seconds)


def _schedule(clock: StageClock, calendar) -> None:
    """Set ``warn_at`` and ``deadline`` from the start, limit and paused time."""
    length = _limit_seconds(calendar, clock.started_at, clock.limit_amount, clock.limit_unit)
    paused = clock.paused_seconds or 0
    if paused:
        clock.deadline = _moment(calendar, clock.started_at, length + paused, clock.limit_unit)
    else:
        clock.deadline = calendar.deadline(clock.started_at, clock.limit_amount, clock.limit_unit)
    clock.warn_at = _moment(calendar, clock.started_at, length * float(WARN_FRACTION) + paused, clock.limit_unit)


def _light_at(clock: StageClock, now: datetime) -> str:
    if now >= clock.deadline:
        return Light.RED
    if now >= clock.warn_at:
        return Light.YELLOW
    return Light.GREEN


def _unpause(clock: StageClock, calendar, now: datetime) -> None:
    if clock.paused_at is None:
        return
    clock.paused_seconds = (clock.paused_seconds or 0) + calendar.working_seconds(clock.paused_at, now,
                                                                                  clock.limit_unit)
    clock.paused_at = None
    _schedule(clock, calendar)


def clock_start(*, case: Case, stage: str, now: datetime, calendar=None) -> StageClock:
    """Start a clock for ``stage`` of the case at its current level, with the limit of ``dispatch.sla``."""
    calendar = calendar or work_calendar()
    limit = case_limit(case, stage)
    clock = StageClock(case=case, stage=stage, level=case.level, started_at=now, limit_amount=limit.amount,
                       limit_unit=limit.unit)
    _schedule(clock, calendar)
    clock.light = _light_at(clock, now)
    clock.save()
    return clock


def _finish(clock: StageClock, calendar, now: datetime, on_time: bool | None = None) -> None:
    _unpause(clock, calendar, now)
    clock.finished_at = now
    clock.on_time = (now <= clock.deadline) if on_time is None else on_time
    clock.light = _light_at(clock, now)
    clock.save()


# --- Transitions ---------------------------------------------------------------------------------------------------------
def clocks_on_transition(*, case: Case, action: str, from_state: str, now: datetime) -> None:
    """Start / finish / pause / resume / extend / restart the case's clocks for the action just applied.

    Called by ``events.services`` after the action's event is appended, with the case row locked and ``case.state``
    already the new state.
    """
    calendar = work_calendar()
    open_clocks = list(StageClock.objects.filter(case=case, finished_at__isnull=True).order_by("id"))
    if action in ("suspend", "resume", "approve_extension"):
        for clock in open_clocks:
            if clock.stage != Stage.HANDLE:
                continue
            if action == "suspend":
                if clock.paused_at is None:
                    clock.paused_at = now
            elif action == "resume":
                _unpause(clock, calendar, now)
                clock.light = _light_at(clock, now)
            elif clock.extensions < MAX_EXTENSIONS:
                clock.limit_amount += clock.limit_amount / (clock.extensions + 1)
                clock.extensions += 1
                _schedule(clock, calendar)
                clock.light = _light_at(clock, now)
            clock.save()
        return
    stage = STAGE_OF_STATE.get(case.state)
    keep = False
    for clock in open_clocks:
        if clock.stage == stage and action != "rework":
            keep = True
        else:
            _finish(clock, calendar, now)
    if stage is not None and not keep:
        clock_start(case=case, stage=stage, now=now, calendar=calendar)


# --- The sweep -------------------------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    warned: int = 0
    overdue: int = 0
    escalated: int = 0
    resumed: int = 0


def _due_q(now: datetime) -> Q:
    breach_pending = Q(light=Light.RED, escalated_for_breach=False, level__in=_ESCALATING_LEVELS)
    return Q(finished_at__isnull=True, paused_at__isnull=True) & (
        Q(warn_at__lte=now, light=Light.GREEN) | (Q(deadline__lte=now) & (~Q(light=Light.RED) | breach_pending))
    )


def _locking(queryset):
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",))
    return queryset  # SQLite: the transaction alone (writers are serialised)


def _breach_reason(clock: StageClock) -> str:
    deadline = timezone.localtime(clock.deadline).strftime("%Y-%m-%d %H:%M")
    return f"超期: {clock.stage} deadline {deadline} passed"


def _advance(clock: StageClock, calendar, now: datetime, result: SweepResult) -> None:
    from dispatch.outbox import notifications_for_event, notifications_for_light
    from events.actors import Actor
    from events.services import NEXT_LEVEL, case_level_up

    light = _light_at(clock, now)
    if light != clock.light:
        if light == Light.YELLOW:
            result.warned += 1
        elif light == Light.RED:
            result.overdue += 1
        clock.light = light
        # warning (yellow) / overdue (red) notices, in this row's transaction: written exactly once per change
        notifications_for_light(case=clock.case, light=light, stage=clock.stage, now=now)
    if clock.light == Light.RED and not clock.escalated_for_breach:
        case = _locking(Case.objects.filter(pk=clock.case_id)).first()
        if case is None:  # locked by a transition or another sweep right now: the next sweep tries again
            clock.save(update_fields=["light"])
            return
        if case.state not in OPEN_STATES:  # not expected (transitions finish clocks); close it quietly
            _finish(clock, calendar, now)
            return
        if case.level not in NEXT_LEVEL:  # city: nothing above, the light says it all
            clock.level = case.level
            clock.save(update_fields=["light", "level"])
            return
        case_level_up(case, reason=_breach_reason(clock), now=now, actor=Actor.system("sweep"))
        case.updated_at = now
        case.save(update_fields=["level", "escalations_count", "last_seq", "last_hash", "updated_at"])
        notifications_for_event(case=case, event=case.events.get(seq=case.last_seq))  # the new level's dispatchers
        clock.escalated_for_breach = True
        _finish(clock, calendar, now, on_time=False)
        clock_start(case=case, stage=clock.stage, now=now, calendar=calendar)
        result.escalated += 1
        return
    clock.save(update_fields=["light"])


def sweep(now: datetime | None = None, limit: int = 500) -> SweepResult:
    """Advance due clocks (lights at 80 % / 100 %, one-level escalation per breach) and resume suspended cases whose
    date has come. Safe to run concurrently and to re-run after a crash."""
    from config.errors import Conflict
    from events.actors import Actor
    from events.services import case_act

    now = now or timezone.now()
    calendar = work_calendar()
    result = SweepResult()
    with transaction.atomic():
        clocks = list(_locking(StageClock.objects.filter(_due_q(now)).order_by("deadline", "id"))[:limit])
        for clock in clocks:
            try:
                with transaction.atomic():
                    _advance(clock, calendar, now, result)
            except Exception:  # one bad row must not stop the others; it stays due and is logged every sweep
                log.exception("sweep: clock %s of case %s failed", clock.pk, clock.case_id)
    due = Case.objects.filter(state=CaseState.SUSPENDED, suspended_until__lte=now).order_by("suspended_until")
    for number in due.values_list("number", flat=True)[:limit]:
        try:
            case_act(case=number, action="resume", actor=Actor.system("sweep"),
                     inputs={"note": "suspension date reached"})
        except Conflict:  # resumed by someone else meanwhile
            continue
        except Exception:
            log.exception("sweep: resuming case %s failed", number)
            continue
        result.resumed += 1
    return result
