"""Admin-only configuration API: /api/v1/routing-rules/ and /api/v1/calendar-overrides/."""

from datetime import date

import pytest
from rest_framework.test import APIClient

from dispatch.models import CalendarOverride, RoutingRule
from dispatch.selectors import work_calendar
from tests.conftest import assert_field_error, client_for, english
from tests.factories import make_user

pytestmark = pytest.mark.django_db

RULES = "/api/v1/routing-rules/"
OVERRIDES = "/api/v1/calendar-overrides/"


@pytest.fixture
def admin(world):
    return english(client_for(make_user("a", ("admin", None))))  # the assertions below read the English messages


def rule_body(world, **changes) -> dict:
    body = {"category": "E0101", "region": "990101001", "department": world.dept.code, "priority": 5,
            "auto_dispatch": True, "note": "垃圾归环卫"}
    body.update(changes)
    return {key: value for key, value in body.items() if value is not ...}


# --- Routing rules ---------------------------------------------------------------------------------------------------
def test_routing_rule_crud(world, admin):
    created = admin.post(RULES, rule_body(world), format="json")
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["category"] == "E0101" and rule["major_kind"] == "" and rule["major_code"] == ""
    assert rule["region"] == "990101001" and rule["department"] == "s1-huanwei" and rule["active"] is True
    assert rule["region_name"] == "街道1001" and rule["department_name"] == world.dept.name
    stored = RoutingRule.objects.get(pk=rule["id"])
    assert stored.category.code == "E0101" and stored.auto_dispatch and stored.priority == 5

    listed = admin.get(RULES).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == rule["id"]
    assert admin.get(f"{RULES}{rule['id']}/").json() == rule

    # switch to a major class: the category is cleared
    patched = admin.patch(f"{RULES}{rule['id']}/", {"major_kind": "event", "major_code": "01", "active": False},
                          format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["category"] is None and patched.json()["major_code"] == "01"
    assert patched.json()["active"] is False
    # and back to a category: the major class is cleared
    patched = admin.patch(f"{RULES}{rule['id']}/", {"category": "C0101"}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["category"] == "C0101" and patched.json()["major_kind"] == ""

    replaced = admin.put(f"{RULES}{rule['id']}/", rule_body(world, category=..., major_kind="component",
                                                            major_code="01", region="990101",
                                                            department=world.district_dept.code), format="json")
    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["region"] == "990101" and replaced.json()["category"] is None
    assert replaced.json()["department"] == "d1-shuiwu"

    assert admin.delete(f"{RULES}{rule['id']}/").status_code == 204
    assert not RoutingRule.objects.exists()
    missing = admin.get(f"{RULES}{rule['id']}/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_routing_rules_list_filters(world, admin):
    admin.post(RULES, rule_body(world), format="json")
    admin.post(RULES, rule_body(world, category=..., major_kind="event", major_code="01", active=False,
                                department=world.dept_b.code, region="990101002"), format="json")
    assert admin.get(RULES + "?active=true").json()["count"] == 1
    assert admin.get(RULES + "?active=false").json()["results"][0]["major_code"] == "01"
    assert admin.get(RULES + "?region=990101002").json()["count"] == 1
    assert admin.get(RULES + "?department=s1-huanwei").json()["count"] == 1
    assert admin.get(RULES + "?category=E0101").json()["count"] == 1
    assert admin.get(RULES).json()["count"] == 2


def test_a_rule_made_here_routes_cases(world, admin):
    from tests.events.conftest import file_patrol

    admin.post(RULES, rule_body(world, department=world.dept_y.code, auto_dispatch=False), format="json")
    case = file_patrol(world)
    from dispatch.routing import route

    assert route(case).department == world.dept_y


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"category": "X9999"}, "category", ("X9999",)),
    ({"region": "123"}, "region", ("123",)),
    ({"department": "nope"}, "department", ("nope",)),
    ({"major_kind": "event", "major_code": "01"}, "category", ("not both",)),
    ({"category": ...}, "category", ("major_kind",)),
    ({"category": None}, "category", ("major_kind",)),
    ({"category": ..., "major_code": "01"}, "major_kind", ("component or event",)),
    ({"category": ..., "major_kind": "event"}, "major_code", ("two-digit",)),
    ({"category": ..., "major_kind": "thing", "major_code": "01"}, "major_kind", ("component",)),
    ({"category": ..., "major_kind": "event", "major_code": "1x"}, "major_code", ("two digits",)),
    ({"category": ..., "major_kind": "event", "major_code": "98"}, "major_code", ("98",)),
    ({"department": "s2-huanwei"}, "department", ("s2-huanwei", "990101002", "990101001")),
    ({"region": "990101", "department": "s1-huanwei"}, "department", ("does not contain",)),
    ({"region": ...}, "region", ()),
    ({"department": ...}, "department", ()),
    ({"priority": "high"}, "priority", ()),
])
def test_routing_rule_validation_names_the_field(world, admin, changes, field, words):
    response = admin.post(RULES, rule_body(world, **changes), format="json")
    assert_field_error(response, field, *words)
    assert not RoutingRule.objects.exists()


def test_an_update_is_validated_against_the_stored_rule(world, admin):
    rule = admin.post(RULES, rule_body(world), format="json").json()
    # moving the rule out of its department's jurisdiction
    response = admin.patch(f"{RULES}{rule['id']}/", {"region": "990101002"}, format="json")
    assert_field_error(response, "department", "990101002")
    response = admin.patch(f"{RULES}{rule['id']}/", {"category": "E0101", "major_code": "01"}, format="json")
    assert_field_error(response, "category", "not both")
    response = admin.patch(f"{RULES}{rule['id']}/", {"category": None}, format="json")
    assert_field_error(response, "category")
    assert RoutingRule.objects.get().region.code == "990101001"


def test_a_district_department_serves_its_streets(world, admin):
    response = admin.post(RULES, rule_body(world, region="990101002", department=world.district_dept.code),
                          format="json")
    assert response.status_code == 201, response.content


def test_routing_rules_are_for_admins_only(world):
    rule = RoutingRule.objects.create(category=world.category, region=world.regions["990101001"],
                                      department=world.dept)
    for user in (world.dispatcher, world.supervisor, world.worker, world.city_dispatcher):
        client = client_for(user)
        for method, url, body in (("get", RULES, None), ("post", RULES, rule_body(world)),
                                  ("get", f"{RULES}{rule.pk}/", None), ("patch", f"{RULES}{rule.pk}/", {"note": "x"}),
                                  ("put", f"{RULES}{rule.pk}/", rule_body(world)),
                                  ("delete", f"{RULES}{rule.pk}/", None)):
            response = getattr(client, method)(url, body, format="json")
            assert response.status_code == 403, (user, method, url)
            assert "只有管理员" in response.json()["detail"]  # (Chinese first: no Accept-Language sent)
    assert APIClient().get(RULES).status_code in (401, 403)
    assert RoutingRule.objects.get().note == ""


def test_a_superuser_is_an_admin(world):
    from grids.models import User

    root = User.objects.create_superuser("root", password="pw-for-tests-only")
    assert client_for(root).get(RULES).status_code == 200


# --- Calendar overrides ----------------------------------------------------------------------------------------------
def test_calendar_override_crud(world, admin):
    created = admin.post(OVERRIDES, {"day": "2026-10-10", "is_workday": True, "note": "调休"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["day"] == "2026-10-10" and created.json()["is_workday"] is True
    assert work_calendar().is_workday(date(2026, 10, 10)) is True

    replaced = admin.post(OVERRIDES, {"day": "2026-10-10", "is_workday": False}, format="json")
    assert replaced.status_code == 200 and replaced.json()["is_workday"] is False
    assert CalendarOverride.objects.count() == 1

    put = admin.put(f"{OVERRIDES}2027-01-04/", {"is_workday": False, "note": "本地假日"}, format="json")
    assert put.status_code == 201 and put.json()["day"] == "2027-01-04"
    put = admin.put(f"{OVERRIDES}2027-01-04/", {"is_workday": True}, format="json")
    assert put.status_code == 200 and put.json()["is_workday"] is True and put.json()["note"] == ""

    patched = admin.patch(f"{OVERRIDES}2026-10-10/", {"note": "改了"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["note"] == "改了" and patched.json()["is_workday"] is False

    assert admin.get(f"{OVERRIDES}2026-10-10/").json()["note"] == "改了"
    listed = admin.get(OVERRIDES).json()
    assert [row["day"] for row in listed["results"]] == ["2026-10-10", "2027-01-04"]
    assert [row["day"] for row in admin.get(OVERRIDES + "?year=2027").json()["results"]] == ["2027-01-04"]
    assert admin.get(OVERRIDES + "?year=2025").json()["count"] == 0

    assert admin.delete(f"{OVERRIDES}2026-10-10/").status_code == 204
    assert not CalendarOverride.objects.filter(day=date(2026, 10, 10)).exists()
    gone = admin.delete(f"{OVERRIDES}2026-10-10/")
    assert gone.status_code == 404 and "2026-10-10" in gone.json()["detail"]
    assert admin.get(f"{OVERRIDES}2026-10-10/").status_code == 404
    assert admin.patch(f"{OVERRIDES}2026-10-10/", {"note": "x"}, format="json").status_code == 404


@pytest.mark.parametrize(("method", "url", "body", "field"), [
    ("post", OVERRIDES, {"day": "2026-13-01", "is_workday": True}, "day"),
    ("post", OVERRIDES, {"day": "tomorrow", "is_workday": True}, "day"),
    ("post", OVERRIDES, {"is_workday": True}, "day"),
    ("post", OVERRIDES, {"day": "2026-10-10"}, "is_workday"),
    ("post", OVERRIDES, {"day": "2026-10-10", "is_workday": "maybe"}, "is_workday"),
    ("post", OVERRIDES, {"day": "2026-10-10", "is_workday": True, "note": "x" * 201}, "note"),
    ("get", f"{OVERRIDES}2026-02-30/", None, "day"),
    ("put", f"{OVERRIDES}not-a-day/", {"is_workday": True}, "day"),
    ("put", f"{OVERRIDES}2026-10-10/", {}, "is_workday"),
    ("patch", f"{OVERRIDES}20261010x/", {"note": "x"}, "day"),
    ("delete", f"{OVERRIDES}2026-1-1x/", None, "day"),
    ("get", f"{OVERRIDES}?year=twenty", None, "year"),
])
def test_calendar_override_validation_names_the_field(world, admin, method, url, body, field):
    response = getattr(admin, method)(url, body, format="json")
    assert_field_error(response, field)
    assert not CalendarOverride.objects.exists()


def test_a_bad_day_says_what_to_give(world, admin):
    response = admin.post(OVERRIDES, {"day": "10/10/2026", "is_workday": True}, format="json")
    assert "ISO date" in response.json()["fields"]["day"][0]


def test_calendar_overrides_are_for_admins_only(world):
    CalendarOverride.objects.create(day=date(2026, 10, 10), is_workday=True)
    for user in (world.dispatcher, world.supervisor, world.operator):
        client = client_for(user)
        for method, url, body in (("get", OVERRIDES, None), ("post", OVERRIDES, {"day": "2026-10-11",
                                                                                   "is_workday": True}),
                                  ("get", f"{OVERRIDES}2026-10-10/", None),
                                  ("put", f"{OVERRIDES}2026-10-10/", {"is_workday": False}),
                                  ("patch", f"{OVERRIDES}2026-10-10/", {"note": "x"}),
                                  ("delete", f"{OVERRIDES}2026-10-10/", None)):
            response = getattr(client, method)(url, body, format="json")
            assert response.status_code == 403, (user, method, url)
    assert list(CalendarOverride.objects.values_list("day", "is_workday", "note")) == [
        (date(2026, 10, 10), True, "")]


def test_the_schema_lists_the_new_endpoints(tmp_path):
    import yaml
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out))
    paths = yaml.safe_load(out.read_text())["paths"]
    for path in ("/api/v1/queues/{level}/", RULES, "/api/v1/routing-rules/{id}/", OVERRIDES,
                 "/api/v1/calendar-overrides/{day}/", "/api/v1/inbox/"):
        assert path in paths, path
