"""Stage clocks: one row per open stage of a case, started, paused, extended and finished with the case's
transitions (``clocks_on_transition``, called by ``events.services.case_act`` through ``events.hooks`` under the case
row lock). The periodic pass that advances them (lights, breach escalation, resuming suspended cases, closing verified
cases nobody rates) is ``dispatch.sweep``, above this module.

Stages follow the case state: reported → accept, accepted → dispatch, dispatched → sign, handling and suspended →
handle, handled → verify, verified → feedback; a terminal state has none. On a transition every open clock of another
stage is finished (``on_time`` = finished by its deadline) and the new state's stage gets a clock if it has none open.
suspend pauses the handle clock, resume resumes it (the paused time, counted in the clock's unit, moves the deadline);
approve_extension adds one base limit to the handle clock (at most ``MAX_EXTENSIONS``); rework finishes verify and
starts a fresh handle clock; a manual escalate finishes the current stage's clock and starts a fresh one at the new
level, with that level's limit (paused from the start when the case is suspended) — as the sweep's breach escalation
does. A level-up after a second return happens before the clocks move, so the new dispatch clock carries the upper
level's limit.

Time: the limit's length L is counted as the work calendar counts it (``dispatch.calendar``): wall-clock seconds for
urgent_hour / natural_day, working seconds for work_hour / work_day (for work_day: the working seconds from the start
to the calendar's work_day deadline). ``warn_at`` is the moment 0.8 × L (+ paused time) has been used, ``deadline`` the
moment L (+ paused time) has been; with no pause the deadline is exactly ``calendar.deadline(start, amount, unit)``.

Lock order, on every path: a case, then its clocks. Cases are locked ``FOR NO KEY UPDATE`` (their key never changes),
so the foreign-key checks of rows that reference a case (events, clocks, notices: ``FOR KEY SHARE``) never wait for
a transition holding it. A transition (``events.services.case_act``) locks its case, then its clocks
(``clocks_on_transition``), waiting for a clock the sweep holds. The sweep finds clocks first, so it never waits for
a case: it locks them ``SKIP LOCKED`` and a case locked elsewhere is skipped this pass (``dispatch.sweep``) — no wait
cycle, so no deadlock between the two.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from config.compiled import CompiledQuery
from config.rows import row_insert, row_update
from events.models import MAX_EXTENSIONS, Case, CaseState, ClockEffect, LimitUnit

from .models import Light, Stage, StageClock
from .selectors import work_calendar
from .sla import case_limit

WARN_FRACTION = Decimal("0.8")
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


def light_at(clock, now: datetime) -> str:
    """The light of a running clock (a StageClock, or any row with its ``warn_at`` and ``deadline``) at ``now``."""
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


def clock_start(*, case: Case, stage: str, now: datetime, calendar=None, save: bool = True) -> StageClock:
    """Start a clock for ``stage`` of the case at its current level, with the limit of ``dispatch.sla``
    (``save=False``: build it only, for the sweep to insert many at once)."""
    calendar = calendar or work_calendar()
    limit = case_limit(case, stage)
    clock = StageClock(case=case, stage=stage, level=case.top_level, started_at=now, limit_amount=limit.amount,
                       limit_unit=limit.unit)
    _schedule(clock, calendar)
    clock.light = light_at(clock, now)
    if case.state == CaseState.SUSPENDED:  # restarted while suspended (an escalation): paused from the start
        clock.paused_at = now
    if save:
        row_insert(clock)
    return clock


def clock_finish(clock: StageClock, calendar, now: datetime, on_time: bool | None = None) -> None:
    """Stop the clock at ``now`` (``on_time``: by its deadline, unless given) and save it."""
    _unpause(clock, calendar, now)
    clock.finished_at = now
    clock.on_time = (now <= clock.deadline) if on_time is None else on_time
    clock.light = light_at(clock, now)
    row_update(clock)


# --- Transitions ---------------------------------------------------------------------------------------------------------
def clocks_on_transition(*, case: Case, effect: ClockEffect, now: datetime) -> list[StageClock]:
    """Start / finish / pause / resume / extend / restart the case's clocks as the action just applied declares
    (``effect``, the action's ``clock`` in events/workflow.py); returns all the case's clocks as they are now, oldest
    first (what the case detail shows, so it need not read them again).

    Called by ``events.services`` after the action's event is appended, with the case row locked and ``case.state``
    already the new state.
    """
    calendar = work_calendar()
    # A case just reported has no clocks yet: no need to ask. A case has a handful of clocks: all are read.
    clocks = [] if effect == ClockEffect.START else _clocks_to_move(case.pk)
    started = _clocks_move(case, clocks, effect, calendar, now)
    return sorted(clocks + started, key=lambda clock: (clock.started_at, clock.pk))


# Locked after the case (the lock order on every path: a case, then its clocks): a clock the sweep holds is waited
# for here, and read as the sweep left it.
_clocks_to_move = CompiledQuery(
    lambda case_id: StageClock.objects.select_for_update(no_key=True).filter(case_id=case_id)
    .order_by("started_at", "id"), int)


def clocks_for_new_case(*, case: Case, now: datetime) -> list[StageClock]:
    """The clocks a case just reported starts with, built but not saved, for the caller to insert with the case's
    other first rows: the same clocks as ``clocks_on_transition(effect=ClockEffect.START)`` starts and saves."""
    stage = STAGE_OF_STATE.get(case.state)
    return [] if stage is None else [clock_start(case=case, stage=stage, now=now, save=False)]


def _clocks_move(case: Case, clocks: list[StageClock], effect: ClockEffect, calendar, now: datetime
                 ) -> list[StageClock]:
    """Apply the clock ``effect`` to the case's open clocks (saving each one changed); returns the clocks started."""
    open_clocks = sorted((clock for clock in clocks if clock.finished_at is None), key=lambda clock: clock.pk)
    if effect in (ClockEffect.PAUSE, ClockEffect.RESUME, ClockEffect.EXTEND):  # the handling clock only
        for clock in open_clocks:
            if clock.stage != Stage.HANDLE:
                continue
            if effect == ClockEffect.PAUSE:
                if clock.paused_at is None:
                    clock.paused_at = now
            elif effect == ClockEffect.RESUME:
                _unpause(clock, calendar, now)
                clock.light = light_at(clock, now)
            elif clock.extensions < MAX_EXTENSIONS:
                clock.limit_amount += clock.limit_amount / (clock.extensions + 1)
                clock.extensions += 1
                _schedule(clock, calendar)
                clock.light = light_at(clock, now)
            row_update(clock)
        return []
    stage = STAGE_OF_STATE.get(case.state)
    # rework handles again from the start; escalate (by hand) restarts the stage at the new level with its limit
    restart = effect == ClockEffect.RESTART
    keep = False
    for clock in open_clocks:
        if clock.stage == stage and not restart:
            keep = True
        else:
            clock_finish(clock, calendar, now)
    if stage is not None and not keep:
        return [clock_start(case=case, stage=stage, now=now, calendar=calendar)]
    return []
