"""System check: warn when the statutory holiday table for a coming year is missing.

chinesecalendar only ships the years the State Council had published before its release; deadlines in a later year
fall back to weekends plus the calendar overrides. It reads the overrides, so like Django's own database checks it
only runs when the check framework is given databases: ``manage.py migrate`` and ``manage.py check --database
default`` (registered with the ``database`` tag), not a plain ``check`` or ``runserver``.
"""

from django.core.checks import Warning
from django.db import DatabaseError

HOLIDAY_TABLE_MISSING = "gridloop.W001"


def missing_years_text(years: list[int]) -> str:
    """English text naming the missing years (the admin shows a translated version of the same message)."""
    import chinese_calendar

    listed = ", ".join(str(year) for year in years)
    return (f"No statutory holiday table for {listed}: chinesecalendar {chinese_calendar.__version__} does not know "
            f"{'these years' if len(years) > 1 else 'this year'} and there are no calendar overrides for it. "
            "Until then 工作日/工作时 deadlines there count weekends only.")


def holiday_table_check(app_configs=None, databases=None, **kwargs):
    from datetime import timedelta

    from django.utils import timezone

    from .calendar import chinese_calendar_knows
    from .selectors import missing_holiday_years

    if not databases:  # like Django's own database checks: only when a database is named (migrate, --database)
        return []
    try:
        years = missing_holiday_years()
    except DatabaseError:  # no overrides table yet (before the first migrate): no override can cover a year
        today = timezone.localdate()
        last = today + timedelta(days=400)
        years = [year for year in range(today.year, last.year + 1) if not chinese_calendar_knows(year)]
    if not years:
        return []
    return [Warning(
        missing_years_text(years),
        hint="Enter the State Council's holiday schedule (放假安排: holidays and 调休 make-up working days) for "
             f"{', '.join(map(str, years))} as calendar overrides in the admin (Dispatch → Calendar overrides) "
             "the day it is published, or upgrade chinesecalendar once it includes that year.",
        id=HOLIDAY_TABLE_MISSING,
    )]
