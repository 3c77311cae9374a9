"""Stage clocks: one row per open stage of a case, started, paused, extended and finished with the case's
transitions (``clocks_on_transition``, called by ``events.services`` under the case row lock), and advanced by the
periodic ``sweep`` (lights, breach escalation, resuming suspended cases, closing verified cases nobody rates).

Stages follow the case state: reported → accept, accepted → dispatch, dispatched → sign, handling and suspended →
handle, handled → verify, verified → feedback; a terminal state has none. On a transition every open clock of another
stage is finished (``on_time`` = finished by its deadline) and the new state's stage gets a clock if it has none open.
suspend pauses the handle clock, resume resumes it (the paused time, counted in the clock's unit, moves the deadline);
approve_extension adds one base limit to the handle clock (at most 2); rework finishes verify and starts a fresh
handle clock; a manual escalate finishes the current stage's clock and starts a fresh one at the new level, with that
level's limit (paused from the start when the case is suspended) — as the sweep's breach escalation does. A level-up
after a second return happens before the clocks move, so the new dispatch clock carries the upper level's limit.

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

Lock order, on every path: a case, then its clocks. Cases are locked ``FOR NO KEY UPDATE`` (their key never changes),
so the foreign-key checks of rows that reference a case (events, clocks, notices: ``FOR KEY SHARE``) never wait for
a transition holding it. A transition (``events.services.case_act``) locks its case, then its clocks
(``clocks_on_transition``), waiting for a clock the sweep holds. The sweep finds clocks first, so it never waits for
a case: it locks them ``SKIP LOCKED`` and a case locked elsewhere is skipped this pass (its clock stays due, the others
in the batch go on) — no wait cycle, so no deadlock between the two.

The pass is set-based (``sweep``): due clocks are claimed a batch at a time (three queries, each on its own partial
index; on PostgreSQL the clocks turning yellow or red get their new light in the claiming UPDATE itself), the light
changes and their notices are written with one statement each, the breaches' cases are locked with one query and each
gets its escalate event through ``events.services.case_level_up``, then the cases, the old and new clocks and the
notices are written together. Each batch is one transaction; a batch that fails is done again clock by clock
(``_advance``), so one bad row stays due and is logged without stopping the others.
"""

from __future__ import annotations

import logging
import operator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import reduce
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from config.compiled import CompiledQuery
from config.rows import row_insert, row_update
from events.models import OPEN_STATES, Case, CaseState, ClockEffect, CommandLevel, LimitUnit

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


def clock_start(*, case: Case, stage: str, now: datetime, calendar=None, save: bool = True) -> StageClock:
    """Start a clock for ``stage`` of the case at its current level, with the limit of ``dispatch.sla``
    (``save=False``: build it only, for the sweep to insert many at once)."""
    calendar = calendar or work_calendar()
    limit = case_limit(case, stage)
    clock = StageClock(case=case, stage=stage, level=case.top_level, started_at=now, limit_amount=limit.amount,
                       limit_unit=limit.unit)
    _schedule(clock, calendar)
    clock.light = _light_at(clock, now)
    if case.state == CaseState.SUSPENDED:  # restarted while suspended (an escalation): paused from the start
        clock.paused_at = now
    if save:
        row_insert(clock)
    return clock


def _finish(clock: StageClock, calendar, now: datetime, on_time: bool | None = None) -> None:
    _unpause(clock, calendar, now)
    clock.finished_at = now
    clock.on_time = (now <= clock.deadline) if on_time is None else on_time
    clock.light = _light_at(clock, now)
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
                clock.light = _light_at(clock, now)
            elif clock.extensions < MAX_EXTENSIONS:
                clock.limit_amount += clock.limit_amount / (clock.extensions + 1)
                clock.extensions += 1
                _schedule(clock, calendar)
                clock.light = _light_at(clock, now)
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
            _finish(clock, calendar, now)
    if stage is not None and not keep:
        return [clock_start(case=case, stage=stage, now=now, calendar=calendar)]
    return []


# --- The sweep -------------------------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    warned: int = 0
    overdue: int = 0
    escalated: int = 0
    resumed: int = 0
    closed: int = 0


def _due_claims(now: datetime) -> tuple[tuple[Q, str], ...]:
    """The sweep's claim queries (condition, order), the most urgent first; each one reads its own partial index
    (``StageClock.Meta.indexes``). A running clock is due when it is green past ``warn_at`` (turns yellow, or red if
    the deadline passed too: ``warn_at`` ≤ ``deadline``), yellow past its deadline (turns red), or red at street or
    district level without its escalation yet (the case was locked at the breach)."""
    running = Q(finished_at__isnull=True, paused_at__isnull=True)
    return (
        (running & Q(light=Light.RED, escalated_for_breach=False, level__in=_ESCALATING_LEVELS, deadline__lte=now),
         "deadline"),
        (running & Q(light=Light.YELLOW, deadline__lte=now), "deadline"),
        (running & Q(light=Light.GREEN, warn_at__lte=now), "warn_at"),
    )


def _due_q(now: datetime) -> Q:
    """Every due clock (the union of ``_due_claims``)."""
    return reduce(operator.or_, (condition for condition, _order in _due_claims(now)))


def _locking(queryset, *, no_key: bool = False):
    """``FOR UPDATE SKIP LOCKED`` (``no_key``: ``FOR NO KEY UPDATE SKIP LOCKED``, as cases are locked: see the lock
    order in the module docstring)."""
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True, of=("self",), no_key=no_key)
    return queryset  # SQLite: the transaction alone (writers are serialised)


def _breach_reason(clock: StageClock) -> str:
    """Why the sweep escalates: kept in the event log, so written once in the site's language (``LANGUAGE_CODE``)."""
    deadline = timezone.localtime(clock.deadline).strftime("%Y-%m-%d %H:%M")
    with translation.override(settings.LANGUAGE_CODE):
        return _("overdue: the %(stage)s deadline %(deadline)s passed") % {
            "stage": Stage(clock.stage).label, "deadline": deadline}


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
        case = _locking(Case.objects.filter(pk=clock.case_id), no_key=True).first()
        if case is None:  # locked by a transition or another sweep right now: the next sweep tries again
            clock.save(update_fields=["light"])
            return
        if case.state not in OPEN_STATES:  # not expected (transitions finish clocks); close it quietly
            _finish(clock, calendar, now)
            return
        if case.top_level not in NEXT_LEVEL:  # city: nothing above, the light says it all
            clock.level = case.top_level
            clock.save(update_fields=["light", "level"])
            return
        case_level_up(case, reason=_breach_reason(clock), now=now, actor=Actor.system("sweep"))
        case.updated_at = now
        case.save(update_fields=["level", "escalated_to", "escalation_policy", "escalations_count", "last_seq",
                                 "last_hash", "updated_at"])
        notifications_for_event(case=case, event=case.events.get(seq=case.last_seq))  # the new level's dispatchers
        clock.escalated_for_breach = True
        _finish(clock, calendar, now, on_time=False)
        clock_start(case=case, stage=clock.stage, now=now, calendar=calendar)
        result.escalated += 1
        return
    clock.save(update_fields=["light"])


class _Due(NamedTuple):
    """A claimed clock: the columns the sweep reads (a StageClock is built only for the rare slow cases)."""

    pk: int
    case_id: int
    stage: str
    level: str
    light: str
    warn_at: datetime
    deadline: datetime
    escalated_for_breach: bool


def pk_in(ids) -> Q:
    """``pk IN ids``: on PostgreSQL as one array parameter (``IN (SELECT unnest(%s))``) — an IN list of a thousand
    placeholders costs more to build and send than to run."""
    ids = list(ids)
    if connection.vendor == "postgresql":
        return Q(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [ids]))
    return Q(pk__in=ids)


def _claim(now: datetime, limit: int, skip: set[int], *, turn: bool = False) -> tuple[list[_Due], bool]:
    """Lock up to ``limit`` due clocks (``_due_claims`` in order; FOR UPDATE SKIP LOCKED on PostgreSQL, so a
    concurrent sweep takes other rows), leaving out ``skip``: rows this pass could not finish.

    With ``turn`` on PostgreSQL the clocks turning yellow or red get their new light in the claiming statement
    itself (``_claim_turning``); returns the clocks (with their light before) and whether that was done."""
    turning = turn and connection.vendor == "postgresql"
    clocks: list[_Due] = []
    for index, (condition, order) in enumerate(_due_claims(now)):
        if len(clocks) >= limit:
            break
        due = StageClock.objects.filter(condition)
        if skip:
            due = due.exclude(pk_in(skip))
        due = _locking(due.order_by(order, "id"))
        if turning and index > 0:  # the first claim takes red clocks: their light stays
            clocks += _claim_turning(due.values_list("id", "light")[: limit - len(clocks)], now)
        else:
            clocks += [_Due(*row) for row in due.values_list(*_Due._fields)[: limit - len(clocks)]]
    return clocks, turning


def turning_sql(claim, now: datetime) -> tuple[str, list]:
    """``UPDATE … SET light = (as _light_at) FROM (the claim, FOR UPDATE SKIP LOCKED) RETURNING …``: one statement
    locks the due rows and writes their new light (one new row version instead of a lock and then an update)."""
    sql, params = claim.query.sql_with_params()
    return (f'UPDATE "{StageClock._meta.db_table}" AS t SET "light" = CASE WHEN t."deadline" <= %s THEN %s '
            f'WHEN t."warn_at" <= %s THEN %s ELSE %s END FROM ({sql}) AS due WHERE t."id" = due."id" '
            f'RETURNING t."id", t."case_id", t."stage", t."level", due."light", t."warn_at", t."deadline", '
            f't."escalated_for_breach"',
            [now, Light.RED.value, now, Light.YELLOW.value, Light.GREEN.value, *params])


def _claim_turning(claim, now: datetime) -> list[_Due]:
    with connection.cursor() as cursor:
        cursor.execute(*turning_sql(claim, now))
        return [_Due(*row) for row in cursor.fetchall()]


def _cases_escalated_save(cases: list[Case], now: datetime) -> None:
    """Write what ``case_level_up`` changed on each case (level, counters, event chain head) and ``updated_at``: one
    UPDATE from arrays on PostgreSQL, ``bulk_update`` elsewhere."""
    fields = ["level", "escalated_to", "escalation_policy", "escalations_count", "last_seq", "last_hash"]
    if connection.vendor != "postgresql":
        for case in cases:
            case.updated_at = now
        Case.objects.bulk_update(cases, [*fields, "updated_at"])
        return
    column = {name: Case._meta.get_field(name).column for name in ["id", *fields, "updated_at"]}
    sets = ", ".join(f'"{column[name]}" = v.{name}' for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{Case._meta.db_table}" AS c SET {sets}, "{column["updated_at"]}" = %s '
            f"FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::integer[], %s::integer[], %s::text[]) "
            f"AS v(id, {', '.join(fields)}) WHERE c.\"{column['id']}\" = v.id",
            [now, *([getattr(case, name) for case in cases] for name in ["pk", *fields])])


def _advance_batch(clocks: list[_Due], calendar, now: datetime, result: SweepResult, skip: set[int],
                   people=None, lights_written: bool = False) -> None:
    """``_advance`` for many clocks with a few statements: the light changes as one UPDATE per colour (unless the
    claim wrote them: ``lights_written``) and their notices as one COPY; each breach escalated under its case's row
    lock (SKIP LOCKED: a case in the middle of a transition waits for the next pass), its escalate event appended
    per case by ``case_level_up``, then the cases, the finished and the new clocks and the notices written
    together."""
    from dispatch.outbox import LIGHT_KINDS, Notice, notice_cases, notifications_bulk
    from events.actors import Actor
    from events.services import NEXT_LEVEL, case_level_up

    changed: dict[str, list[_Due]] = {}
    breaches = []
    for clock in clocks:
        light = _light_at(clock, now)
        if light != clock.light:
            clock = clock._replace(light=light)
            changed.setdefault(light, []).append(clock)
        # a clock at city level has nowhere to go: its red light says it all
        if clock.light == Light.RED and not clock.escalated_for_breach and clock.level in _ESCALATING_LEVELS:
            breaches.append(clock)
    for light, rows in () if lights_written else changed.items():
        StageClock.objects.filter(pk_in(clock.pk for clock in rows)).update(light=light)
    result.warned += len(changed.get(Light.YELLOW, ()))
    result.overdue += len(changed.get(Light.RED, ()))

    # Warning (yellow) / overdue (red) notices: written exactly once per change, in this batch's transaction.
    noticed = [clock for light in (Light.YELLOW, Light.RED) for clock in changed.get(light, ())]
    facts = notice_cases({clock.case_id for clock in noticed})
    notices = [Notice(case=facts[clock.case_id], kind=LIGHT_KINDS[clock.light], level=facts[clock.case_id].level,
                      payload={"stage": clock.stage}) for clock in noticed]

    if breaches:
        locked = {case.pk: case for case in _locking(
            Case.objects.filter(pk_in({clock.case_id for clock in breaches}))
            .select_related("category", "department").order_by("id"), no_key=True)}
        escalated: list[tuple[_Due, Case]] = []
        for clock in breaches:
            case = locked.pop(clock.case_id, None)  # pop: one escalation per case and pass
            if case is None:  # locked by a transition or another sweep right now: the next pass tries again
                skip.add(clock.pk)
            elif case.state not in OPEN_STATES:  # not expected (transitions finish clocks); close it quietly
                _finish(StageClock.objects.get(pk=clock.pk), calendar, now)
            elif case.top_level not in NEXT_LEVEL:  # the case went up to the city meanwhile: the light says it all
                StageClock.objects.filter(pk=clock.pk).update(level=case.top_level)
            else:
                reason = _breach_reason(clock)
                event = case_level_up(case, reason=reason, now=now, actor=Actor.system("sweep"))
                escalated.append((clock, case))
                notices.append(Notice(case=case, kind="escalate", level=case.top_level, seq=case.last_seq,
                                      payload=event.payload))
        if escalated:
            _cases_escalated_save([case for _clock, case in escalated], now)
            StageClock.objects.filter(pk_in(clock.pk for clock, _case in escalated)).update(
                escalated_for_breach=True, finished_at=now, on_time=False, light=Light.RED)
            StageClock.objects.bulk_create([
                clock_start(case=case, stage=clock.stage, now=now, calendar=calendar, save=False)
                for clock, case in escalated])
            result.escalated += len(escalated)
    notifications_bulk(notices, now=now, people=people)


def _merge(total: SweepResult, part: SweepResult) -> None:
    for name in ("warned", "overdue", "escalated", "resumed", "closed"):
        setattr(total, name, getattr(total, name) + getattr(part, name))


def _close_unasked(now: datetime, limit: int) -> int:
    """Close (结案, by the system) the verified cases with no citizen to ask for feedback — filed by staff, e.g. a
    grid worker's patrol report — whose feedback window (``GRIDLOOP_FEEDBACK_WINDOW_HOURS``) has passed and which the
    command center has not closed itself. Returns how many were closed."""
    from django.conf import settings

    from config.errors import Conflict
    from events.actors import Actor
    from events.services import case_act

    window = timedelta(hours=settings.GRIDLOOP_FEEDBACK_WINDOW_HOURS)
    due = Case.objects.filter(state=CaseState.VERIFIED, citizen_key="", verified_at__lte=now - window)
    closed = 0
    for number in due.order_by("verified_at").values_list("number", flat=True)[:limit]:
        try:
            case_act(case=number, action="close", actor=Actor.system("sweep"),
                     inputs={"note": "no citizen to ask: closed after the feedback window"})
        except Conflict:  # closed by the command center meanwhile
            continue
        except Exception:
            log.exception("sweep: closing case %s failed", number)
            continue
        closed += 1
    return closed


def sweep(now: datetime | None = None, limit: int | None = None, batch_size: int | None = None) -> SweepResult:
    """Advance due clocks (lights at 80 % / 100 %, one-level escalation per breach), resume suspended cases whose
    date has come and close verified cases with no citizen to ask once their feedback window has passed. Safe to run
    concurrently and to re-run after a crash.

    Up to ``limit`` due clocks per pass (``GRIDLOOP_SWEEP_MAX_ROWS``), in transactions of ``batch_size`` clocks
    (``GRIDLOOP_SWEEP_BATCH_SIZE``), each handled set-based (``_advance_batch``); a batch that fails is rolled back
    and done again one clock at a time (``_advance``, a savepoint each), so one bad row does not stop the others —
    it stays due, is logged, and is left for the next pass.
    """
    from django.conf import settings

    from config.errors import Conflict
    from dispatch.outbox import People
    from events.actors import Actor
    from events.services import case_act

    now = now or timezone.now()
    limit = settings.GRIDLOOP_SWEEP_MAX_ROWS if limit is None else limit
    batch_size = max(1, settings.GRIDLOOP_SWEEP_BATCH_SIZE if batch_size is None else batch_size)
    calendar = work_calendar()
    result = SweepResult()
    skip: set[int] = set()  # clocks this pass leaves to the next one (case locked, or failed)
    people = People()  # who to notify, looked up once per pass
    result.closed = _close_unasked(now, limit)  # first: a feedback clock running out at the same moment is moot
    claimed = 0
    while claimed < limit:
        with transaction.atomic():
            size = min(batch_size, limit - claimed)
            batch = SweepResult()
            try:
                with transaction.atomic():  # the claim too: a failure takes back its light changes and row locks
                    clocks, lights_written = _claim(now, size, skip, turn=True)
                    if clocks:
                        _advance_batch(clocks, calendar, now, batch, skip, people, lights_written)
            except Exception:
                log.exception("sweep: a batch of up to %s clocks failed; doing them one by one", size)
                batch = SweepResult()
                clocks, _written = _claim(now, size, skip)
                for clock in StageClock.objects.filter(pk_in(c.pk for c in clocks)).order_by("id"):
                    try:
                        with transaction.atomic():
                            _advance(clock, calendar, now, batch)
                    except Exception:  # it stays due and is logged every pass
                        log.exception("sweep: clock %s of case %s failed", clock.pk, clock.case_id)
                        skip.add(clock.pk)
                    else:
                        if clock.light == Light.RED and not clock.escalated_for_breach and clock.finished_at is None \
                                and clock.level in _ESCALATING_LEVELS:
                            skip.add(clock.pk)  # its case was locked: the next pass
            if not clocks:
                break
            claimed += len(clocks)
            _merge(result, batch)
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
