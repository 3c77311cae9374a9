"""The cockpit's pages without a browser: every number equals the metrics API's figure for the same filter, the list
behind a number is the API's list, the area scope on every URL (tampered regions are the 403 page), the wheel
(催办/督办 through case_act) with each bad input, the black list's rectification and the briefing's PDF."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from dispatch.evaluation.rollups import rollups_catch_up
from dispatch.models import SupervisionOrder, SupervisionTemplate
from dispatch.models.evaluation import BlackListing
from events.models import CaseEvent, Category
from tests.conftest import client_for
from tests.dispatch.evaluation.conftest import scenario
from tests.events.conftest import act, file_patrol

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
DAYS = {"from": "2026-03-02", "to": "2026-03-04"}


def page_client(user, language="en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


@pytest.fixture
def built(world):
    from tests.dispatch.evaluation.conftest import at

    with time_machine.travel(at(0, "08:00"), tick=False) as clock:
        cases = scenario(world, clock)
        rollups_catch_up()
    return cases


def note_templates():
    """The migration's default note templates (a transactional test's flush removes migration data: made again)."""
    from importlib import import_module

    defaults = import_module("dispatch.migrations.0010_cockpit_rectification_templates").DEFAULT_TEMPLATES
    for index, (kind, type_, title, text, days) in enumerate(defaults):
        SupervisionTemplate.objects.get_or_create(title=title, defaults={
            "kind": kind, "type": type_, "text": text, "reply_days": days, "position": index})


def overdue_cases(world, count, *, days_ago=15):
    """``count`` patrol cases (暴露垃圾: 4 working hours to handle) dispatched to world.dept and signed ``days_ago``
    days ago: overdue now. (Also makes sure the note templates are there.)"""
    note_templates()
    then = datetime.now(SH) - timedelta(days=days_ago)
    category = Category.objects.get(code="E0102")
    cases = []
    with time_machine.travel(then, tick=False):
        for _index in range(count):
            case = file_patrol(world, category=category)
            act(case, "dispatch", world.dispatcher, department=world.dept.code)
            cases.append(act(case, "sign", world.handler))
    rollups_catch_up()
    return cases


# --- Numbers equal the API's ---------------------------------------------------------------------------------------------
def test_each_key_indicator_equals_the_apis_figure_for_the_same_filter(world, built):
    response = page_client(world.supervisor).get("/cockpit/", {**DAYS, "region": "990101"})
    assert response.status_code == 200
    api = client_for(world.supervisor).get("/api/v1/metrics/indicators/",
                                           {**DAYS, "region": "990101", "group_by": "district"}).json()
    shown = {k.code: k for k in response.context["kpis"]}
    assert set(shown) == {"accepted", "on_time_handling_rate", "overdue", "rework_rate", "first_time_rate",
                          "recurrence_rate", "closure_rate", "satisfaction_rate"}
    for code, kpi in shown.items():
        if code == "overdue":
            continue
        figure = api["total"]["indicators"][code]
        assert (kpi.value, kpi.numerator, kpi.denominator) == (figure["value"], figure["numerator"],
                                                                figure["denominator"]), code
    # the scenario's known answers (docs/indicators.md; tests/dispatch/evaluation/conftest.py EXPECTED)
    assert shown["accepted"].value == 9 and shown["closure_rate"].value == 1.0
    assert (shown["first_time_rate"].numerator, shown["first_time_rate"].denominator) == (5, 8)
    assert (shown["satisfaction_rate"].numerator, shown["satisfaction_rate"].denominator) == (1, 2)
    # every rate below the minimum sample (20) is marked, and the HTML says so
    assert all(k.small_sample for k in shown.values() if k.kind == "rate")
    assert "Sample below 20: not ranked" in response.content.decode()


def test_the_list_behind_a_number_is_the_apis_list(world, built):
    response = page_client(world.supervisor).get("/cockpit/", {**DAYS, "region": "990101"})
    kpi = next(k for k in response.context["kpis"] if k.code == "first_time_rate")
    listing = page_client(world.supervisor).get(kpi.numerator_url)
    assert listing.status_code == 200
    numbers = [c.number for c in listing.context["page"].object_list]
    api = client_for(world.supervisor).get("/api/v1/metrics/cases/", {
        **DAYS, "region": "990101", "counter": "first_time", "page_size": 100}).json()
    assert sorted(numbers) == sorted(row["number"] for row in api["results"])
    assert len(numbers) == api["count"] == 5
    assert sum(c.weight for c in listing.context["page"].object_list) == kpi.numerator


def test_channel_and_region_rows_drill_down_to_their_cases(world, built):
    response = page_client(world.supervisor).get("/cockpit/", {**DAYS, "region": "990101"})
    channels = response.context["channels"]["rows"]
    assert {r["key"]: r["count"] for r in channels} == {"patrol": 7, "hotline": 5}
    for row in channels:
        listing = page_client(world.supervisor).get(row["url"])
        assert sum(c.weight for c in listing.context["page"].object_list) == row["count"]
    streets = {r["code"]: r for r in response.context["children"]["rows"]}
    assert streets["990101001"]["figures"]["reported"]["value"] == 12 and "990101002" in streets


def test_the_comparison_shows_the_previous_period(world, built):
    response = page_client(world.supervisor).get("/cockpit/", {"period": "2026-03", "region": "990101"})
    assert response.context["previous"].first == date(2026, 2, 1)
    assert response.context["previous"].last == date(2026, 2, 28)
    accepted = next(k for k in response.context["kpis"] if k.code == "accepted")
    assert (accepted.value, accepted.previous, accepted.change) == (9, 0, 9)
    assert "↑ 9 vs previous period" in response.content.decode()


def test_overdue_work_is_listed_most_overdue_first_and_drills_to_the_department(world):
    older = overdue_cases(world, 1, days_ago=20)
    newer = overdue_cases(world, 2, days_ago=12)
    today = datetime.now(SH).date()
    response = page_client(world.supervisor).get("/cockpit/", {
        "region": "990101", "from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()})
    overdue = response.context["overdue"]
    assert overdue["count"] == 3
    assert [c.number for c in overdue["rows"]][0] == older[0].number
    row = next(e for e in response.context["leagues"]["departments"].entries if e["key"] == world.dept.code)
    listing = page_client(world.supervisor).get(row["overdue_url"])
    assert sorted(c.number for c in listing.context["page"].object_list) == sorted(
        c.number for c in older + newer)


# --- Scope ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "/cockpit/?region=990102", "/cockpit/big/?region=990102", "/cockpit/?region=990100",
    "/cockpit/cases/?counter=reported&region=990102", "/cockpit/cases/?list=overdue_now&region=990102",
    "/cockpit/cases/?list=escalated&region=990100", "/cockpit/briefing/?region=990102",
    "/cockpit/briefing/pdf/?region=990102",
])
def test_a_district_supervisor_cannot_see_another_district(world, url):
    response = page_client(world.supervisor).get(url)
    assert response.status_code == 403


@pytest.mark.parametrize("who", ["handler", "dispatcher", "worker", "operator"])
def test_other_roles_get_the_403_page(world, who):
    assert page_client(getattr(world, who)).get("/cockpit/").status_code == 403


def test_anonymous_is_sent_to_sign_in(world):
    response = Client().get("/cockpit/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


# --- Bad inputs ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("params, text", [
    ({"period": "last tuesday"}, "is not a period"),
    ({"from": "2026-03-05", "to": "2026-03-01"}, "to must be on or after from"),
])
def test_a_bad_period_is_a_400_with_the_reason_in_place(world, params, text):
    response = page_client(world.supervisor).get("/cockpit/", params)
    assert response.status_code == 400 and text in response.content.decode()


@pytest.mark.parametrize("params, text", [
    ({}, "counter or list is required"), ({"counter": "nonsense"}, "counter must be one of"),
    ({"list": "everything"}, "list must be one of"), ({"counter": "reported", "region": "99"}, "no region"),
    ({"list": "overdue_now", "department": "nope"}, "no department"),
])
def test_a_bad_drill_down_is_a_400_naming_the_problem(world, params, text):
    response = page_client(world.supervisor).get("/cockpit/cases/", params)
    assert response.status_code == 400 and text in response.content.decode()


# --- The wheel -----------------------------------------------------------------------------------------------------------
def wheel(world, numbers, **fields):
    back = "/cockpit/cases/?list=overdue_now&region=990101"
    data = {"cases": numbers, "back": back, **fields}
    return page_client(world.supervisor).post("/cockpit/act/", data)


def test_supervise_three_cases_makes_three_orders_through_case_act(world):
    cases = overdue_cases(world, 4)
    numbers = [c.number for c in cases[:3]]
    due = (datetime.now(SH) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = wheel(world, numbers, action="supervise", type="overdue", reply_due=due, note="限期处置并回复")
    assert response.status_code == 302 and response["Location"].startswith("/cockpit/cases/")
    orders = SupervisionOrder.objects.filter(kind="supervise").order_by("case__number")
    assert [o.case.number for o in orders] == sorted(numbers)
    assert {(o.type, o.requirement, o.department_id, o.issued_by_id) for o in orders} == {
        ("overdue", "限期处置并回复", world.dept.pk, world.supervisor.pk)}
    assert CaseEvent.objects.filter(kind="supervise").count() == 3
    # the orders are on the cockpit at once, with their lights
    cockpit = page_client(world.supervisor).get("/cockpit/", {"region": "990101"})
    assert cockpit.context["orders"]["lights"] == {"green": 3, "yellow": 0, "red": 0}
    assert {o.case.number for o in cockpit.context["orders"]["rows"]} == set(numbers)


def test_urge_from_a_template_sends_the_templates_text(world):
    (case,) = overdue_cases(world, 1)
    template = SupervisionTemplate.objects.filter(kind="urge").first()
    response = wheel(world, [case.number], action="urge", template=str(template.pk), note="")
    assert response.status_code == 302
    order = SupervisionOrder.objects.get()
    assert order.kind == "urge" and order.requirement == template.text


@pytest.mark.parametrize("fields, field", [
    ({"action": "supervise", "type": "overdue", "note": "x"}, "reply_due"),
    ({"action": "supervise", "type": "bogus", "note": "x", "reply_due": "2099-01-01T10:00"}, "type"),
    ({"action": "supervise", "type": "overdue", "note": "x", "reply_due": "2020-01-01T10:00"}, "reply_due"),
    ({"action": "supervise", "type": "overdue", "note": "x", "reply_due": "soon"}, "reply_due"),
    ({"action": "escalate", "note": "x"}, "action"),
    ({"action": "urge", "note": "  "}, "note"),
])
def test_bad_wheel_input_is_a_400_and_nothing_is_written(world, fields, field):
    (case,) = overdue_cases(world, 1)
    response = wheel(world, [case.number], **fields)
    assert response.status_code == 400
    assert field in response.context["errors"]
    assert case.number in response.context["selected"]  # the selection is kept
    assert not SupervisionOrder.objects.exists()


def test_no_case_selected_is_a_400(world):
    overdue_cases(world, 1)
    response = wheel(world, [], action="urge", note="快")
    assert response.status_code == 400 and "cases" in response.context["errors"]


def test_a_case_outside_the_area_is_refused_by_the_service_and_named(world):
    (inside,) = overdue_cases(world, 1)
    from tests.factories import grid_center

    lat, lng = grid_center("990102001001001")
    outside = file_patrol(world, lat=lat, lng=lng)
    response = page_client(world.supervisor).post("/cockpit/act/", {
        "cases": [inside.number, outside.number], "action": "urge", "note": "请加快", "back": "/cockpit/"},
        follow=True)
    text = response.content.decode()
    assert outside.number in text and "outside your role or area" in text
    assert [o.case.number for o in SupervisionOrder.objects.all()] == [inside.number]


def test_the_departments_reply_shows_on_the_cockpit(world):
    (case,) = overdue_cases(world, 1)
    due = (datetime.now(SH) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    wheel(world, [case.number], action="supervise", type="leader", reply_due=due, note="请回复")
    order = SupervisionOrder.objects.get()
    reply = client_for(world.handler).post(f"/api/v1/supervision-orders/{order.pk}/reply/",
                                           {"reply": "已安排两台清运车，明日完成"}, format="json")
    assert reply.status_code == 200
    cockpit = page_client(world.supervisor).get("/cockpit/", {"region": "990101"})
    assert "已安排两台清运车，明日完成" in cockpit.content.decode()
    assert cockpit.context["orders"]["lights"] == {"green": 0, "yellow": 0, "red": 0}


# --- Black list, briefing, big screen -------------------------------------------------------------------------------------
def test_rectification_is_marked_done_from_the_cockpit(world):
    listing = BlackListing.objects.create(
        object="department", kind="", key=world.dept.code, name=world.dept.name, scope="990100",
        month=date(2026, 3, 1), yellow_months=["2026-01", "2026-03"], rectify_by=date(2026, 4, 30),
        listed_at=datetime(2026, 4, 1, 2, tzinfo=SH))
    client = page_client(world.supervisor)
    assert world.dept.name in client.get("/cockpit/", {"region": "990101"}).content.decode()
    empty = client.post(f"/cockpit/blacklist/{listing.pk}/rectify/", {"note": "", "back": "/cockpit/"}, follow=True)
    assert "write what was rectified" in empty.content.decode()
    done = client.post(f"/cockpit/blacklist/{listing.pk}/rectify/", {"note": "作业班组已调整", "back": "/cockpit/"},
                       follow=True)
    assert done.status_code == 200 and "作业班组已调整" in done.content.decode()
    listing.refresh_from_db()
    assert listing.rectification_note == "作业班组已调整" and listing.rectified_by == world.supervisor


def test_the_briefing_shows_and_downloads_as_pdf(world, built):
    client = page_client(world.supervisor)
    page = client.get("/cockpit/briefing/", {"region": "990101", "date": "2026-03-02"})
    assert page.status_code == 200
    assert page.context["data"]["counts"]["new"] == 12
    pdf = client.get("/cockpit/briefing/pdf/", {"region": "990101", "date": "2026-03-02"})
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 5000
    assert 'filename="briefing-990101-2026-03-02.pdf"' in pdf["Content-Disposition"]
    bad = client.get("/cockpit/briefing/", {"region": "990101", "date": "yesterday-ish"})
    assert bad.status_code == 400


def test_big_screen_has_every_panel(world, built):
    response = page_client(world.supervisor).get("/cockpit/big/", {**DAYS, "region": "990101"})
    assert response.status_code == 200
    text = response.content.decode()
    for marker in ('class="big-kpis"', 'id="cockpit-map"', "cockpit-leagues", "cockpit-orders", "cockpit-channels",
                   "cockpit-escalated", "cockpit-overdue"):
        assert marker in text, marker
    assert "big-screen" in text


def test_the_orders_panel_refreshes_itself_as_a_fragment(world):
    (case,) = overdue_cases(world, 1)
    wheel(world, [case.number], action="urge", note="请加快")
    client = page_client(world.supervisor)
    fragment = client.get("/cockpit/", {"region": "990101", "panel": "orders"}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    text = fragment.content.decode()
    assert text.lstrip().startswith("<section") and case.number in text and "<html" not in text
    assert client.get("/cockpit/", {"region": "990102", "panel": "orders"}, HTTP_HX_REQUEST="true").status_code == 403
