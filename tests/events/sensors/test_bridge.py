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
    made = SensorBridge(topic=TOPIC, client_id="test-bridge", queue_size=3, batch_wait_ms=0, lanes=1)
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
    small = SensorBridge(topic=TOPIC, client_id="test-bridge", queue_size=10, batch_events=3, batch_wait_ms=0,
                         lanes=1)
    small.client = FakeClient()
    for mid in range(5):
        small.queue.put((0, message([ev(mid * 2, mid, 0.1), ev(mid * 2 + 1, mid, 0.1)], mid=mid)))
    assert small.step(timeout=0) == 2  # 2 + 2 events ≥ 3
    assert small.queue.qsize() == 3
    with pytest.raises(queue.Empty):
        SensorBridge(topic=TOPIC, client_id="x", queue_size=1, lanes=1).queue.get_nowait()


def test_a_batch_waits_for_no_more_messages_once_the_brokers_window_is_full(sensors):
    """The broker sends at most its in-flight limit (Mosquitto: 20) before the bridge acknowledges: once the bridge
    holds that many QoS 1 messages, a batch takes what is queued without waiting for more. QoS 0 messages do not
    count; a limit of 0 means none."""
    for limit, waits in ((2, [True, True, True, False, False]), (0, [True, True, True, True, True])):
        bridge = SensorBridge(topic=TOPIC, client_id="test-bridge", queue_size=10, batch_wait_ms=60_000,
                              broker_inflight=limit, lanes=1)
        feed(bridge, message([ev(1, 0, 0.1)], mid=1), message([ev(2, 1, 0.1)], mid=2, qos=0),
             message([ev(3, 2, 0.1)], mid=3), message([ev(4, 3, 0.1)], mid=4))
        blocking, real_get = [], bridge.queue.get

        def get(block=True, timeout=None, real_get=real_get, blocking=blocking):
            blocking.append(block)
            return real_get(block, timeout)

        bridge.queue.get = get
        assert [item[1].mid for item in bridge._take(timeout=0)] == [1, 2, 3, 4]
        assert blocking == waits  # (the last get finds the queue empty)


# --- Lanes -----------------------------------------------------------------------------------------------------------
def test_a_devices_messages_always_go_to_the_same_lane_and_devices_spread_over_the_lanes():
    bridge = SensorBridge(topic=TOPIC, client_id="test-bridge", lanes=2, queue_size=1000)
    for n in range(40):
        for _ in range(3):
            bridge._on_message(None, None, message([ev(1, 0, 0.1, device=f"W-{n:03d}")], device=f"W-{n:03d}"))
    lanes = [[m.topic for _generation, m in list(q.queue)] for q in bridge.queues]
    assert all(lanes) and sum(map(len, lanes)) == 120
    assert not set(lanes[0]) & set(lanes[1])  # each device's three messages in one lane, in order


def test_with_lanes_acknowledgements_go_out_in_the_order_the_messages_came():
    """MQTT 3.1.1 §4.6: PUBACKs in the order of the PUBLISHes, whichever lane stores its batch first; a lane's batch
    is closed when the broker's window of unacknowledged messages is full, counting every lane's."""
    bridge = SensorBridge(topic=TOPIC, client_id="test-bridge", lanes=2, queue_size=1000, broker_inflight=4,
                          batch_wait_ms=0)
    bridge.client, bridge._generation = FakeClient(), 1
    devices = {0: [], 1: []}
    n = 0
    while min(len(v) for v in devices.values()) < 2:  # two devices of each lane
        device = f"W-{n:03d}"
        devices[bridge._lane_of(f"gridloop/sensors/{device}/events")].append(device)
        n += 1
    order = [devices[1][0], devices[0][0], devices[1][1], devices[0][1]]  # mids 1-4: lanes 1, 0, 1, 0
    for mid, device in enumerate(order, start=1):
        bridge._on_message(None, None, message([ev(1, 0, 0.1, device=device)], device=device, mid=mid))
    lane0 = bridge._take(timeout=0, lane=0)
    assert [item[1].mid for item in lane0] == [2, 4]
    bridge._ack(lane0)
    assert bridge.client.acked == []  # mid 1 (lane 1) is not stored yet
    bridge._ack(bridge._take(timeout=0, lane=1))
    assert bridge.client.acked == [1, 2, 3, 4]
    assert bridge._acks.held() == 0


def test_a_lane_that_fails_stops_the_bridge_instead_of_leaving_its_queue_unread(monkeypatch):
    bridge = SensorBridge(topic=TOPIC, client_id="test-bridge", lanes=2)

    def broken(timeout=0.5, lane=0):
        raise RuntimeError("a bug")

    monkeypatch.setattr(bridge, "step", broken)
    lane = threading.Thread(target=bridge._lane_loop, args=(1,))
    lane.start()
    lane.join(timeout=10)
    assert not lane.is_alive() and bridge.stopping.is_set()
