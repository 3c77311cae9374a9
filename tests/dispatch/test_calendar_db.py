"""Calendar overrides in the database: services, the cached work_calendar selector, the missing-year check and the
admin warning."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import translation

from dispatch.calendar import WORK_DAY, WORK_HOUR
from dispatch.checks import HOLIDAY_TABLE_MISSING, holiday_table_check
from dispatch.models import CalendarOverride
from dispatch.selectors import missing_holiday_years, work_calendar, work_calendar_invalidate
from dispatch.services import calendar_override_delete, calendar_override_set

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
NEW_YEAR_2027 = date(2027, 1, 1)
LATE_2026 = datetime(2026, 11, 23, 10, tzinfo=SH)  # 2027 is within the 400-day horizon and unknown to 1.11.0


@pytest.fixture(autouse=True)
def _no_cached_calendar():
    work_calendar_invalidate()
    yield
    work_calendar_invalidate()


def test_override_service_creates_replaces_and_deletes():
    created = calendar_override_set(day=NEW_YEAR_2027, is_workday=False, note="元旦")
    with translation.override("en"):
        assert str(created) == "2027-01-01 day off (元旦)"
    replaced = calendar_override_set(day=NEW_YEAR_2027, is_workday=True, note="")
    assert replaced.pk == created.pk and CalendarOverride.objects.count() == 1
    assert CalendarOverride.objects.get().is_workday is True
    assert calendar_override_delete(day=NEW_YEAR_2027) is True
    assert calendar_override_delete(day=NEW_YEAR_2027) is False
    assert not CalendarOverride.objects.exists()


def test_one_override_per_day():
    CalendarOverride.objects.create(day=NEW_YEAR_2027, is_workday=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarOverride.objects.create(day=NEW_YEAR_2027, is_workday=True)


def test_override_services_want_a_date():
    with pytest.raises(ValueError, match="must be a date"):
        calendar_override_set(day=datetime(2027, 1, 1, tzinfo=SH), is_workday=False, note="")
    with pytest.raises(ValueError, match="must be a date"):
        calendar_override_delete(day="2027-01-01")


def test_work_calendar_applies_overrides():
    start = datetime(2026, 12, 31, 10, tzinfo=SH)
    assert work_calendar().deadline(start, 1, WORK_DAY) == datetime(2027, 1, 1, 17, 30, tzinfo=SH)
    calendar_override_set(day=NEW_YEAR_2027, is_workday=False, note="元旦")
    assert work_calendar().deadline(start, 1, WORK_DAY) == datetime(2027, 1, 4, 17, 30, tzinfo=SH)
    calendar_override_set(day=date(2027, 1, 2), is_workday=True, note="调休")
    assert work_calendar().deadline(start, 1, WORK_DAY) == datetime(2027, 1, 2, 17, 30, tzinfo=SH)
    calendar_override_delete(day=date(2027, 1, 2))
    assert work_calendar().deadline(start, 1, WORK_DAY) == datetime(2027, 1, 4, 17, 30, tzinfo=SH)


def test_work_calendar_is_cached_with_a_one_query_version_check(django_assert_num_queries):
    first = work_calendar()
    with django_assert_num_queries(1):
        assert work_calendar() is first
    calendar_override_set(day=NEW_YEAR_2027, is_workday=False, note="")
    second = work_calendar()
    assert second is not first and not second.is_workday(NEW_YEAR_2027)
    assert work_calendar() is second


def test_changes_by_other_processes_are_seen_through_the_version():
    assert work_calendar().is_workday(NEW_YEAR_2027)
    row = CalendarOverride.objects.create(day=NEW_YEAR_2027, is_workday=False)  # no service: no invalidation
    assert not work_calendar().is_workday(NEW_YEAR_2027)
    row.is_workday = True
    row.save()
    assert work_calendar().is_workday(NEW_YEAR_2027) and work_calendar().overrides == {NEW_YEAR_2027: True}
    CalendarOverride.objects.all().delete()
    assert work_calendar().overrides == {}


def test_work_windows_come_from_settings(settings):
    settings.GRIDLOOP_WORK_WINDOWS = "09:00-17:00"
    start = datetime(2025, 3, 10, 9, tzinfo=SH)
    assert work_calendar().deadline(start, 8, WORK_HOUR) == datetime(2025, 3, 10, 17, tzinfo=SH)
    settings.GRIDLOOP_WORK_WINDOWS = "08:30-12:00,13:30-17:30"
    assert work_calendar().deadline(start, 8, WORK_HOUR) == datetime(2025, 3, 11, 9, 30, tzinfo=SH)


@pytest.mark.parametrize("bad", ["8:30 to 12:00", "13:30-12:00", "", "08:30-12:00,11:00-13:00"])
def test_bad_work_windows_are_improperly_configured(settings, bad):
    settings.GRIDLOOP_WORK_WINDOWS = bad
    with pytest.raises(ImproperlyConfigured, match="GRIDLOOP_WORK_WINDOWS"):
        work_calendar()


def test_missing_holiday_years():
    with time_machine.travel(LATE_2026, tick=False):
        assert missing_holiday_years() == [2027]
        assert missing_holiday_years(horizon_days=30) == []
        assert missing_holiday_years(horizon_days=500) == [2027, 2028]
        calendar_override_set(day=NEW_YEAR_2027, is_workday=False, note="元旦")
        assert missing_holiday_years() == []
        assert missing_holiday_years(horizon_days=500) == [2028]
    with time_machine.travel(datetime(2025, 3, 1, tzinfo=SH), tick=False):
        assert missing_holiday_years() == []  # 2025 and 2026 are in chinesecalendar 1.11.0


def test_system_check_names_the_missing_year():
    with time_machine.travel(LATE_2026, tick=False):
        [warning] = holiday_table_check(databases=["default"])
        assert warning.id == HOLIDAY_TABLE_MISSING == "gridloop.W001"
        assert warning.level == checks.WARNING
        assert "2027" in warning.msg and "State Council" in warning.hint and "calendar overrides" in warning.hint
        # like Django's database checks: in `check --database default` and migrate, not in a plain check
        assert holiday_table_check(databases=None) == []
        assert HOLIDAY_TABLE_MISSING in {m.id for m in checks.run_checks(databases=["default"])}
        assert HOLIDAY_TABLE_MISSING not in {m.id for m in checks.run_checks()}
        calendar_override_set(day=NEW_YEAR_2027, is_workday=False, note="元旦")
        assert holiday_table_check(databases=["default"]) == []


def test_admin_warns_on_the_override_list_while_a_year_is_missing(admin_client):
    url = "/admin/dispatch/calendaroverride/"
    with time_machine.travel(LATE_2026):
        response = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200
        [message] = [m for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
        assert "2027" in str(message) and "State Council" in str(message)
        chinese = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        [message] = [m for m in get_messages(chinese.wsgi_request) if m.level_tag == "warning"]
        assert "2027 年没有法定节假日表" in str(message)
        added = admin_client.post(f"{url}add/", {"day": "2027-01-01", "note": "元旦"})  # is_workday unchecked
        assert added.status_code == 302, added.content.decode()[:2000]
        assert not work_calendar().is_workday(NEW_YEAR_2027)
        response = admin_client.get(url)
        assert response.status_code == 200 and "元旦" in response.content.decode()
        assert not [m for m in get_messages(response.wsgi_request) if m.level_tag == "warning"]
