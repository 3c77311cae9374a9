"""The per-process copies of the sensor rules and devices (GRIDLOOP_CONFIG_CHECK_SECONDS, 0 in the other tests): a
change made in this process counts at once; one made in another process (here: a queryset update, which tells no
one) counts once the copy is older than the check interval. Signatures are always checked against the database."""

import pytest

from events.sensors.models import RejectReason, SensorAlarm, SensorDevice, SensorRejectCount, SensorRule
from events.sensors.services import device_register, sensor_config_invalidate
from tests.events.sensors.conftest import ev, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached(settings):
    settings.GRIDLOOP_CONFIG_CHECK_SECONDS = 3600
    sensor_config_invalidate()
    yield settings
    sensor_config_invalidate()


def smoke(seq: int, **extra) -> dict:
    return ev(seq, seq, 0.0, device="S-001", metric="smoke", **extra)


def reasons(response) -> list[str]:
    return [p["reason"] for p in response.json()["problems"]]


def test_a_device_deactivated_in_this_process_is_refused_at_once(sensors, cached):
    assert post(sensors, [smoke(1)], key=sensors.key).json()["accepted"] == 1  # the device is in the copy now
    w = sensors.world
    device_register(device_id="S-001", type="smoke", lat=w.point[0], lng=w.point[1], department=w.district_dept,
                    integration_key=sensors.key, active=False)
    assert reasons(post(sensors, [smoke(2)], key=sensors.key)) == ["inactive_device"]


def test_a_device_deactivated_elsewhere_is_refused_within_the_check_interval(sensors, cached):
    assert post(sensors, [smoke(1)], key=sensors.key).json()["accepted"] == 1
    SensorDevice.objects.filter(device_id="S-001").update(active=False)
    assert post(sensors, [smoke(2)], key=sensors.key).json()["accepted"] == 1  # this process's copy, still young
    cached.GRIDLOOP_CONFIG_CHECK_SECONDS = 0  # (the copy is now older than the interval)
    assert reasons(post(sensors, [smoke(3)], key=sensors.key)) == ["inactive_device"]


def test_a_deactivated_signer_is_refused_at_once_even_with_its_device_in_the_copy(sensors, cached):
    assert post(sensors, [ev(1, 0, 0.05)]).json()["accepted"] == 1
    SensorDevice.objects.filter(device_id="W-001").update(active=False)
    response = post(sensors, [ev(2, 1, 0.05)])
    assert response.status_code == 403  # (the client hears the same as for a bad signature: no enumeration)
    assert SensorRejectCount.objects.filter(reason=RejectReason.INACTIVE_DEVICE).exists()


def test_a_rule_changed_in_the_admin_counts_at_once(sensors, cached, admin_client):
    assert post(sensors, [smoke(1)], key=sensors.key).json()["accepted"] == 1  # the rules are in the copy now
    fire = sensors.fire
    response = admin_client.post(f"/admin/events/sensorrule/{fire.pk}/change/", {
        "name": fire.name, "device_type": "smoke", "metric": "smoke", "comparison": "gt", "threshold": "",
        "duration_seconds": 0, "category": fire.category_id, "urgency": "urgent"})  # "active" left out: off
    assert response.status_code == 302, response.content
    assert not SensorRule.objects.get(pk=fire.pk).active
    assert post(sensors, [smoke(2, alarm=True)], key=sensors.key).json()["accepted"] == 1
    assert not SensorAlarm.objects.exists()


def test_a_rule_switched_on_elsewhere_counts_within_the_check_interval(sensors, cached):
    SensorRule.objects.filter(pk=sensors.fire.pk).update(active=False)
    post(sensors, [smoke(1)], key=sensors.key)  # the copy: no smoke rule
    SensorRule.objects.filter(pk=sensors.fire.pk).update(active=True)
    post(sensors, [smoke(2, alarm=True)], key=sensors.key)
    assert not SensorAlarm.objects.exists()
    cached.GRIDLOOP_CONFIG_CHECK_SECONDS = 0
    post(sensors, [smoke(3, alarm=True)], key=sensors.key)
    assert list(SensorAlarm.objects.values_list("kind", "seq")) == [("alarm", 3)]


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.org", "pw-for-tests-only")
    client.force_login(user)
    return client
