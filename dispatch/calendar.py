"""The work calendar: deadlines and elapsed time for the four time-limit units (pure logic, no database).

Counting rules:

- urgent_hour: start + N hours of wall-clock time.
- work_hour: N hours of time inside working windows on working days; a start outside a window starts counting at the
  next window opening; a deadline that lands exactly on a window end stays there (not the next opening).
- work_day: the day of the start does not count (次日起算); the deadline is the end of the last working window of the
  N-th working day after the start day (e.g. start Mon 10:00, 1 work_day → Tue 17:30 on a normal week).
- natural_day: start + N × 24 h.
- elapsed_fraction = working_seconds(start, now, unit) minus paused_seconds, divided by the limit's length in that
  unit (N×3600 for hours; for work_day the working seconds from start to the deadline; for natural_day N×86400).
  Never negative.
- Windows and days are in Asia/Shanghai (settings.TIME_ZONE); inputs and outputs are aware datetimes: inputs may be
  in any time zone, ``deadline`` always returns UTC.
- is_workday: override if present; else chinesecalendar; for a year it does not know: Mon–Fri working, Sat/Sun not.

``working_seconds(a, b, unit)`` is the time that counts between two moments: wall-clock seconds for urgent_hour and
natural_day, seconds inside working windows on working days for work_hour and work_day; 0 when ``b <= a``.

Amounts: hours may be fractional (0.5 work_hour = 30 working minutes); work_day must be a whole number; every amount
must be > 0. Bad inputs (amount ≤ 0, non-number, unknown unit, naive datetime) raise ValueError.

Speed: the calendar builds, once per year it is asked about, a table of that year's working windows as integer
microseconds since the epoch with running totals; a deadline is then a couple of binary searches. Years chinesecalendar
does not publish (it raises NotImplementedError for them) fall back to weekends plus the overrides, never fail; see
``chinese_calendar_knows``. A WorkCalendar is immutable; build a new one when the overrides change
(``dispatch.selectors.work_calendar`` does that).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from fractions import Fraction
from functools import cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import chinese_calendar

URGENT_HOUR = "urgent_hour"  # 紧急工作时 — the same values as events.models.LimitUnit
WORK_HOUR = "work_hour"  # 工作时
WORK_DAY = "work_day"  # 工作日
NATURAL_DAY = "natural_day"  # 自然日
UNITS = (URGENT_HOUR, WORK_HOUR, WORK_DAY, NATURAL_DAY)
_UNIT_CODE = {URGENT_HOUR: 0, WORK_HOUR: 1, WORK_DAY: 2, NATURAL_DAY: 3}

DEFAULT_TZ = "Asia/Shanghai"
DEFAULT_WINDOWS = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))

_US = 1_000_000
_HOUR_US = 3600 * _US
_DAY_US = 86400 * _US
_AVERAGE_YEAR_US = 31_556_952 * _US  # 365.2425 days: only a first guess of the year, corrected by the tables
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_MAX_YEARS_AHEAD = 100  # a calendar with no working time for this long is broken: raise instead of looping
_WINDOW_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@cache
def chinese_calendar_knows(year: int) -> bool:
    """Whether the installed chinesecalendar has the State Council's holiday schedule for ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def parse_windows(text: str) -> tuple[tuple[time, time], ...]:
    """``"08:30-12:00,13:30-17:30"`` → ((08:30, 12:00), (13:30, 17:30)); ValueError with the reason otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("working windows must be a non-empty string like '08:30-12:00,13:30-17:30'")
    windows = []
    for part in text.split(","):
        match = _WINDOW_RE.match(part)
        if not match:
            raise ValueError(f"working window {part.strip()!r} is not HH:MM-HH:MM (e.g. '08:30-12:00')")
        h1, m1, h2, m2 = (int(group) for group in match.groups())
        try:
            windows.append((time(h1, m1), time(h2, m2)))
        except ValueError:
            raise ValueError(f"working window {part.strip()!r} has an impossible time (00:00–23:59)") from None
    return _validate_windows(windows)


def _validate_windows(windows: Iterable) -> tuple[tuple[time, time], ...]:
    result = tuple((start, end) for start, end in windows)
    if not result:
        raise ValueError("at least one working window is needed")
    previous_end = None
    for start, end in result:
        if not (isinstance(start, time) and isinstance(end, time)) or start.tzinfo or end.tzinfo:
            raise ValueError("working windows are pairs of naive datetime.time (local times of the calendar's zone)")
        if start >= end:
            raise ValueError(f"working window {start:%H:%M}-{end:%H:%M} ends before it starts")
        if previous_end is not None and start < previous_end:
            raise ValueError(f"working window {start:%H:%M}-{end:%H:%M} overlaps or precedes the one before it; "
                             "give windows in order of the day without overlaps")
        previous_end = end
    return result


def _to_us(moment: datetime, name: str = "datetime") -> int:
    """Microseconds since the epoch of an aware datetime."""
    if type(moment) is datetime and moment.tzinfo is not None:  # fast path; the subtraction needs an offset
        try:
            return (moment - _EPOCH) // _ONE_US
        except TypeError:
            pass
    if not isinstance(moment, datetime):
        raise ValueError(f"{name} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone), got naive {moment.isoformat()}")
    return (moment - _EPOCH) // _ONE_US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(0, 0, us)


def _unit_code(unit) -> int:
    try:
        code = _UNIT_CODE.get(unit)
    except TypeError:  # unhashable
        code = None
    if code is None:
        raise ValueError(f"unknown time-limit unit {unit!r}; expected one of {', '.join(UNITS)}")
    return code


def _amount_us(amount, code: int) -> int:
    """The amount as integer microseconds (hour and day units) or a whole count of working days (work_day)."""
    if type(amount) is int:  # the usual case, fast
        if amount <= 0:
            raise ValueError(f"time-limit amount must be > 0, got {amount}")
        if code == 2:
            return amount
        return amount * (_DAY_US if code == 3 else _HOUR_US)
    if isinstance(amount, bool) or not isinstance(amount, int | float | Decimal | Fraction):
        raise ValueError(f"time-limit amount must be a number, got {amount!r}")
    if not math.isfinite(amount) or amount <= 0:
        raise ValueError(f"time-limit amount must be a finite number > 0, got {amount!r}")
    if code == 2:
        if amount != int(amount):
            raise ValueError(f"work_day amounts must be whole days, got {amount!r}")
        return int(amount)
    scaled = round(amount * (_DAY_US if code == 3 else _HOUR_US))
    if scaled <= 0:
        raise ValueError(f"time-limit amount {amount!r} is shorter than a microsecond")
    return scaled


class _Year:
    """One calendar year's working time, in integer microseconds since the epoch."""

    __slots__ = ("year", "start_us", "end_us", "day_starts", "workdays", "workday_ordinals", "workday_end",
                 "starts", "ends", "cum_end", "total")

    def __init__(self, year: int, windows, tz, is_workday):
        first = date(year, 1, 1)
        days = (date(year + 1, 1, 1) - first).days
        self.year = year
        self.day_starts = []  # local midnight of every day of the year
        self.workdays = []  # day-of-year index (0-based) of each working day
        self.workday_end = []  # end of the last window of each working day
        self.starts, self.ends, self.cum_end = [], [], []  # working windows and running total at each window's end
        total = 0
        midnight = time(0)
        for index in range(days):
            day = first + timedelta(days=index)
            self.day_starts.append(_to_us(datetime.combine(day, midnight, tzinfo=tz)))
            if not is_workday(day):
                continue
            self.workdays.append(index)
            end_us = None
            for window_start, window_end in windows:
                start_us = _to_us(datetime.combine(day, window_start, tzinfo=tz))
                end_us = _to_us(datetime.combine(day, window_end, tzinfo=tz))
                total += end_us - start_us
                self.starts.append(start_us)
                self.ends.append(end_us)
                self.cum_end.append(total)
            self.workday_end.append(end_us)
        self.workday_ordinals = frozenset(first.toordinal() + index for index in self.workdays)
        self.start_us = self.day_starts[0]
        self.end_us = _to_us(datetime.combine(date(year + 1, 1, 1), midnight, tzinfo=tz))
        self.total = total

    def worked(self, us: int) -> int:
        """Working microseconds from the start of this year up to ``us`` (which lies in this year)."""
        k = bisect_right(self.starts, us) - 1
        if k < 0:
            return 0
        end = self.ends[k]
        return self.cum_end[k] - (end - us if us < end else 0)


@dataclass(frozen=True)
class WorkCalendar:
    """Working windows + working days (chinesecalendar, then ``overrides``: date → is a working day) in ``tz``.

    Immutable; the per-year tables are built lazily on first use and kept for the calendar's life.
    """

    windows: tuple = DEFAULT_WINDOWS
    overrides: Mapping = field(default_factory=dict)
    tz: tzinfo | str = DEFAULT_TZ
    _years: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "windows", _validate_windows(self.windows))
        overrides = {}
        for day, working in dict(self.overrides).items():
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"override keys must be dates, got {day!r}")
            overrides[day] = bool(working)
        object.__setattr__(self, "overrides", MappingProxyType(overrides))
        tz = ZoneInfo(self.tz) if isinstance(self.tz, str) else self.tz
        if not isinstance(tz, tzinfo):
            raise ValueError(f"tz must be a zone name or a tzinfo, got {self.tz!r}")
        object.__setattr__(self, "tz", tz)

    def __hash__(self):
        return hash((self.windows, frozenset(self.overrides.items()), str(self.tz)))

    # --- days ------------------------------------------------------------------------------------------------------
    def _base_is_workday(self, day: date) -> bool:
        working = self.overrides.get(day)
        if working is not None:
            return working
        if chinese_calendar_knows(day.year):
            return chinese_calendar.is_workday(day)
        return day.weekday() < 5

    def _table(self, year: int) -> _Year:
        table = self._years.get(year)
        if table is None:
            table = self._years.setdefault(year, _Year(year, self.windows, self.tz, self._base_is_workday))
        return table

    def _year_of(self, us: int) -> _Year:
        table = self._years.get(1970 + us // _AVERAGE_YEAR_US)
        if table is not None and table.start_us <= us < table.end_us:
            return table
        table = self._table(1970 + us // _AVERAGE_YEAR_US)
        while us < table.start_us:
            table = self._table(table.year - 1)
        while us >= table.end_us:
            table = self._table(table.year + 1)
        return table

    def _next(self, table: _Year, first: _Year) -> _Year:
        if table.year - first.year >= _MAX_YEARS_AHEAD:
            raise ValueError(f"no working time in the calendar for {_MAX_YEARS_AHEAD} years after {first.year}")
        return self._table(table.year + 1)

    def is_workday(self, day: date) -> bool:
        """Override if present; else chinesecalendar; for a year it does not know: Mon–Fri working."""
        if isinstance(day, datetime):
            _to_us(day, "day")  # a datetime must be aware; its local date in the calendar's zone is used
            day = day.astimezone(self.tz).date()
        elif not isinstance(day, date):
            raise ValueError(f"day must be a date, not {type(day).__name__}")
        return day.toordinal() in self._table(day.year).workday_ordinals

    # --- microsecond core ------------------------------------------------------------------------------------------
    def _add_work(self, us: int, amount_us: int) -> int:
        first = table = self._year_of(us)
        k = bisect_right(table.starts, us) - 1  # table.worked(us), inlined: this is the hot path
        if k < 0:
            target = amount_us
        else:
            end = table.ends[k]
            target = table.cum_end[k] - (end - us if us < end else 0) + amount_us
        while target > table.total:
            target -= table.total
            table = self._next(table, first)
        j = bisect_left(table.cum_end, target)
        return table.ends[j] - (table.cum_end[j] - target)

    def _add_workdays(self, us: int, days: int) -> int:
        first = table = self._year_of(us)
        k = bisect_right(table.workdays, bisect_right(table.day_starts, us) - 1) + days - 1
        while k >= len(table.workdays):
            k -= len(table.workdays)
            table = self._next(table, first)
        return table.workday_end[k]

    def _worked_between(self, a: int, b: int) -> int:
        if b <= a:
            return 0
        table_a, table_b = self._year_of(a), self._year_of(b)
        if table_a is table_b:
            return table_a.worked(b) - table_a.worked(a)
        total = table_a.total - table_a.worked(a) + table_b.worked(b)
        for year in range(table_a.year + 1, table_b.year):
            total += self._table(year).total
        return total

    def _span_us(self, a: int, b: int, code: int) -> int:
        if code in (1, 2):
            return self._worked_between(a, b)
        return max(0, b - a)

    # --- public API ------------------------------------------------------------------------------------------------
    def deadline(self, start: datetime, amount, unit: str) -> datetime:
        """When a limit of ``amount`` ``unit`` that starts at ``start`` (aware) runs out, as an aware UTC datetime."""
        code = _unit_code(unit)
        start_us = _to_us(start, "start")
        if code == 0:
            return _EPOCH + timedelta(0, 0, start_us + _amount_us(amount, 0))
        if code == 1:
            return _EPOCH + timedelta(0, 0, self._add_work(start_us, _amount_us(amount, 1)))
        if code == 2:
            return _EPOCH + timedelta(0, 0, self._add_workdays(start_us, _amount_us(amount, 2)))
        return _EPOCH + timedelta(0, 0, start_us + _amount_us(amount, 3))

    def working_seconds(self, a: datetime, b: datetime, unit: str) -> float:
        """Seconds that count in ``unit`` from ``a`` to ``b`` (aware); 0 when ``b <= a``."""
        code = _unit_code(unit)
        return self._span_us(_to_us(a, "a"), _to_us(b, "b"), code) / _US

    def elapsed_fraction(self, start: datetime, limit_amount, unit: str, now: datetime,
                         paused_seconds: float = 0) -> float:
        """Share of the limit used at ``now``: 0 at the start, 1 at the deadline, above 1 when overdue; never < 0.

        ``paused_seconds`` (seconds in the same unit, e.g. working seconds for work_hour) are not counted.
        """
        code = _unit_code(unit)
        amount = _amount_us(limit_amount, code)
        start_us, now_us = _to_us(start, "start"), _to_us(now, "now")
        if type(paused_seconds) is int and paused_seconds >= 0:
            paused_us = paused_seconds * _US
        elif isinstance(paused_seconds, bool) or not isinstance(paused_seconds, int | float | Decimal | Fraction) \
                or not math.isfinite(paused_seconds) or paused_seconds < 0:
            raise ValueError(f"paused_seconds must be a finite number >= 0, got {paused_seconds!r}")
        else:
            paused_us = round(paused_seconds * _US)
        if code == 2:
            limit_us = self._worked_between(start_us, self._add_workdays(start_us, amount))
        else:
            limit_us = amount
        used_us = self._span_us(start_us, now_us, code) - paused_us
        return used_us / limit_us if used_us > 0 else 0.0
