"""The work calendar (pure logic): table tests on real 2025–2026 holidays, the 2027 fallback, bad inputs and
hypothesis properties checked against a naive day-by-day oracle built directly on chinese_calendar."""

import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from chinese_calendar import constants
from hypothesis import assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from dispatch.calendar import (
    DEFAULT_WINDOWS,
    NATURAL_DAY,
    UNITS,
    URGENT_HOUR,
    WORK_DAY,
    WORK_HOUR,
    WorkCalendar,
    chinese_calendar_knows,
    parse_windows,
)
from events.models import LimitUnit

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
OVERRIDES_2027 = {date(2027, 1, 1): False, date(2027, 1, 2): True}  # as an admin would enter them
CAL_2027 = WorkCalendar(DEFAULT_WINDOWS, OVERRIDES_2027, "Asia/Shanghai")
PROPERTIES = hsettings(database=None, deadline=None, max_examples=150)


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


# --- premises: what chinese_calendar 1.11.0 says (the table tests below depend on it) ---------------------------------
def test_premises_from_chinese_calendar_data():
    national_day_2025 = [date(2025, 10, d) for d in range(1, 9)]
    assert all(day in constants.holidays for day in national_day_2025)
    assert date(2025, 9, 28) in constants.workdays and date(2025, 9, 28).weekday() == 6  # make-up Sunday
    assert date(2025, 10, 11) in constants.workdays and date(2025, 10, 11).weekday() == 5  # make-up Saturday
    spring_2026 = [date(2026, 2, d) for d in range(15, 24)]
    assert all(constants.holidays[day] == "Spring Festival" for day in spring_2026)
    assert date(2026, 2, 14) in constants.workdays and date(2026, 2, 28) in constants.workdays  # Saturdays
    assert date(2026, 1, 4) in constants.workdays  # New Year 2026 make-up Sunday
    assert chinese_calendar.get_holiday_detail(date(2025, 10, 1)) == (True, "National Day")
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))
    assert chinese_calendar_knows(2026) and not chinese_calendar_knows(2027)


def test_units_are_the_limit_units_of_categories():
    assert set(UNITS) == set(LimitUnit.values)
    start = sh(2025, 3, 10, 10)
    assert CAL.deadline(start, 2, LimitUnit.WORK_HOUR) == CAL.deadline(start, 2, "work_hour")


# --- is_workday ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("day", "working"), [
    (date(2025, 9, 26), True),   # Fri
    (date(2025, 9, 27), False),  # Sat
    (date(2025, 9, 28), True),   # Sun, make-up day for National Day
    *[(date(2025, 10, d), False) for d in range(1, 9)],  # National Day + Mid-Autumn, Wed–Wed
    (date(2025, 10, 9), True),
    (date(2025, 10, 11), True),  # Sat, make-up day
    (date(2025, 10, 12), False),
    (date(2026, 1, 1), False), (date(2026, 1, 4), True),  # New Year 2026, make-up Sunday
    (date(2026, 2, 14), True),  # Sat, make-up day before Spring Festival
    *[(date(2026, 2, d), False) for d in range(15, 24)],  # Spring Festival 2026, Sun–Mon
    (date(2026, 2, 24), True), (date(2026, 2, 28), True),  # Sat, make-up day
    (date(2027, 1, 1), True),  # unknown year: Mon–Fri working (really New Year's Day: hence the overrides)
    (date(2027, 1, 2), False), (date(2027, 1, 4), True),
])
def test_is_workday(day, working):
    assert CAL.is_workday(day) is working


def test_overrides_win_in_known_and_unknown_years():
    cal = WorkCalendar(overrides={date(2025, 10, 9): False, date(2025, 10, 4): True, **OVERRIDES_2027})
    assert not cal.is_workday(date(2025, 10, 9)) and cal.is_workday(date(2025, 10, 4))
    assert not cal.is_workday(date(2027, 1, 1)) and cal.is_workday(date(2027, 1, 2))


def test_is_workday_of_a_datetime_uses_the_local_day():
    assert CAL.is_workday(datetime(2025, 9, 27, 17, tzinfo=UTC))  # 2025-09-28 01:00 in Shanghai: make-up Sunday
    with pytest.raises(ValueError, match="aware"):
        CAL.is_workday(datetime(2025, 9, 28, 10))


# --- deadlines -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("start", "amount", "unit", "expected"), [
    # a normal week (Mon 2025-03-10)
    (sh(2025, 3, 10, 10), 1, WORK_DAY, sh(2025, 3, 11, 17, 30)),  # the docstring's example
    (sh(2025, 3, 10, 0), 1, WORK_DAY, sh(2025, 3, 11, 17, 30)),
    (sh(2025, 3, 10, 23), 1, WORK_DAY, sh(2025, 3, 11, 17, 30)),
    (sh(2025, 3, 15, 10), 1, WORK_DAY, sh(2025, 3, 17, 17, 30)),  # Sat → Mon
    (sh(2025, 3, 10, 10), 4, WORK_HOUR, sh(2025, 3, 10, 15, 30)),
    (sh(2025, 3, 10, 8, 30), 3.5, WORK_HOUR, sh(2025, 3, 10, 12)),  # lands on a window end: stays there
    (sh(2025, 3, 10, 12), 1, WORK_HOUR, sh(2025, 3, 10, 14, 30)),
    (sh(2025, 3, 10, 12, 30), 1, WORK_HOUR, sh(2025, 3, 10, 14, 30)),  # lunch: from the next opening
    (sh(2025, 3, 10, 7), 1, WORK_HOUR, sh(2025, 3, 10, 9, 30)),
    (sh(2025, 3, 10, 17, 30), 1, WORK_HOUR, sh(2025, 3, 11, 9, 30)),
    (sh(2025, 3, 10, 11, 45), 0.5, WORK_HOUR, sh(2025, 3, 10, 13, 45)),
    (sh(2025, 3, 14, 17), 1, WORK_HOUR, sh(2025, 3, 17, 9)),  # Fri → Mon
    (sh(2025, 3, 10, 10), 7.5, WORK_HOUR, sh(2025, 3, 11, 10)),
    (sh(2025, 3, 15, 10), 2, URGENT_HOUR, sh(2025, 3, 15, 12)),  # wall clock, weekend or not
    (sh(2025, 3, 15, 10), 2, NATURAL_DAY, sh(2025, 3, 17, 10)),
    # Spring Festival 2025 (Jan 28 – Feb 4; Sun Jan 26 and Sat Feb 8 are working days)
    (sh(2025, 1, 27, 10), 1, WORK_DAY, sh(2025, 2, 5, 17, 30)),
    (sh(2025, 1, 25, 10), 1, WORK_DAY, sh(2025, 1, 26, 17, 30)),
    # National Day 2025 (Oct 1–8; Sun Sep 28 and Sat Oct 11 are working days)
    (sh(2025, 9, 26, 10), 1, WORK_DAY, sh(2025, 9, 28, 17, 30)),
    (sh(2025, 9, 28, 9), 1, WORK_DAY, sh(2025, 9, 29, 17, 30)),
    (sh(2025, 9, 30, 16), 1, WORK_DAY, sh(2025, 10, 9, 17, 30)),
    (sh(2025, 10, 9, 9), 3, WORK_DAY, sh(2025, 10, 13, 17, 30)),  # Fri 10, Sat 11 (make-up), Mon 13
    (sh(2025, 9, 30, 16), 4, WORK_HOUR, sh(2025, 10, 9, 11)),  # 1.5 h on Sep 30, 2.5 h on Oct 9
    (sh(2025, 10, 3, 10), 2, WORK_HOUR, sh(2025, 10, 9, 10, 30)),  # start inside the holiday
    (sh(2025, 9, 27, 11), 8, WORK_HOUR, sh(2025, 9, 29, 9)),  # 7.5 h on the make-up Sunday, then Monday
    (sh(2025, 9, 30, 22), 6, URGENT_HOUR, sh(2025, 10, 1, 4)),
    (sh(2025, 9, 30, 16), 3, NATURAL_DAY, sh(2025, 10, 3, 16)),
    # New Year 2026 (Jan 1–3; Sun Jan 4 is a working day), across the year boundary
    (sh(2025, 12, 31, 17), 1, WORK_HOUR, sh(2026, 1, 4, 9)),
    (sh(2026, 1, 1, 3), 1, WORK_DAY, sh(2026, 1, 4, 17, 30)),  # 2025-12-31 19:00 UTC: Shanghai's 2026
    # Spring Festival 2026 (Feb 15–23; Sat Feb 14 and Sat Feb 28 are working days)
    (sh(2026, 2, 13, 15), 1, WORK_DAY, sh(2026, 2, 14, 17, 30)),
    (sh(2026, 2, 14, 10), 1, WORK_DAY, sh(2026, 2, 24, 17, 30)),
    (sh(2026, 2, 13, 15), 8, WORK_HOUR, sh(2026, 2, 14, 15, 30)),
    (sh(2026, 2, 14, 17), 1, WORK_HOUR, sh(2026, 2, 24, 9)),
    (sh(2026, 2, 24, 10), 5, WORK_DAY, sh(2026, 3, 2, 17, 30)),  # 25, 26, 27, Sat 28 (make-up), Mon Mar 2
    (sh(2026, 2, 24, 10), 20, WORK_HOUR, sh(2026, 2, 26, 16, 30)),
    # National Day 2026 (Oct 1–7; Sun Sep 20 and Sat Oct 10 are working days)
    (sh(2026, 9, 30, 10), 2, WORK_DAY, sh(2026, 10, 9, 17, 30)),
    # 2026 → 2027: chinesecalendar does not know 2027, weekends only (and no error)
    (sh(2026, 12, 31, 10), 1, WORK_DAY, sh(2027, 1, 1, 17, 30)),
    (sh(2026, 12, 31, 16), 4, WORK_HOUR, sh(2027, 1, 1, 11)),
    (sh(2026, 12, 31, 10), 2, WORK_DAY, sh(2027, 1, 4, 17, 30)),
    (sh(2026, 12, 20, 10), 30, WORK_DAY, sh(2027, 1, 29, 17, 30)),  # Sun; 9 in 2026, 21 in 2027
])
def test_deadline_table(start, amount, unit, expected):
    assert CAL.deadline(start, amount, unit) == expected
    assert CAL.deadline(start, amount, unit) == oracle_deadline(start, amount, unit, {})


@pytest.mark.parametrize(("start", "amount", "unit", "expected"), [
    (sh(2026, 12, 31, 10), 1, WORK_DAY, sh(2027, 1, 2, 17, 30)),  # Jan 1 off, Sat Jan 2 working by override
    (sh(2026, 12, 31, 10), 2, WORK_DAY, sh(2027, 1, 4, 17, 30)),
    (sh(2026, 12, 31, 16), 4, WORK_HOUR, sh(2027, 1, 2, 11)),
    (sh(2026, 12, 31, 16), 8, WORK_HOUR, sh(2027, 1, 2, 16, 30)),
    (sh(2027, 1, 1, 9), 1, WORK_HOUR, sh(2027, 1, 2, 9, 30)),
])
def test_overrides_in_an_unknown_year_are_respected(start, amount, unit, expected):
    assert CAL_2027.deadline(start, amount, unit) == expected
    assert CAL_2027.deadline(start, amount, unit) == oracle_deadline(start, amount, unit, OVERRIDES_2027)


def test_far_unknown_years_never_fail():
    start = sh(2026, 6, 1, 9)
    assert CAL.deadline(start, 2000, WORK_DAY) > sh(2033, 1, 1)
    assert CAL.working_seconds(start, sh(2031, 1, 1), WORK_HOUR) > 0
    assert CAL.elapsed_fraction(start, 300, WORK_DAY, sh(2027, 6, 1)) > 0


def test_deadline_is_utc_whatever_the_input_zone():
    in_shanghai = CAL.deadline(sh(2025, 3, 10, 10), 1, WORK_DAY)
    in_utc = CAL.deadline(datetime(2025, 3, 10, 2, tzinfo=UTC), 1, WORK_DAY)
    assert in_shanghai.tzinfo is UTC and in_utc.tzinfo is UTC
    assert in_shanghai == in_utc == datetime(2025, 3, 11, 9, 30, tzinfo=UTC)


def test_microseconds_are_kept():
    start = sh(2025, 3, 10, 10, 0, 0, 123456)
    assert CAL.deadline(start, 1, WORK_HOUR) == sh(2025, 3, 10, 11, 0, 0, 123456)
    assert CAL.deadline(start, 1, URGENT_HOUR) == sh(2025, 3, 10, 11, 0, 0, 123456)


def test_custom_windows():
    cal = WorkCalendar(parse_windows("09:00-17:00"), {}, "Asia/Shanghai")
    assert cal.deadline(sh(2025, 3, 10, 9), 8, WORK_HOUR) == sh(2025, 3, 10, 17)
    assert cal.deadline(sh(2025, 3, 10, 9), 1, WORK_DAY) == sh(2025, 3, 11, 17)
    assert parse_windows(" 8:30-12:00 , 13:30-17:30 ") == DEFAULT_WINDOWS


# --- working seconds and elapsed fraction ----------------------------------------------------------------------------
def test_working_seconds():
    mon10, tue10 = sh(2025, 3, 10, 10), sh(2025, 3, 11, 10)
    assert CAL.working_seconds(mon10, tue10, WORK_HOUR) == 7.5 * 3600
    assert CAL.working_seconds(mon10, tue10, WORK_DAY) == 7.5 * 3600
    assert CAL.working_seconds(mon10, tue10, URGENT_HOUR) == 24 * 3600
    assert CAL.working_seconds(mon10, tue10, NATURAL_DAY) == 24 * 3600
    assert CAL.working_seconds(tue10, mon10, WORK_HOUR) == 0
    assert CAL.working_seconds(sh(2025, 9, 30, 17), sh(2025, 10, 9, 9), WORK_HOUR) == 3600  # over the holiday
    assert CAL.working_seconds(sh(2026, 12, 31, 17), sh(2027, 1, 1, 9), WORK_HOUR) == 3600  # into 2027


def test_elapsed_fraction():
    start = sh(2025, 3, 10, 10)
    assert CAL.elapsed_fraction(start, 4, WORK_HOUR, start) == 0
    assert CAL.elapsed_fraction(start, 4, WORK_HOUR, sh(2025, 3, 10, 13)) == 0.5  # lunch does not count
    assert CAL.elapsed_fraction(start, 4, WORK_HOUR, sh(2025, 3, 10, 15, 30)) == 1
    assert CAL.elapsed_fraction(start, 4, WORK_HOUR, sh(2025, 3, 10, 17, 30)) == 1.5  # overdue: above 1
    assert CAL.elapsed_fraction(start, 4, WORK_HOUR, sh(2025, 3, 10, 15, 30), paused_seconds=3600) == 0.75
    assert CAL.elapsed_fraction(start, 4, WORK_HOUR, sh(2025, 3, 10, 11), paused_seconds=7200) == 0  # not < 0
    assert CAL.elapsed_fraction(start, 4, WORK_HOUR, sh(2025, 3, 9)) == 0  # now before the start
    # work_day: the limit's length is the working time from the start to the deadline (6 h Mon + 7.5 h Tue)
    assert CAL.elapsed_fraction(start, 1, WORK_DAY, sh(2025, 3, 10, 16)) == 4.5 / 13.5
    assert CAL.elapsed_fraction(start, 1, WORK_DAY, sh(2025, 3, 11, 17, 30)) == 1
    assert CAL.elapsed_fraction(start, 1, NATURAL_DAY, sh(2025, 3, 10, 22)) == 0.5
    assert CAL.elapsed_fraction(start, 2, URGENT_HOUR, sh(2025, 3, 10, 10, 30)) == 0.25


# --- bad inputs ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("amount", [0, -1, -0.5, 0.0, True, "2", None, math.nan, math.inf, 1e-12])
@pytest.mark.parametrize("unit", UNITS)
def test_bad_amounts(amount, unit):
    with pytest.raises(ValueError, match="amount"):
        CAL.deadline(sh(2025, 3, 10, 10), amount, unit)
    with pytest.raises(ValueError, match="amount"):
        CAL.elapsed_fraction(sh(2025, 3, 10, 10), amount, unit, sh(2025, 3, 10, 11))


def test_work_days_must_be_whole():
    with pytest.raises(ValueError, match="whole days"):
        CAL.deadline(sh(2025, 3, 10, 10), 1.5, WORK_DAY)
    assert CAL.deadline(sh(2025, 3, 10, 10), 2.0, WORK_DAY) == sh(2025, 3, 12, 17, 30)


@pytest.mark.parametrize("unit", ["hour", "WORK_HOUR", "", None, 3, ["work_hour"]])
def test_unknown_units(unit):
    with pytest.raises(ValueError, match="unknown time-limit unit"):
        CAL.deadline(sh(2025, 3, 10, 10), 1, unit)
    with pytest.raises(ValueError, match="unknown time-limit unit"):
        CAL.working_seconds(sh(2025, 3, 10, 10), sh(2025, 3, 10, 11), unit)


def test_naive_datetimes_are_refused():
    naive, aware = datetime(2025, 3, 10, 10), sh(2025, 3, 10, 10)
    with pytest.raises(ValueError, match="start must be an aware datetime"):
        CAL.deadline(naive, 1, WORK_HOUR)
    with pytest.raises(ValueError, match="aware"):
        CAL.working_seconds(aware, naive, WORK_HOUR)
    with pytest.raises(ValueError, match="now must be an aware datetime"):
        CAL.elapsed_fraction(aware, 1, WORK_HOUR, naive)
    with pytest.raises(ValueError, match="must be a datetime"):
        CAL.deadline(date(2025, 3, 10), 1, WORK_HOUR)


@pytest.mark.parametrize("paused", [-1, math.nan, "10", True])
def test_bad_paused_seconds(paused):
    with pytest.raises(ValueError, match="paused_seconds"):
        CAL.elapsed_fraction(sh(2025, 3, 10, 10), 1, WORK_HOUR, sh(2025, 3, 10, 11), paused_seconds=paused)


@pytest.mark.parametrize("text", ["", "08:30", "8-12", "08:30-12:00;13:30-17:30", "12:00-08:30", "25:00-26:00",
                                  "08:30-12:00,11:00-17:30", "13:30-17:30,08:30-12:00", "08:30-08:30"])
def test_bad_windows(text):
    with pytest.raises(ValueError):
        parse_windows(text)


def test_bad_calendar_arguments():
    with pytest.raises(ValueError, match="at least one"):
        WorkCalendar(())
    with pytest.raises(ValueError, match="ends before it starts"):
        WorkCalendar(((time(12), time(8)),))
    with pytest.raises(ValueError, match="override keys must be dates"):
        WorkCalendar(DEFAULT_WINDOWS, {datetime(2025, 1, 1): True})
    with pytest.raises(ValueError, match="tz"):
        WorkCalendar(DEFAULT_WINDOWS, {}, 8)


def test_calendar_is_immutable_and_hashable():
    with pytest.raises(AttributeError):
        CAL.tz = UTC
    with pytest.raises(TypeError):
        CAL_2027.overrides[date(2027, 1, 3)] = True
    same = WorkCalendar(DEFAULT_WINDOWS, dict(OVERRIDES_2027), SH)
    assert same == CAL_2027 and hash(same) == hash(CAL_2027)
    assert WorkCalendar() != CAL_2027


# --- properties ----------------------------------------------------------------------------------------------------
def oracle_is_workday(day, overrides):
    if day in overrides:
        return overrides[day]
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def oracle_deadline(start, amount, unit, overrides):
    """Naive day-by-day walk on chinese_calendar (independent of the tables)."""
    if unit == URGENT_HOUR:
        return start + timedelta(hours=amount)
    if unit == NATURAL_DAY:
        return start + timedelta(days=amount)
    local = start.astimezone(SH)
    day = local.date()
    if unit == WORK_DAY:
        counted = 0
        while counted < amount:
            day += timedelta(days=1)
            counted += oracle_is_workday(day, overrides)
        return datetime.combine(day, DEFAULT_WINDOWS[-1][1], tzinfo=SH)
    remaining = timedelta(hours=amount)
    while True:
        if oracle_is_workday(day, overrides):
            for opens, closes in DEFAULT_WINDOWS:
                opening = max(datetime.combine(day, opens, tzinfo=SH), local)
                closing = datetime.combine(day, closes, tzinfo=SH)
                if opening >= closing:
                    continue
                if remaining <= closing - opening:
                    return opening + remaining
                remaining -= closing - opening
        day += timedelta(days=1)


moments = st.datetimes(min_value=datetime(2024, 12, 1), max_value=datetime(2027, 3, 31),
                       timezones=st.sampled_from([SH, UTC]))
units = st.sampled_from(UNITS)
amounts = st.integers(min_value=1, max_value=40)
calendars = st.sampled_from([CAL, CAL_2027])


@PROPERTIES
@given(calendars, moments, amounts, units)
def test_deadline_matches_the_naive_oracle(cal, start, amount, unit):
    assert cal.deadline(start, amount, unit) == oracle_deadline(start, amount, unit, dict(cal.overrides))


@PROPERTIES
@given(calendars, moments, moments, amounts, units)
def test_deadline_is_monotonic_in_start(cal, a, b, amount, unit):
    a, b = min(a, b), max(a, b)
    assert cal.deadline(a, amount, unit) <= cal.deadline(b, amount, unit)


@PROPERTIES
@given(calendars, moments, amounts, amounts, units)
def test_deadline_is_strictly_monotonic_in_amount(cal, start, n, m, unit):
    assume(n != m)
    n, m = min(n, m), max(n, m)
    assert start < cal.deadline(start, n, unit) < cal.deadline(start, m, unit)


@PROPERTIES
@given(calendars, moments, st.integers(min_value=1, max_value=60 * 60))
def test_work_hour_round_trip(cal, start, minutes):
    amount = minutes / 60 if minutes % 60 else minutes // 60
    end = cal.deadline(start, amount, WORK_HOUR)
    assert cal.working_seconds(start, end, WORK_HOUR) == minutes * 60
    local = end.astimezone(SH)
    assert cal.is_workday(local.date())
    assert any(opens < local.time() <= closes for opens, closes in cal.windows)


@PROPERTIES
@given(calendars, moments, moments, moments, units)
def test_working_seconds_add_up(cal, a, b, c, unit):
    a, b, c = sorted((a, b, c))
    total = cal.working_seconds(a, b, unit) + cal.working_seconds(b, c, unit)
    assert total == pytest.approx(cal.working_seconds(a, c, unit), abs=1e-6)


@PROPERTIES
@given(calendars, moments, amounts, units, moments, moments)
def test_elapsed_fraction_properties(cal, start, amount, unit, now1, now2):
    assert cal.elapsed_fraction(start, amount, unit, start) == 0
    assert cal.elapsed_fraction(start, amount, unit, cal.deadline(start, amount, unit)) == 1
    now1, now2 = min(now1, now2), max(now1, now2)
    f1, f2 = cal.elapsed_fraction(start, amount, unit, now1), cal.elapsed_fraction(start, amount, unit, now2)
    assert 0 <= f1 <= f2
