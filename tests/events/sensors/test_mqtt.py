"""The bridge against a real Mosquitto on 127.0.0.1:1883 (paho publishes, the bridge consumes and ingests): QoS 1 on a
persistent session, so messages a bridge took but never acknowledged come again to the next one, and what was
stored already comes back as duplicates. Each test uses its own topic and client id (a uuid).

Marked ``mqtt``: skipped where the broker is not reachable, unless GRIDLOOP_TEST_MQTT_REQUIRED=1 (CI sets it)."""

import json
import os
import socket
import time
import uuid

import pytest

from events.models import Case
from events.sensors.bridge import SensorBridge
from events.sensors.models import SensorReading, SensorRejectCount
from tests.events.sensors.conftest import ev

HOST, PORT = "127.0.0.1", 1883


def _reachable() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=1):
            return True
    except OSError:
        return False


if not _reachable() and os.environ.get("GRIDLOOP_TEST_MQTT_REQUIRED") != "1":
    pytestmark = [pytest.mark.mqtt, pytest.mark.skip(reason=f"no MQTT broker on {HOST}:{PORT}")]
else:
    pytestmark = [pytest.mark.mqtt, pytest.mark.django_db]

paho = pytest.importorskip("paho.mqtt.client")
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402


@pytest.fixture
def names():
    run = uuid.uuid4().hex[:12]
    made = {"prefix": f"gridloop-test/{run}/sensors", "client_id": f"gridloop-test-{run}"}
    yield made
    # forget the persistent session this test's client id left on the broker
    cleaner = paho.Client(CallbackAPIVersion.VERSION2, client_id=made["client_id"], clean_session=True)
    cleaner.connect(HOST, PORT)
    cleaner.disconnect()


class Publisher:
    """One paho connection for a test's messages (QoS 1, each waited for until the broker has it)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"gridloop-test-pub-{uuid.uuid4().hex[:8]}")
        self.client.connect(HOST, PORT)
        self.client.loop_start()

    def __call__(self, device: str, payload) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        info = self.client.publish(f"{self.prefix}/{device}/events", body, qos=1)
        info.wait_for_publish(timeout=10)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publish(names):
    publisher = Publisher(names["prefix"])
    yield publisher
    publisher.close()


def started(names, **options) -> SensorBridge:
    options.setdefault("lanes", 1)  # (more lanes are threads with connections of their own: see the test below)
    bridge = SensorBridge(host=HOST, port=PORT, topic=f"{names['prefix']}/+/events", client_id=names["client_id"],
                          **options)
    bridge.start()
    assert bridge.subscribed.wait(10), "the bridge did not subscribe"
    return bridge


def run_until(bridge: SensorBridge, done, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    bridge.run(until=lambda: done() or time.monotonic() > deadline)
    assert done(), f"gave up waiting; bridge counters: {dict(bridge.stats)}"


def test_published_events_are_ingested_and_bad_messages_counted(sensors, names, publish):
    bridge = started(names)
    try:
        publish("W-001", [ev(1, 0, 0.2), ev(2, 5, 0.2)])  # 5 minutes above: an alarm
        publish("W-001", {"events": [ev(2, 5, 0.2), ev(3, 6, 0.01)]})  # a repeat and a recovery
        publish("W-001", b"{not json")
        publish("W-404", ev(1, 0, 0.2, device="W-404"))
        run_until(bridge, lambda: bridge.stats["messages"] >= 4)
    finally:
        bridge.stop()
    assert sorted(SensorReading.objects.values_list("seq", flat=True)) == [1, 2, 3]
    assert (bridge.stats["accepted"], bridge.stats["duplicates"]) == (3, 1)
    counts = dict(SensorRejectCount.objects.filter(source="mqtt").values_list("reason", "count"))
    assert counts == {"duplicate": 1, "malformed": 1, "unknown_device": 1}
    case = Case.objects.get(channel="sensor")
    assert list(case.events.order_by("seq").values_list("kind", flat=True)) == [
        "reported", "sensor_recovered", "request_field_check"]


def test_messages_a_bridge_took_but_never_acknowledged_come_again_to_the_next(sensors, names, publish):
    first = started(names)
    publish("W-001", [ev(1, 0, 0.1), ev(2, 1, 0.1)])
    _generation, taken = first.queue.get(timeout=10)  # in its queue, not stored: then it "dies"
    first.stop()
    assert SensorReading.objects.count() == 0
    second = started(names)
    try:
        run_until(second, lambda: second.stats["messages"] >= 1)
    finally:
        second.stop()
    assert sorted(SensorReading.objects.values_list("seq", flat=True)) == [1, 2]
    assert second.stats["accepted"] == 2


def test_a_message_stored_but_not_acknowledged_comes_again_as_duplicates(sensors, names, publish):
    first = started(names)
    first._ack = lambda items: None  # dies between the commit and the acknowledgement
    try:
        publish("W-001", [ev(1, 0, 0.1), ev(2, 1, 0.1)])
        run_until(first, lambda: first.stats["messages"] >= 1)
    finally:
        first.stop()
    second = started(names)
    try:
        run_until(second, lambda: second.stats["messages"] >= 1)
    finally:
        second.stop()
    assert SensorReading.objects.count() == 2
    assert (second.stats["accepted"], second.stats["duplicates"]) == (0, 2)


def test_a_burst_goes_through_a_queue_of_one_message(sensors, names, publish):
    bridge = started(names, queue_size=1)
    seen = []
    bridge.on_batch = lambda result: seen.append(bridge.queue.qsize())
    try:
        for n in range(30):
            publish("W-001", [ev(n * 2 + 1, n, 0.01), ev(n * 2 + 2, n + 0.5, 0.01)])
        run_until(bridge, lambda: bridge.stats["messages"] >= 30, seconds=30)
    finally:
        bridge.stop()
    assert SensorReading.objects.count() == 60
    assert max(seen) <= 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_lanes_store_every_devices_events_in_order_and_acknowledge_them_all(sensors, names, publish):
    """Lane 0 in this thread, lane 1 in the bridge's own (each with its own connection): every event is stored, each
    device's rule sees its readings in order (one alarm per run, no replays), and everything was acknowledged — a
    second bridge on the same session gets only what is published after it started."""
    from django.db import connection

    from events.sensors.models import SensorAlarm
    from events.sensors.services import device_register

    w = sensors.world
    lat, lng = w.point
    probe = SensorBridge(topic=f"{names['prefix']}/+/events", client_id="probe", lanes=2)
    devices, n = {0: [], 1: []}, 2
    while min(len(found) for found in devices.values()) < 2:  # two devices in each lane
        device = f"W-{n:03d}"
        devices[probe._lane_of(f"{names['prefix']}/{device}/events")].append(device)
        n += 1
    chosen = devices[0] + devices[1]
    for device in chosen:
        device_register(device_id=device, type="water_level", lat=lat, lng=lng,
                        department=w.district_dept)
    bridge = started(names, lanes=2)
    try:
        assert len(bridge._lane_threads) == 1
        for minute in range(0, 30, 3):  # 10 messages per device; above the threshold from minute 6 to 14
            for device in chosen:
                publish(device, [ev(minute + k, minute + k, 0.3 if 6 <= minute + k < 15 else 0.05, device=device)
                                 for k in range(3)])
        run_until(bridge, lambda: bridge.stats["accepted"] >= 30 * len(chosen), seconds=30)
    finally:
        bridge.stop()
        connection.close()
    assert SensorReading.objects.count() == 30 * len(chosen)
    for device in chosen:  # in order: one run → one alarm (at minute 11: 5 minutes above) and one recovery
        assert list(SensorAlarm.objects.filter(device__device_id=device).order_by("seq")
                    .values_list("kind", "seq")) == [("alarm", 11), ("recovered", 15)]
    assert not SensorAlarm.objects.filter(processed_at__isnull=True).exists()
    second = started(names, lanes=2)
    try:
        publish(chosen[0], [ev(100, 40, 0.05, device=chosen[0])])
        run_until(second, lambda: second.stats["accepted"] >= 1)
    finally:
        second.stop()
        connection.close()
    assert second.stats["messages"] == 1 and second.stats["duplicates"] == 0
