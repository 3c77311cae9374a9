"""Reads for dispatch."""

import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from config.compiled import CompiledQuery

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


def running_clocks(case_ids) -> dict[int, StageClock]:
    """The running (unfinished) stage clock of each case, by case id, in one query (the newest when a case has more
    than one)."""
    clocks: dict[int, StageClock] = {}
    for clock in StageClock.objects.filter(case_id__in=list(case_ids), finished_at__isnull=True).order_by(
            "started_at", "id"):
        clocks[clock.case_id] = clock
    return clocks
