"""The MQTT bridge without a broker: reading messages (topic → device, the payload shapes), acknowledging only after
the batch is stored, retrying while the database is away, never crashing on bad input, and a bounded queue."""

import json
import queue
import threading
from types import SimpleNamespace

import pytest
from django.db import OperationalError

from events.sensors import bridge as bridge_module
from events.sensors.bridge import SensorBridge
from events.sensors.models import SensorReading, SensorRejectCount
from events.sensors.services import events_from_message
from tests.events.sensors.conftest import ev

pytestmark = pytest.mark.django_db

TOPIC = "gridloop/sensors/+/events"


def message(payload, *, device="W-001", mid=1, qos=1):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return SimpleNamespace(topic=f"gridloop/sensors/{device}/events", payload=body, mid=mid, qos=qos)


class FakeClient:
    def __init__(self):
        self.acked = []

    def ack(self, mid, qos):
        self.acked.append(mid)


@pytest.fixture
def bridge(sensors):
    made = SensorBridge(topic=TOPIC, client_id="test-bridge", queue_size=3, batch_wait_ms=0)
    made.client = FakeClient()
    made._generation = 1
    return made


def feed(bridge, *messages, generation=1):
    for m in messages:
        bridge.queue.put((generation, m))


# --- Reading messages ------------------------------------------------------------------------------------------------
def test_a_message_may_hold_one_event_a_list_or_an_envelope_and_the_topic_names_the_device(settings):
    one = {k: v for k, v in ev(1, 0, 0.1).items() if k != "device_id"}
    for payload in (one, [one], {"events": [one]}):
        events, reason, why = events_from_message("gridloop/sensors/W-001/events", json.dumps(payload).encode(),
                                                  subscription=TOPIC)
        assert (reason, why) == ("", "") and events[0]["device_id"] == "W-001"


@pytest.mark.parametrize("topic, payload, reason", [
    ("gridloop/sensors/events", b"{}", "malformed"),
    ("gridloop/sensors/W-001/events", b"not json", "malformed"),
    ("gridloop/sensors/W-001/events", b"[]", "malformed"),
    ("gridloop/sensors/W-001/events", b"42", "malformed"),
    ("gridloop/sensors/W-001/events", json.dumps([{"seq": i} for i in range(1001)]).encode(), "too_large"),
])
def test_unreadable_messages_are_refused_with_a_reason(topic, payload, reason):
    events, got, why = events_from_message(topic, payload, subscription=TOPIC)
    assert (events, got) == ([], reason) and why


def test_an_event_of_another_device_on_a_devices_topic_is_refused(bridge):
    feed(bridge, message([ev(1, 0, 0.1), ev(1, 0, 0.0, device="S-001", metric="smoke")]))
    bridge.step(timeout=0)
    assert list(SensorReading.objects.values_list("device__device_id", flat=True)) == ["W-001"]
    assert SensorRejectCount.objects.get(reason="not_authorized", source="mqtt").count == 1


# --- Batches, acknowledgements, errors -------------------------------------------------------------------------------
def test_messages_are_stored_in_one_batch_and_acknowledged_after_it(bridge):
    feed(bridge, message([ev(1, 0, 0.1)], mid=1), message(ev(2, 1, 0.1), mid=2), message([ev(2, 1, 0.1)], mid=3))
    assert bridge.step(timeout=0) == 3
    assert SensorReading.objects.count() == 2
    assert bridge.client.acked == [1, 2, 3]
    assert (bridge.stats["accepted"], bridge.stats["duplicates"]) == (2, 1)


def test_bad_input_is_counted_and_acknowledged_and_the_bridge_goes_on(bridge):
    feed(bridge, message(b"garbage", mid=1), message([ev(1, 0, 0.1, device="W-404")], device="W-404", mid=2),
         message([ev(1, 0, 0.1)], mid=3))
    bridge.step(timeout=0)
    assert bridge.client.acked == [1, 2, 3]
    assert SensorReading.objects.count() == 1
    counts = dict(SensorRejectCount.objects.filter(source="mqtt").values_list("reason", "count"))
    assert counts == {"malformed": 1, "unknown_device": 1}


def test_while_the_database_is_away_nothing_is_acknowledged_and_the_batch_is_retried(bridge, monkeypatch):
    real = bridge_module.sensor_events_ingest
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    waits = []

    def no_wait(delay):  # the back-off, without sleeping in the test
        waits.append(delay)
        assert bridge.client.acked == []
        return False

    monkeypatch.setattr(bridge_module, "sensor_events_ingest", flaky)
    monkeypatch.setattr(bridge.stopping, "wait", no_wait)
    feed(bridge, message([ev(1, 0, 0.1)], mid=7))
    bridge.step(timeout=0)
    assert len(calls) == 3 and waits == [0.5, 1.0]
    assert bridge.client.acked == [7] and SensorReading.objects.count() == 1


def test_a_bridge_stopped_while_the_database_is_away_acknowledges_nothing(bridge, monkeypatch):
    def down(**kwargs):
        raise OperationalError("no database")

    monkeypatch.setattr(bridge_module, "sensor_events_ingest", down)
    monkeypatch.setattr(bridge.stopping, "wait", lambda delay: True)  # stop() came during the back-off
    feed(bridge, message([ev(1, 0, 0.1)], mid=7))
    bridge.step(timeout=0)
    assert bridge.client.acked == []


def test_an_unexpected_error_is_isolated_to_its_message(bridge, monkeypatch):
    real = bridge_module.sensor_events_ingest

    def picky(**kwargs):
        if any(e.get("value") == 0.666 for e in kwargs["events"]):
            raise ValueError("a bug")
        return real(**kwargs)

    monkeypatch.setattr(bridge_module, "sensor_events_ingest", picky)
    feed(bridge, message([ev(1, 0, 0.666)], mid=1), message([ev(2, 1, 0.1)], mid=2))
    bridge.step(timeout=0)
    assert bridge.client.acked == [1, 2]
    assert list(SensorReading.objects.values_list("seq", flat=True)) == [2]
    assert SensorRejectCount.objects.get(reason="error", source="mqtt").count == 1


def test_messages_of_an_earlier_connection_are_not_acknowledged(bridge):
    feed(bridge, message([ev(1, 0, 0.1)], mid=5), generation=1)
    bridge._generation = 2  # reconnected: the broker sends mid 5 again on the new connection
    bridge.step(timeout=0)
    assert bridge.client.acked == [] and SensorReading.objects.count() == 1


def test_a_full_queue_holds_the_network_thread_back(bridge):
    for mid in range(3):
        bridge._on_message(None, None, message([ev(mid, 0, 0.1)], mid=mid))
    assert bridge.queue.full()
    blocked = threading.Thread(target=bridge._on_message, args=(None, None, message([ev(9, 0, 0.1)], mid=9)))
    blocked.start()
    blocked.join(timeout=0.3)
    assert blocked.is_alive()  # back-pressure: the 4th message waits for room
    bridge.queue.get_nowait()
    blocked.join(timeout=5)
    assert not blocked.is_alive() and bridge.queue.qsize() == 3


def test_a_batch_takes_at_most_the_configured_number_of_events(sensors):
    small = SensorBridge(topic=TOPIC, client_id="test-bridge", queue_size=10, batch_events=3, batch_wait_ms=0)
    small.client = FakeClient()
    for mid in range(5):
        small.queue.put((0, message([ev(mid * 2, mid, 0.1), ev(mid * 2 + 1, mid, 0.1)], mid=mid)))
    assert small.step(timeout=0) == 2  # 2 + 2 events ≥ 3
    assert small.queue.qsize() == 3
    with pytest.raises(queue.Empty):
        SensorBridge(topic=TOPIC, client_id="x", queue_size=1).queue.get_nowait()


def test_a_batch_is_closed_when_it_holds_the_brokers_window_of_unacknowledged_messages(sensors):
    """The broker sends at most its in-flight limit (Mosquitto: 20) before the bridge acknowledges: a batch holding
    that many QoS 1 messages goes at once instead of waiting for more. QoS 0 messages do not count."""
    for limit, taken in ((2, 3), (0, 4)):
        bridge = SensorBridge(topic=TOPIC, client_id="test-bridge", queue_size=10, batch_wait_ms=60_000,
                              broker_inflight=limit)
        bridge.client = FakeClient()
        feed(bridge, message([ev(1, 0, 0.1)], mid=1), message([ev(2, 1, 0.1)], mid=2, qos=0),
             message([ev(3, 2, 0.1)], mid=3), message([ev(4, 3, 0.1)], mid=4))
        assert len(bridge._take(timeout=0)) == taken
