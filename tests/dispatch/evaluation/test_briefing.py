"""The daily briefing (一日一研商): the day's counts, categories, hot spots, worst streets and departments and open
督办 orders, stored, as HTML and XLSX, from the command, the API and the beat task."""

import io
from datetime import date, timedelta

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from dispatch.evaluation.briefing import briefing_generate
from dispatch.evaluation.rollups import rollups_catch_up
from dispatch.models.evaluation import Briefing
from tests.conftest import client_for
from tests.events.conftest import act

from .conftest import assign, at, patrol, scenario

pytestmark = pytest.mark.django_db
MONDAY = date(2026, 3, 2)


@pytest.fixture
def built(world, clock):
    cases = scenario(world, clock)
    # Tuesday: one more case, signed for but never completed, with a 督办 order on it
    clock.move_to(at(1, "09:00"))
    cases["open"] = assign(world, patrol(world, 0), clock, day=1)  # (index 12 would lie outside the worker's grid)
    clock.move_to(at(1, "12:00"))
    act(cases["open"], "supervise", world.supervisor, note="请今日办结", type="overdue", reply_due=at(1, "18:00"))
    clock.move_to(at(3, "08:00"))
    rollups_catch_up()
    return cases


def test_the_briefing_of_a_day(world, built):
    briefing = briefing_generate(region_code="990101", day=MONDAY)
    data = briefing.data
    assert data["region"] == {"code": "990101", "name": "东区", "level": "district"}
    # 12 reports on Monday; closed that day: 1, 3, 4, 5, 7, 10; the late case's handle stage passed its 14:50
    # deadline unfinished (it was completed Tuesday).
    assert data["counts"] == {"new": 12, "closed": 6, "overdue": 1, "escalated": 0, "open_supervision_orders": 0}
    assert data["cases"]["overdue"] == [built["late"].number]
    assert data["cases"]["new"] == {"from": "2026-03-02", "to": "2026-03-02", "region": "990101",
                                    "counter": "reported"}
    assert data["top_categories"][0] == {"code": "E0102", "name": "市容环境/暴露垃圾", "count": 9}
    assert data["hot_spots"][0]["code"] == "990101001001001" and data["hot_spots"][0]["count"] == 10  # 11 and the merge target lie in grid …002
    assert data["supervision"] == []
    assert data["worst_departments"] == []  # nobody has the minimum sample of 20
    assert Briefing.objects.get(region_code="990101", day=MONDAY).data == data
    again = briefing_generate(region_code="990101", day=MONDAY)  # stored again: replaced, not duplicated
    assert again.pk == briefing.pk and Briefing.objects.count() == 1
    # Tuesday: the new case, the late case closed, the new case's handling overdue at 14:50, the order open
    tuesday = briefing_generate(region_code="990101", day=MONDAY + timedelta(days=1)).data
    assert tuesday["counts"] == {"new": 1, "closed": 1, "overdue": 1, "escalated": 0, "open_supervision_orders": 1}
    assert tuesday["cases"]["overdue"] == [built["open"].number]
    (order,) = tuesday["supervision"]
    assert order["case"] == built["open"].number and order["type"] == "overdue" and order["light"] == "red"


def test_worst_streets_and_departments_when_the_sample_suffices(world, built, settings):
    settings.GRIDLOOP_EVAL_MIN_SAMPLE = 1
    data = briefing_generate(region_code="990101", day=MONDAY).data
    assert [row["code"] for row in data["worst_streets"]] == ["990101001"]
    assert data["worst_departments"][0]["code"] == world.dept.code and data["worst_departments"][0]["of"] == 1


def test_briefing_api_html_and_xlsx(world, built):
    client = client_for(world.supervisor)
    body = client.get("/api/v1/metrics/briefings/", {"region": "990101", "date": "2026-03-02"}).json()
    assert body["counts"]["new"] == 12
    page = client.get("/api/v1/metrics/briefings/", {"region": "990101", "date": "2026-03-02", "export": "html"})
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert "东区" in page.content.decode() and "E0102" in page.content.decode()
    download = client.get("/api/v1/metrics/briefings/", {"region": "990101", "date": "2026-03-02", "export": "xlsx"})
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(download.content), read_only=True)
    summary = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    assert [row[1] for row in summary[3:8]] == [12, 6, 1, 0, 0]
    assert len(book.worksheets) == 6
    outside = client.get("/api/v1/metrics/briefings/", {"region": "990102"})
    assert outside.status_code == 403
    # yesterday by default: nothing happened on Wednesday's following day in this world
    default = client.get("/api/v1/metrics/briefings/", {"region": "990101"}).json()
    assert default["day"] == (MONDAY + timedelta(days=2)).isoformat() and default["counts"]["new"] == 0


@pytest.mark.usefixtures("in_english")
def test_daily_briefing_command(world, built, tmp_path, capsys):
    html, xlsx = tmp_path / "b.html", tmp_path / "b.xlsx"
    call_command("daily_briefing", "--date", "2026-03-02", "--region", "990101", "--html", str(html),
                 "--xlsx", str(xlsx))
    out = capsys.readouterr().out
    assert "2026-03-02 990101 东区: new 12, closed 6, overdue 1, escalated 0, open supervision orders 0" in out
    assert "东区" in html.read_text(encoding="utf-8")
    assert openpyxl.load_workbook(xlsx).sheetnames[0]
    call_command("daily_briefing", "--date", "2026-03-03")  # every district
    assert set(Briefing.objects.filter(day=date(2026, 3, 3)).values_list("region_code", flat=True)) == {
        "990101", "990102"}
    for args, message in [(["--date", "2026-02-30"], "not a date"), (["--region", "990199"], "no region"),
                          (["--date", "2999-01-01", "--region", "990101"], "has not happened"),
                          (["--html", "x.html"], "need --region")]:
        with pytest.raises(CommandError, match=message):
            call_command("daily_briefing", *args)


def test_beat_makes_every_districts_briefing_every_morning(world, built, settings):
    from dispatch.tasks import daily_briefings, league_tables

    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["daily-briefings"]["task"] == "dispatch.daily_briefings"
    assert schedule["league-tables"]["task"] == "dispatch.league_tables"
    daily_briefings()
    assert Briefing.objects.filter(day=MONDAY + timedelta(days=2)).count() == 2
    league_tables()
    from dispatch.models.evaluation import LeagueTable

    assert LeagueTable.objects.filter(month=date(2026, 2, 1)).count() == 5


def test_a_deadline_later_today_is_not_overdue_in_todays_early_briefing(world):
    """Issue 19: at 05:25 the briefing counted as overdue every unfinished clock due later that day."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import time_machine

    from dispatch.evaluation.briefing import briefing_compute
    from dispatch.models import StageClock
    from tests.events.conftest import file_hotline

    shanghai = ZoneInfo("Asia/Shanghai")
    with time_machine.travel(datetime(2026, 3, 2, 5, 0, tzinfo=shanghai), tick=False) as clock:
        case = file_hotline(world)
        StageClock.objects.filter(case=case, finished_at__isnull=True).update(
            deadline=datetime(2026, 3, 2, 10, 30, tzinfo=shanghai))
        region = world.regions["990101"]
        clock.move_to(datetime(2026, 3, 2, 5, 25, tzinfo=shanghai))
        early = briefing_compute(region=region, day=MONDAY)
        clock.move_to(datetime(2026, 3, 2, 11, 0, tzinfo=shanghai))
        later = briefing_compute(region=region, day=MONDAY)
    assert early["counts"]["overdue"] == 0 and early["cases"]["overdue"] == []
    assert later["counts"]["overdue"] == 1 and later["cases"]["overdue"] == [case.number]
