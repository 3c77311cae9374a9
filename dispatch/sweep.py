"""The SLA sweep (Celery beat, every few seconds: ``dispatch.tasks``): advances due stage clocks (lights at 80 % and
100 %, one-level escalation per breach), resumes suspended cases whose date has come and closes verified cases nobody
rates. It sits above both ``events`` (the case log, ``case_act``) and the clock bookkeeping (``dispatch.clocks``).

Escalation: when the sweep finds a clock past its deadline that has not been escalated for, it locks the case (skipping
it if someone else holds the lock — the next sweep retries), moves the case one level up (street → district → city) with
an "escalate" event by the system actor "sweep", marks the clock ``escalated_for_breach`` and finishes it (late), and
starts a fresh clock for the same stage at the new level with that level's limit. The clock update, the level change and
its event commit together, and the clock row is locked (FOR UPDATE SKIP LOCKED on PostgreSQL) while it is processed:
concurrent sweeps, or a sweep after a crash half way, never escalate the same breach twice. A breach at city level only
turns the light red. (Lock order: see ``dispatch.clocks`` — the sweep finds clocks first and skips locked cases.)

The pass is set-based: due clocks are claimed a batch at a time (three queries, each on its own partial index; on
PostgreSQL the clocks turning yellow or red get their new light in the claiming UPDATE itself), the light changes and
their notices are written with one statement each, the breaches' cases are locked with one query and each gets its
escalate event through ``events.log.case_level_up``, then the cases, the old and new clocks and the notices are written
together (``_advance``). Each batch is one transaction; a batch that fails is done again clock by clock — the same
``_advance`` with a batch of one, a savepoint each — so one bad row stays due and is logged without stopping the others.
"""

from __future__ import annotations

import logging
import operator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import attrgetter
from typing import NamedTuple, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from config.errors import Conflict
from config.queries import pk_in
from events.actors import Actor
from events.log import NEXT_LEVEL, case_level_up
from events.models import OPEN_STATES, Case, CaseState, CommandLevel, EventKind
from events.services import case_act

from .clocks import clock_finish, clock_start, light_at
from .models import Light, Stage, StageClock
from .outbox import LIGHT_KINDS, Notice, People, notice_cases, notifications_bulk
from .selectors import work_calendar

log = logging.getLogger(__name__)

_ESCALATING_LEVELS = (CommandLevel.STREET, CommandLevel.DISTRICT)


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


def _breach_reason(clock: _Due) -> str:
    """Why the sweep escalates: kept in the event log, so written once in the site's language (``LANGUAGE_CODE``)."""
    deadline = timezone.localtime(clock.deadline).strftime("%Y-%m-%d %H:%M")
    with translation.override(settings.LANGUAGE_CODE):
        return _("overdue: the %(stage)s deadline %(deadline)s passed") % {
            "stage": Stage(clock.stage).label, "deadline": deadline}


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
    """``UPDATE … SET light = (as clocks.light_at) FROM (the claim, FOR UPDATE SKIP LOCKED) RETURNING …``: one statement
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
    column = {name: cast(Field, Case._meta.get_field(name)).column for name in ["id", *fields, "updated_at"]}
    sets = ", ".join(f'"{column[name]}" = v.{name}' for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{Case._meta.db_table}" AS c SET {sets}, "{column["updated_at"]}" = %s '
            f"FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::integer[], %s::integer[], %s::text[]) "
            f"AS v(id, {', '.join(fields)}) WHERE c.\"{column['id']}\" = v.id",
            [now, *([getattr(case, name) for case in cases] for name in ["pk", *fields])])


def _advance(clocks: list[_Due], calendar, now: datetime, result: SweepResult, skip: set[int],
             people: People | None = None, lights_written: bool = False) -> None:
    """Advance claimed clocks (a batch, or one: the same path) with a few statements: the light changes as one
    UPDATE per colour (unless the claim wrote them: ``lights_written``) and their notices as one COPY; each breach
    escalated under its case's row lock (SKIP LOCKED: a case in the middle of a transition is added to ``skip`` and
    waits for the next pass), its escalate event appended per case by ``case_level_up``, then the cases, the
    finished and the new clocks and the notices written together."""
    changed: dict[str, list[_Due]] = {}
    breaches = []
    for clock in clocks:
        light = light_at(clock, now)
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
                clock_finish(StageClock.objects.get(pk=clock.pk), calendar, now)
            elif case.top_level not in NEXT_LEVEL:  # the case went up to the city meanwhile: the light says it all
                StageClock.objects.filter(pk=clock.pk).update(level=case.top_level)
            else:
                reason = _breach_reason(clock)
                event = case_level_up(case, reason=reason, now=now, actor=Actor.system("sweep"))
                escalated.append((clock, case))
                notices.append(Notice(case=case, kind=EventKind.ESCALATE, level=case.top_level, seq=case.last_seq,
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
    (``GRIDLOOP_SWEEP_BATCH_SIZE``), each handled set-based (``_advance``); a batch that fails is rolled back and
    done again one clock at a time (``_advance`` of a batch of one, a savepoint each), so one bad row does not stop
    the others — it stays due, is logged, and is left for the next pass.
    """
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
                        _advance(clocks, calendar, now, batch, skip, people, lights_written)
            except Exception:
                log.exception("sweep: a batch of up to %s clocks failed; doing them one by one", size)
                batch = SweepResult()
                clocks, _written = _claim(now, size, skip)
                for clock in sorted(clocks, key=attrgetter("pk")):  # each a batch of one, in a savepoint
                    one = SweepResult()
                    try:
                        with transaction.atomic():
                            _advance([clock], calendar, now, one, skip, people)
                    except Exception:  # it stays due and is logged every pass
                        log.exception("sweep: clock %s of case %s failed", clock.pk, clock.case_id)
                        skip.add(clock.pk)
                    else:
                        _merge(batch, one)
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
