"""Writes for dispatch."""

import os
import socket

from django.utils import timezone

from .models import Heartbeat


def heartbeat_record(*, name: str = "worker") -> Heartbeat:
    """Record that a worker process ran a beat-scheduled task just now."""
    beat, _ = Heartbeat.objects.update_or_create(
        name=name, defaults={"seen_at": timezone.now(), "detail": {"host": socket.gethostname(), "pid": os.getpid()}}
    )
    return beat


# --- Work calendar overrides (issue 4) -------------------------------------------------------------------------------
def _calendar_day(day):
    from datetime import date, datetime

    if isinstance(day, datetime) or not isinstance(day, date):
        raise ValueError(f"day must be a date, not {type(day).__name__}")
    return day


def calendar_override_set(*, day, is_workday: bool, note: str = ""):
    """Make ``day`` a working day or a day off regardless of chinesecalendar (creates or replaces the override)."""
    from django.db import transaction

    from .models import CalendarOverride
    from .selectors import work_calendar_invalidate

    day = _calendar_day(day)
    with transaction.atomic():
        override, _ = CalendarOverride.objects.update_or_create(
            day=day, defaults={"is_workday": bool(is_workday), "note": note or ""}
        )
        transaction.on_commit(work_calendar_invalidate)
    work_calendar_invalidate()
    return override


def calendar_override_delete(*, day) -> bool:
    """Remove the override for ``day`` (chinesecalendar, or weekends, decide again); False when there was none."""
    from django.db import transaction

    from .models import CalendarOverride
    from .selectors import work_calendar_invalidate

    day = _calendar_day(day)
    with transaction.atomic():
        deleted, _ = CalendarOverride.objects.filter(day=day).delete()
        transaction.on_commit(work_calendar_invalidate)
    work_calendar_invalidate()
    return bool(deleted)
