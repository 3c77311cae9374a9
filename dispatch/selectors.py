"""Reads for dispatch."""

import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from config.compiled import CompiledQuery
from events.models import Attachment, Case, CaseEvent, CaseState, FieldCheck

from .models import Heartbeat, StageClock

HEARTBEAT_STALE_AFTER = timedelta(seconds=90)


def health() -> dict:
    """Database reachable and the worker heartbeat fresh (beat runs it every 30 s)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    beat = Heartbeat.objects.filter(name="worker").first()
    age = (timezone.now() - beat.seen_at).total_seconds() if beat else None
    worker_ok = age is not None and age <= HEARTBEAT_STALE_AFTER.total_seconds()
    return {"database": "ok", "worker": "ok" if worker_ok else "stale", "worker_last_seen_seconds": age}


# --- Work calendar (issue 4) -----------------------------------------------------------------------------------------
_work_calendar_cache: dict = {}  # {"entry": ((windows setting, time zone, overrides version), WorkCalendar)}


def _overrides_version() -> tuple:
    from django.db.models import Count, Max

    from .models import CalendarOverride

    found = CalendarOverride.objects.aggregate(count=Count("id"), latest=Max("updated_at"))
    return found["count"], found["latest"]


def work_calendar_invalidate() -> None:
    """Forget this process's cached work calendar (the services call it when they change overrides)."""
    _work_calendar_cache.clear()


def work_calendar():
    """The WorkCalendar for settings.GRIDLOOP_WORK_WINDOWS, settings.TIME_ZONE and every CalendarOverride.

    Cached per process and rebuilt when the overrides change: the services invalidate it, and a call compares a
    cheap version (row count + latest ``updated_at``, one aggregate query) at most every
    ``GRIDLOOP_CONFIG_CHECK_SECONDS`` (default 5), so changes made by other processes are seen within that time. Raises ImproperlyConfigured when GRIDLOOP_WORK_WINDOWS is malformed.
    """
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from .calendar import WorkCalendar, parse_windows
    from .models import CalendarOverride

    cached = _work_calendar_cache.get("entry")
    now = time.monotonic()
    if (cached is not None and cached[0][:2] == (settings.GRIDLOOP_WORK_WINDOWS, settings.TIME_ZONE)
            and now - _work_calendar_cache.get("checked_at", float("-inf")) < settings.GRIDLOOP_CONFIG_CHECK_SECONDS):
        return cached[1]
    key = (settings.GRIDLOOP_WORK_WINDOWS, settings.TIME_ZONE, _overrides_version())
    _work_calendar_cache["checked_at"] = now
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        windows = parse_windows(settings.GRIDLOOP_WORK_WINDOWS)
    except ValueError as error:
        raise ImproperlyConfigured(
            f"GRIDLOOP_WORK_WINDOWS={settings.GRIDLOOP_WORK_WINDOWS!r} is invalid: {error}. "
            "Expected local times like '08:30-12:00,13:30-17:30' (comma separated, in order, not overlapping)."
        ) from None
    rows = list(CalendarOverride.objects.values_list("day", "is_workday", "updated_at"))
    # The version of the rows actually read, so a change between the check and the read is not cached as current.
    version = (len(rows), max((row[2] for row in rows), default=None))
    calendar = WorkCalendar(windows, {day: working for day, working, _ in rows}, settings.TIME_ZONE)
    _work_calendar_cache["entry"] = ((key[0], key[1], version), calendar)
    return calendar


def missing_holiday_years(horizon_days: int = 400) -> list[int]:
    """Years from today to today + ``horizon_days`` that chinesecalendar does not know and no override covers.

    Deadlines in those years count weekends only (plus overrides) until an admin enters the State Council's holiday
    schedule as calendar overrides.
    """
    from .calendar import chinese_calendar_knows
    from .models import CalendarOverride

    today = timezone.localdate()
    last = today + timedelta(days=horizon_days)
    unknown = [year for year in range(today.year, last.year + 1) if not chinese_calendar_knows(year)]
    if not unknown:
        return []
    covered = {day.year for day in CalendarOverride.objects.filter(day__year__in=unknown).dates("day", "year")}
    return [year for year in unknown if year not in covered]


# Read on every transition and every case detail: compiled once (config.compiled).
_clocks_of_case = CompiledQuery(
    lambda case_id: StageClock.objects.filter(case_id=case_id).order_by("started_at", "id"), int)


def case_clocks(case_id: int) -> list[StageClock]:
    """A case's stage clocks, oldest first."""
    return _clocks_of_case(case_id)


# --- The field app (issue 17): a grid worker's tasks and counts ------------------------------------------------------
FIELD_TASKS_LIMIT = 200


def grid_worker_tasks(user) -> list:
    """The on-site checks waiting for this grid worker in their unit grids, most urgent first: 核实 (a report whose
    on-site check was requested) and 核查 (a handled case to check). Each case comes with its open clock
    (``case.open_clock``, the stage's due time and light) and its photos (``case.attachments``)."""
    from django.db.models import Prefetch, Q

    from grids.models import Role
    from grids.selectors import roles_of

    grids = [a.region_id for a in roles_of(user) if a.role == Role.GRID_WORKER and a.region_id]
    if not grids:
        return []
    cases = list(
        Case.objects.filter(grid_id__in=grids)
        .filter(Q(state=CaseState.HANDLED) | Q(state=CaseState.REPORTED, field_check_status=FieldCheck.REQUESTED))
        .select_related("category", "department")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .order_by("created_at")[:FIELD_TASKS_LIMIT])
    open_clocks = {clock.case_id: clock for clock in StageClock.objects.filter(
        case_id__in=[c.pk for c in cases], finished_at__isnull=True).order_by("started_at")}
    for case in cases:
        case.open_clock = open_clocks.get(case.pk)  # type: ignore[attr-defined]  # (for the page)
    far = timezone.now() + timedelta(days=3650)
    return sorted(cases, key=lambda c: (c.open_clock.deadline if c.open_clock else far, c.created_at))


def grid_worker_counts(user, *, now=None) -> dict:
    """Today's and this month's figures of a grid worker (Asia/Shanghai days): reports filed, on-site checks made
    (核实 and 核查) and, of the 核查, how many were made before the check's deadline."""
    from datetime import datetime

    now = now or timezone.now()
    local = timezone.localtime(now)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    month = today.replace(day=1)
    figures = {}
    for name, start in (("today", today), ("month", month)):
        reports = Case.objects.filter(reporter=user, created_at__gte=start).count()
        checks = list(CaseEvent.objects.filter(actor=user, kind__in=("verify", "field_check"), occurred_at__gte=start)
                      .values_list("case_id", "kind", "occurred_at"))
        verified = {case_id: at for case_id, kind, at in checks if kind == "verify"}
        on_time = 0
        if verified:
            for clock in StageClock.objects.filter(case_id__in=list(verified), stage="verify", on_time=True):
                at: datetime = verified[clock.case_id]
                if clock.finished_at is not None and abs((clock.finished_at - at).total_seconds()) < 1:
                    on_time += 1
        figures[name] = {"reports": reports, "checks": len(checks), "verify_checks": len(verified),
                         "on_time": on_time}
    return figures

def running_clocks(case_ids) -> dict[int, StageClock]:
    """The running (unfinished) stage clock of each case, by case id, in one query (the newest when a case has more
    than one)."""
    clocks: dict[int, StageClock] = {}
    for clock in StageClock.objects.filter(case_id__in=list(case_ids), finished_at__isnull=True).order_by(
            "started_at", "id"):
        clocks[clock.case_id] = clock
    return clocks
