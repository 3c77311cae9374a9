"""POST /api/v1/sensors/events: HMAC signatures (device and integration key; good, bad, stale), batch limits,
malformed bodies and events, unknown and deactivated devices, duplicates — each answered with a reason and counted;
and the sensors list and reject counts."""

import json
from datetime import timedelta

import pytest

from events.sensors.models import SensorDevice, SensorReading, SensorRejectCount
from events.sensors.services import device_register, device_secret_rotate
from grids.models import Role
from tests.conftest import client_for
from tests.events.sensors.conftest import NOW, T0, ev, post, post_raw, sign
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def counted(reason: str) -> int:
    return sum(SensorRejectCount.objects.filter(reason=reason).values_list("count", flat=True))


def problems(response) -> list[tuple[int, str, str]]:
    return [(p["index"], p["status"], p["reason"]) for p in response.json()["problems"]]


# --- Signatures ------------------------------------------------------------------------------------------------------
def test_a_batch_signed_by_its_device_is_stored(sensors):
    response = post(sensors, [ev(1, 0, 0.05), ev(2, 1, 0.06)])
    assert response.status_code == 200, response.content
    assert response.json() == {"received": 2, "accepted": 2, "duplicates": 0, "rejected": 0, "problems": []}
    rows = list(SensorReading.objects.order_by("seq").values_list("device__device_id", "seq", "metric", "value"))
    assert rows == [("W-001", 1, "water_level", 0.05), ("W-001", 2, "water_level", 0.06)]
    reading = SensorReading.objects.get(seq=1)
    assert reading.ts == T0 and reading.received_at == NOW


def test_a_device_may_leave_out_its_own_id(sensors):
    event = ev(1, 0, 0.05)
    del event["device_id"]
    response = post(sensors, [event])
    assert response.status_code == 200 and response.json()["accepted"] == 1


def test_an_integration_key_signs_for_its_devices_only(sensors):
    response = post(sensors, [ev(1, 0, 0.0, device="S-001", metric="smoke"), ev(1, 0, 0.1)], key=sensors.key)
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert problems(response) == [(1, "rejected", "not_authorized")]
    assert "not linked to integration key" in response.json()["problems"][0]["detail"]
    assert counted("not_authorized") == 1


def test_a_device_signs_only_its_own_events(sensors):
    response = post(sensors, [ev(1, 0, 0.0, device="S-001", metric="smoke")])
    assert problems(response) == [(0, "rejected", "not_authorized")]
    assert SensorReading.objects.count() == 0


@pytest.mark.parametrize("how", ["wrong secret", "body changed", "other timestamp"])
def test_a_bad_signature_is_refused_with_nothing_stored_and_counted(sensors, how):
    body = json.dumps({"events": [ev(1, 0, 0.05)]}).encode()
    headers = sign(body, secret="x" * 64 if how == "wrong secret" else sensors.water.secret, device_id="W-001")
    if how == "body changed":
        body = body.replace(b"0.05", b"0.50")
    if how == "other timestamp":
        headers["HTTP_X_GRIDLOOP_TIMESTAMP"] = str(int(NOW.timestamp()) - 1)
    response = post_raw(body, headers)
    assert response.status_code == 403, response.content
    assert "signature refused" in response.json()["detail"]
    assert SensorReading.objects.count() == 0 and counted("bad_signature") == 1


@pytest.mark.parametrize("offset", [-301, 301, -86400])
def test_a_stale_or_future_signature_timestamp_is_refused(sensors, offset):
    response = post(sensors, [ev(1, 0, 0.05)], at=NOW + timedelta(seconds=offset))
    assert response.status_code == 403
    assert "seconds away from the server's clock" in response.json()["detail"]
    assert SensorReading.objects.count() == 0 and counted("stale_timestamp") == 1


def test_a_signature_within_the_allowed_clock_difference_is_accepted(sensors):
    assert post(sensors, [ev(1, 0, 0.05)], at=NOW - timedelta(seconds=299)).status_code == 200


@pytest.mark.parametrize("drop, add, field", [
    ("HTTP_X_GRIDLOOP_SIGNATURE", {}, "X-Gridloop-Signature"),
    ("HTTP_X_GRIDLOOP_DEVICE", {}, "X-Gridloop-Device"),
    (None, {"HTTP_X_GRIDLOOP_KEY": "ik_x"}, "X-Gridloop-Device"),
    (None, {"HTTP_X_GRIDLOOP_TIMESTAMP": "yesterday"}, "X-Gridloop-Timestamp"),
])
def test_missing_or_malformed_signature_headers_are_a_400_naming_the_header(sensors, drop, add, field):
    body = json.dumps({"events": [ev(1, 0, 0.05)]}).encode()
    headers = {**sign(body, secret=sensors.water.secret, device_id="W-001"), **add}
    headers.pop(drop, None)
    response = post_raw(body, headers)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert SensorReading.objects.count() == 0


def test_an_unknown_or_deactivated_signer_is_refused(sensors):
    body = json.dumps({"events": [ev(1, 0, 0.05)]}).encode()
    assert post_raw(body, sign(body, secret="s" * 64, device_id="W-404")).status_code == 403
    assert post_raw(body, sign(body, secret="s" * 64, key_id="ik_unknown")).status_code == 403
    SensorDevice.objects.filter(pk=sensors.water.pk).update(active=False)
    response = post(sensors, [ev(1, 0, 0.05)])
    assert response.status_code == 403 and "signature refused" in response.json()["detail"]
    assert (counted("unknown_device"), counted("unknown_key"), counted("inactive_device")) == (1, 1, 1)
    assert SensorReading.objects.count() == 0


def test_unknown_deactivated_and_wrongly_signed_all_get_the_same_answer(sensors, monkeypatch):
    """No device enumeration: the client cannot tell an unknown id from a wrong signature (the same status and
    body, and an HMAC computed either way); the reject counters keep each reason."""
    from events.sensors import signers

    computed = []
    real = signers.signature_matches
    monkeypatch.setattr(signers, "signature_matches", lambda *a: computed.append(a) or real(*a))
    body = json.dumps({"events": [ev(1, 0, 0.05)]}).encode()
    answers = [
        post_raw(body, sign(body, secret="s" * 64, device_id="W-404")),
        post_raw(body, sign(body, secret="s" * 64, key_id="ik_unknown")),
        post_raw(body, sign(body, secret="x" * 64, device_id="W-001")),
    ]
    SensorDevice.objects.filter(pk=sensors.water.pk).update(active=False)
    answers.append(post(sensors, [ev(1, 0, 0.05)]))
    assert {(r.status_code, r.content) for r in answers} == {(answers[0].status_code, answers[0].content)}
    assert answers[0].status_code == 403 and "W-404" not in answers[0].json()["detail"]
    assert len(computed) == 4
    assert [counted(r) for r in ("unknown_device", "unknown_key", "bad_signature", "inactive_device")] == [1, 1, 1, 1]
    detail = SensorRejectCount.objects.get(reason="unknown_device").last_detail
    assert "W-404" in detail


def test_a_rotated_secret_replaces_the_old_one(sensors):
    old = sensors.water.secret
    new = device_secret_rotate(device=sensors.water)
    assert post(sensors, [ev(1, 0, 0.05)], secret=old).status_code == 403
    assert post(sensors, [ev(1, 0, 0.05)], secret=new).status_code == 200


# --- Batch limits and malformed bodies -------------------------------------------------------------------------------
def test_a_batch_of_1000_events_is_taken_and_1001_refused(sensors):
    response = post(sensors, [ev(i, i / 100, 0.01) for i in range(1000)])
    assert response.status_code == 200 and response.json()["accepted"] == 1000
    response = post(sensors, [ev(i, i / 100, 0.01) for i in range(1000, 2001)])
    assert response.status_code == 400
    assert "at most 1,000 events" in response.json()["detail"] and "events" in response.json()["fields"]
    assert SensorReading.objects.count() == 1000 and counted("too_large") == 1


def test_a_body_over_the_size_limit_is_refused_before_it_is_read(sensors, settings):
    settings.GRIDLOOP_SENSOR_MAX_BODY_BYTES = 500
    response = post(sensors, [ev(i, 0, 0.01) for i in range(10)])
    assert response.status_code == 400 and "at most 500 bytes" in response.json()["detail"]
    assert counted("too_large") == 1 and SensorReading.objects.count() == 0


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"events": []}', b'{"events": "many"}', b'{"evts": [1]}',
                                  b"\xff\xfe"])
def test_a_malformed_body_is_a_400_with_nothing_stored(sensors, body):
    response = post_raw(body, sign(body, secret=sensors.water.secret, device_id="W-001"))
    assert response.status_code == 400, response.content
    assert "events" in response.json()["fields"]
    assert counted("malformed") == 1 and SensorReading.objects.count() == 0


BAD_EVENTS = [
    ("not an object", [1, 2]),
    ("device_id number", {"device_id": 7}),
    ("seq missing", {"seq": None}),
    ("seq negative", {"seq": -1}),
    ("seq fraction", {"seq": 1.5}),
    ("seq too big", {"seq": 2**63}),
    ("ts missing", {"ts": None}),
    ("ts naive", {"ts": "2026-07-01T09:00:00"}),
    ("ts words", {"ts": "yesterday"}),
    ("ts bool", {"ts": True}),
    ("metric upper case", {"metric": "Water"}),
    ("metric empty", {"metric": ""}),
    ("metric list", {"metric": ["water_level"]}),
    ("device_id object", {"device_id": {"id": "W-001"}}),
    ("value string", {"value": "0.2"}),
    ("value bool", {"value": True}),
    ("value huge", {"value": 10**400}),
    ("alarm string", {"alarm": "yes"}),
]


@pytest.mark.parametrize("name, change", BAD_EVENTS, ids=[b[0] for b in BAD_EVENTS])
def test_a_malformed_event_is_rejected_with_its_reason_and_the_rest_stored(sensors, name, change):
    bad = change if isinstance(change, list) else {**ev(2, 1, 0.2), **change}
    response = post(sensors, [ev(1, 0, 0.1), bad, ev(3, 2, 0.1)])
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["rejected"], problems(response)) == (2, 1, [(1, "rejected", "malformed")])
    assert body["problems"][0]["detail"]
    assert sorted(SensorReading.objects.values_list("seq", flat=True)) == [1, 3]
    assert counted("malformed") == 1


def test_a_not_finite_value_is_rejected(sensors):
    body = json.dumps({"events": [ev(1, 0, 0.1)]}).replace("0.1", "NaN").encode()
    response = post_raw(body, sign(body, secret=sensors.water.secret, device_id="W-001"))
    assert problems(response) == [(0, "rejected", "malformed")]


def test_timestamps_far_in_the_future_or_past_the_retention_are_rejected(sensors, settings):
    response = post(sensors, [ev(1, 66, 0.1), ev(2, 64, 0.1), {**ev(3, 0, 0.1), "ts": (NOW - timedelta(days=91))
                                                                          .timestamp()}])
    assert problems(response) == [(0, "rejected", "ts_in_future"), (2, "rejected", "ts_too_old")]
    assert list(SensorReading.objects.values_list("seq", flat=True)) == [2]  # 4 minutes ahead: clock skew allowed


def test_unknown_and_deactivated_devices_in_a_batch_are_rejected_per_event(sensors):
    w = sensors.world
    lat, lng = w.point
    off, _, _ = device_register(device_id="S-002", type="smoke", lat=lat, lng=lng, department=w.district_dept,
                                integration_key=sensors.key, active=False)
    response = post(sensors, [ev(1, 0, 0.0, device="S-001", metric="smoke"), ev(1, 0, 0.0, device="S-404",
                    metric="smoke"), ev(1, 0, 0.0, device="S-002", metric="smoke")], key=sensors.key)
    assert problems(response) == [(1, "rejected", "unknown_device"), (2, "rejected", "inactive_device")]
    assert counted("unknown_device") == 1 and counted("inactive_device") == 1


# --- Duplicates ------------------------------------------------------------------------------------------------------
def test_a_replayed_batch_stores_nothing_twice(sensors):
    events = [ev(1, 0, 0.1), ev(2, 1, 0.1)]
    assert post(sensors, events).json()["accepted"] == 2
    sensors.clock.shift(timedelta(seconds=30))
    response = post(sensors, events + [ev(3, 2, 0.1)], at=NOW + timedelta(seconds=30))
    assert (response.json()["accepted"], response.json()["duplicates"]) == (1, 2)
    assert problems(response) == [(0, "duplicate", "duplicate"), (1, "duplicate", "duplicate")]
    assert SensorReading.objects.count() == 3 and counted("duplicate") == 2


def test_the_same_seq_twice_in_one_batch_is_stored_once(sensors):
    response = post(sensors, [ev(1, 0, 0.1), ev(1, 0, 0.9)])
    assert problems(response) == [(1, "duplicate", "duplicate")]
    assert SensorReading.objects.get().value == 0.1


# --- Reads -----------------------------------------------------------------------------------------------------------
def test_sensors_are_listed_within_the_callers_area_without_secrets(sensors):
    w = sensors.world
    rows = client_for(w.worker).get("/api/v1/sensors/devices/").json()["results"]
    assert [r["device_id"] for r in rows] == ["S-001", "W-001"]
    assert all("secret" not in r for r in rows) and rows[1]["grid"] == w.grid
    assert client_for(w.worker2).get("/api/v1/sensors/devices/").json()["results"] == []
    filtered = client_for(w.worker).get("/api/v1/sensors/devices/?type=smoke").json()["results"]
    assert [r["device_id"] for r in filtered] == ["S-001"]
    assert client_for(w.worker).get("/api/v1/sensors/devices/?type=radar").status_code == 400


def test_reject_counts_are_for_administrators(sensors):
    post(sensors, [ev(1, 0, 0.1), ev(1, 0, 0.1), {"seq": "x"}])
    assert client_for(sensors.world.dispatcher).get("/api/v1/sensors/rejects/").status_code == 403
    admin = make_user("sensor_admin", (Role.ADMIN, None))
    rows = client_for(admin).get("/api/v1/sensors/rejects/?days=1").json()
    assert {(r["source"], r["reason"], r["count"]) for r in rows} == {("http", "duplicate", 1),
                                                                       ("http", "malformed", 1)}


def test_a_refusal_is_in_chinese_without_accept_language(sensors):
    from rest_framework.test import APIClient

    body = json.dumps({"events": [ev(1, 0, 0.05)]}).encode()
    response = APIClient().generic("POST", "/api/v1/sensors/events", body, content_type="application/json",
                                   **sign(body, secret="x" * 64, device_id="W-001"))
    from django.utils import translation

    from events.sensors.services import SIGNER_REFUSED

    with translation.override("zh-hans"):
        expected = translation.gettext(SIGNER_REFUSED) % {"device": "X-Gridloop-Device", "key": "X-Gridloop-Key"}
    assert response.status_code == 403 and response.json()["detail"] == expected
