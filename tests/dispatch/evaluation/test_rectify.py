"""Marking a black-listed unit's rectification done (POST /api/v1/metrics/blacklist/{id}/rectify/): who may, the
note it needs, once only, and the black list showing it afterwards."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from dispatch.models.evaluation import BlackListing
from grids.models import Role
from tests.conftest import client_for
from tests.factories import make_user

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def listing(world, department=None, **overrides):
    department = department or world.dept
    values = {"object": "department", "kind": "", "key": department.code, "name": department.name,
              "scope": "990100", "month": date(2026, 3, 1), "yellow_months": ["2026-01", "2026-03"],
              "rectify_by": date(2026, 4, 30), "listed_at": datetime(2026, 4, 1, 2, tzinfo=SH)}
    return BlackListing.objects.create(**{**values, **overrides})


def rectify(user, pk, note):
    return client_for(user).post(f"/api/v1/metrics/blacklist/{pk}/rectify/", {"note": note}, format="json")


def test_a_supervisor_marks_the_rectification_done_with_a_note(world):
    row = listing(world)
    with time_machine.travel(datetime(2026, 4, 10, 9, tzinfo=SH), tick=False):
        response = rectify(world.supervisor, row.pk, "  清运车辆已增配，作业时间调整完毕  ")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["rectification_note"] == "清运车辆已增配，作业时间调整完毕"
    assert body["rectified_by"] == str(world.supervisor)
    row.refresh_from_db()
    assert row.rectified_at == datetime(2026, 4, 10, 9, tzinfo=SH) and row.rectified_by == world.supervisor
    listed = client_for(world.supervisor).get("/api/v1/metrics/blacklist/").json()["results"]
    assert [(r["id"], r["rectification_note"]) for r in listed] == [(row.pk, "清运车辆已增配，作业时间调整完毕")]


def test_a_second_mark_is_a_conflict_and_keeps_the_first(world):
    row = listing(world)
    assert rectify(world.supervisor, row.pk, "第一次").status_code == 200
    again = rectify(world.supervisor, row.pk, "第二次")
    assert again.status_code == 409 and "already marked done" in again.json()["detail"]
    row.refresh_from_db()
    assert row.rectification_note == "第一次"


@pytest.mark.parametrize("note", ["", "   "])
def test_an_empty_note_is_refused_naming_the_field(world, note):
    row = listing(world)
    response = rectify(world.supervisor, row.pk, note)
    assert response.status_code == 400 and "note" in response.json()["fields"]
    row.refresh_from_db()
    assert row.rectified_at is None and row.rectification_note == ""


def test_a_too_long_note_is_refused(world):
    row = listing(world)
    response = rectify(world.supervisor, row.pk, "改" * 2001)
    assert response.status_code == 400 and "note" in response.json()["fields"]


def test_a_unit_outside_the_supervised_area_is_403(world, db):
    from tests.factories import make_department

    other = make_department(world.regions["990102"] if "990102" in world.regions else world.regions["990100"],
                            type="园林", code="elsewhere")
    row = listing(world, department=other)
    response = rectify(world.supervisor, row.pk, "已整改")
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.rectified_at is None


@pytest.mark.parametrize("who", ["handler", "dispatcher", "worker"])
def test_other_roles_may_not_mark_it(world, who):
    row = listing(world)
    response = rectify(getattr(world, who), row.pk, "已整改")
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.rectified_at is None


def test_an_unknown_listing_is_404(world):
    admin = make_user("boss", (Role.ADMIN, None))
    assert rectify(admin, 999999, "已整改").status_code == 404
