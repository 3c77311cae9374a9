"""The field app's server side without a browser: who may open it, the data document (my tasks in my grids only, my
figures), the photos in scope only, the service worker's scope header and the manifest."""
import pytest
import time_machine
from django.test import Client

from events.models import CaseState
from tests.events.conftest import act, file_hotline, file_patrol, photo
from tests.web.conftest import set_password

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    set_password(user)
    client.force_login(user)
    return client


def handled(world):
    case = file_patrol(world)
    act(case, "dispatch", world.dispatcher, department=world.dept.code)
    act(case, "sign", world.handler)
    return act(case, "complete", world.handler, note="done", photos=[photo()])


def test_the_app_is_for_grid_workers(world):
    assert Client().get("/field/").status_code == 302
    assert signed_in(world.dispatcher).get("/field/").status_code == 403
    assert signed_in(world.dispatcher).get("/field/data.json").status_code == 403
    page = signed_in(world.worker).get("/field/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'rel="manifest"' in html and "field.js" in html and "<script>" not in html
    assert "csrftoken" in page.cookies


def test_the_data_document_holds_my_checks_only(world):
    mine = handled(world)
    to_check = file_hotline(world)
    act(to_check, "request_field_check", world.dispatcher)
    data = signed_in(world.worker).get("/field/data.json").json()
    tasks = {task["number"]: task for task in data["tasks"]}
    assert set(tasks) == {mine.number, to_check.number}
    assert tasks[mine.number]["check"] == "verify" and tasks[mine.number]["last_seq"] == mine.last_seq
    assert tasks[to_check.number]["check"] == "field_check"
    assert tasks[mine.number]["due"] and tasks[mine.number]["light"] == "green"
    assert [p["kind"] for p in tasks[mine.number]["photos"]] == ["report", "after"]
    assert any(c["code"] == "E0101" for c in data["categories"])
    assert [g["code"] for g in data["grids"]] == [world.grid]  # my grid's boundary, for the maps
    assert data["grids"][0]["boundary"]["type"] in ("Polygon", "MultiPolygon")
    assert [r["number"] for r in data["reports"]] == [mine.number]  # the hotline case is not my report
    assert signed_in(world.worker2).get("/field/data.json").json()["tasks"] == []  # another grid's worker


def test_my_figures_count_reports_checks_and_checks_on_time(world):
    with time_machine.travel("2026-12-08 09:00 +0800", tick=False):
        case = handled(world)
        act(case, "verify", world.worker, photos=[photo()])
        counts = signed_in(world.worker).get("/field/data.json").json()["counts"]
    assert counts["today"] == {"reports": 1, "checks": 1, "verify_checks": 1, "on_time": 1}
    assert counts["month"]["reports"] == 1
    with time_machine.travel("2026-12-09 09:00 +0800", tick=False):
        counts = signed_in(world.worker).get("/field/data.json").json()["counts"]
    assert counts["today"]["reports"] == 0 and counts["month"]["checks"] == 1


def test_photos_are_served_within_scope_only(world):
    case = handled(world)
    attachment = case.attachments.first()
    assert signed_in(world.worker).get(f"/field/photos/{attachment.pk}/").status_code == 200
    assert signed_in(world.worker2).get(f"/field/photos/{attachment.pk}/").status_code == 404
    assert signed_in(world.worker).get("/field/photos/999999/").status_code == 404


def test_the_service_worker_covers_the_app_and_lists_its_shell(world):
    response = Client().get("/field/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/field/"
    body = response.content.decode()
    assert '"/field/"' in body and "/static/web/field.js" in body and "/static/web/app.css" in body


def test_the_manifest_makes_the_app_installable(world):
    manifest = Client().get("/field/manifest.webmanifest").json()
    assert manifest["start_url"] == "/field/" and manifest["display"] == "standalone"
    assert {icon["sizes"] for icon in manifest["icons"]} == {"192x192", "512x512"}


def test_a_case_state_change_removes_it_from_my_tasks(world):
    case = handled(world)
    act(case, "verify", world.worker, photos=[photo()])
    data = signed_in(world.worker).get("/field/data.json").json()
    assert data["tasks"] == []
    assert any(r["number"] == case.number and r["state"] == CaseState.VERIFIED for r in data["reports"])
