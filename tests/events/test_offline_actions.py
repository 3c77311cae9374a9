"""Actions prepared offline: the case version they were made on (``expected_seq`` → 409 when the case moved on) and
the on-site position fix recorded with 核实 (field_check) and 核查 (verify)."""

import pytest

from events.models import CaseEvent, CaseState
from tests.conftest import client_for, english
from tests.events.conftest import act, file_hotline, file_patrol, photo

pytestmark = pytest.mark.django_db


def handled_case(w):
    case = file_patrol(w)  # accepted on filing (GRIDLOOP_AUTO_ACCEPT_PATROL)
    act(case, "dispatch", w.dispatcher, department=w.dept.code)
    act(case, "sign", w.handler)
    return act(case, "complete", w.handler, note="清理完毕", photos=[photo()])


def take(user, number, action, **inputs):
    return english(client_for(user)).post(f"/api/v1/cases/{number}/actions/{action}/", inputs, format="multipart")


def test_an_action_on_the_version_it_was_made_on_is_applied(world):
    case = handled_case(world)
    response = take(world.worker, case.number, "verify", expected_seq=case.last_seq, photos=[photo()])
    assert response.status_code == 200, response.content
    assert response.json()["state"] == CaseState.VERIFIED


def test_an_action_on_a_case_that_moved_on_is_refused_with_what_happened(world):
    case = handled_case(world)
    seen = case.last_seq
    act(case, "rework", world.dispatcher, reason="没扫干净")  # someone else acted meanwhile
    response = take(world.worker, case.number, "verify", expected_seq=seen, photos=[photo()])
    assert response.status_code == 409
    body = response.json()
    assert body["state"] == CaseState.HANDLING
    assert body["last_seq"] == seen + 1
    assert [e["kind"] for e in body["moved_on"]] == ["rework"]
    assert "changed after you saw it" in body["detail"]
    assert not CaseEvent.objects.filter(case=case, kind="verify").exists()


def test_a_retry_of_an_action_already_taken_is_not_a_conflict(world):
    case = handled_case(world)
    seen = case.last_seq
    client = client_for(world.worker)
    url = f"/api/v1/cases/{case.number}/actions/verify/"
    first = client.post(url, {"expected_seq": seen, "photos": [photo()]}, format="multipart", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post(url, {"expected_seq": seen, "photos": [photo()]}, format="multipart", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 200
    assert CaseEvent.objects.filter(case=case, kind="verify").count() == 1


@pytest.mark.parametrize("value, status", [(0, 400), ("x", 400), (999, 400)])
def test_a_bad_expected_seq_is_a_400_naming_it(world, value, status):
    case = handled_case(world)
    response = take(world.worker, case.number, "verify", expected_seq=value, photos=[photo()])
    assert response.status_code == status
    assert "expected_seq" in response.json()["fields"]
    assert not CaseEvent.objects.filter(case=case, kind="verify").exists()


def test_a_check_records_the_fix_its_accuracy_and_the_distance_from_the_case(world):
    case = handled_case(world)
    lat, lng = world.point
    response = take(world.worker, case.number, "verify", photos=[photo()], fix_lat=lat + 0.001, fix_lng=lng,
                    fix_accuracy=12.5)
    assert response.status_code == 200, response.content
    fix = CaseEvent.objects.get(case=case, kind="verify").payload["fix"]
    assert fix["accuracy_m"] == 12.5
    assert 105 < fix["distance_m"] < 117  # 0.001° of latitude ≈ 111 m


def test_a_field_check_records_the_fix_too(world):
    case = file_hotline(world)
    act(case, "request_field_check", world.dispatcher)
    lat, lng = world.point
    response = take(world.worker, case.number, "field_check", result="confirmed", photos=[photo()],
                    fix_lat=lat, fix_lng=lng, fix_accuracy=8)
    assert response.status_code == 200, response.content
    fix = CaseEvent.objects.get(case=case, kind="field_check").payload["fix"]
    assert fix["distance_m"] == 0 and fix["accuracy_m"] == 8


@pytest.mark.parametrize("inputs, field", [
    ({"fix_lat": "north", "fix_lng": 1}, "fix_lat"),
    ({"fix_lat": 95, "fix_lng": 1}, "fix_lat"),
    ({"fix_lat": 30, "fix_lng": 120, "fix_accuracy": -1}, "fix_accuracy"),
])
def test_a_bad_fix_is_a_400_naming_the_field_and_nothing_is_written(world, inputs, field):
    case = handled_case(world)
    response = take(world.worker, case.number, "verify", photos=[photo()], **inputs)
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not CaseEvent.objects.filter(case=case, kind="verify").exists()
