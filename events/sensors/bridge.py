"""The MQTT bridge (``manage.py sensor_bridge``): subscribes to ``GRIDLOOP_SENSOR_MQTT_TOPIC`` (default
``gridloop/sensors/+/events``) with QoS 1 and ingests what arrives, batch by batch, through
``events.sensors.services.sensor_events_ingest``.

Loss-free: the session is persistent (clean_session off, a fixed client id) and each message is acknowledged only
after the batch holding it has committed (paho ``manual_ack``). A bridge that dies before that leaves its messages
unacknowledged, and the broker sends them again to the next one; whatever was already stored comes back as
duplicates and is ignored by (device, seq).

Bounded: paho's network thread puts messages into a queue of at most ``GRIDLOOP_SENSOR_MQTT_QUEUE`` messages and
blocks when it is full — it then stops reading the socket, and the broker holds the rest (its in-flight window for
the client is full as well, since nothing is acknowledged before it is stored). The main thread takes up to
``GRIDLOOP_SENSOR_MQTT_BATCH_EVENTS`` events (waiting at most ``…_BATCH_WAIT_MS`` for more) per transaction, and
closes a batch without waiting for more once the bridge holds as many unacknowledged messages as the broker sends
(``…_BROKER_INFLIGHT``, Mosquitto's ``max_inflight_messages``): no more come before some are acknowledged.

Lanes (``GRIDLOOP_SENSOR_MQTT_LANES``, default 2 on PostgreSQL, 1 on SQLite): each lane is a thread with its own
queue, database connection and batches; a device's messages always go to the same lane (by a hash of the device
id in the topic), so each device's events are still taken in order, while one lane's batch waits for PostgreSQL the
other's runs. The main thread is lane 0. Acknowledgements still go out in the order the messages came (MQTT 3.1.1
§4.6), whichever lane stored them first (``_Acks``).

Never crashes on input: unreadable messages, unknown devices and the like are counted and acknowledged. While the
database is unreachable the batch is retried with back-off and nothing is acknowledged.
"""

import logging
import queue
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from paho.mqtt.enums import CallbackAPIVersion

from .models import IngestSource, RejectReason
from .services import IngestResult, Rejection, events_from_message, reject_count, sensor_events_ingest

log = logging.getLogger(__name__)

IDLE_GAP_SECONDS = 0.002  # a batch is closed when no further message comes within this gap


def _reconnect_later() -> None:
    """Drop the database connection after an error, so the next attempt opens a fresh one (not inside a
    transaction someone else opened: the tests run the bridge inside theirs)."""
    if not connection.in_atomic_block:
        connection.close()


class _Acks:
    """The QoS 1 messages taken from the broker and not yet acknowledged, in the order they came: lanes say which
    they have stored, and get back those now due (the oldest ones, up to the first still being worked on)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._order: deque = deque()  # (generation, message) as they came
        self._stored: set[int] = set()  # id() of the messages stored but not yet due

    def arrived(self, item: tuple) -> None:
        with self._lock:
            self._order.append(item)

    def held(self) -> int:
        return len(self._order)

    def stored(self, items: list[tuple]) -> list[tuple]:
        """Mark the messages of ``items`` ((generation, message, …)) stored; returns the items due now."""
        with self._lock:
            self._stored.update(id(item[1]) for item in items)
            due = []
            while self._order and id(self._order[0][1]) in self._stored:
                item = self._order.popleft()
                self._stored.discard(id(item[1]))
                due.append(item)
            return due


class SensorBridge:
    def __init__(self, *, host: str | None = None, port: int | None = None, topic: str | None = None,
                 client_id: str | None = None, qos: int | None = None, username: str | None = None,
                 password: str | None = None, keepalive: int | None = None, queue_size: int | None = None,
                 batch_events: int | None = None, batch_wait_ms: int | None = None,
                 broker_inflight: int | None = None, lanes: int | None = None,
                 on_batch: Callable[[IngestResult], None] | None = None):
        s = settings
        self.host = host or s.GRIDLOOP_SENSOR_MQTT_HOST
        self.port = port or s.GRIDLOOP_SENSOR_MQTT_PORT
        self.topic = topic or s.GRIDLOOP_SENSOR_MQTT_TOPIC
        self.client_id = client_id or s.GRIDLOOP_SENSOR_MQTT_CLIENT_ID
        self.qos = s.GRIDLOOP_SENSOR_MQTT_QOS if qos is None else qos
        self.keepalive = keepalive or s.GRIDLOOP_SENSOR_MQTT_KEEPALIVE
        self.batch_events = batch_events or s.GRIDLOOP_SENSOR_MQTT_BATCH_EVENTS
        self.batch_wait = (batch_wait_ms if batch_wait_ms is not None else s.GRIDLOOP_SENSOR_MQTT_BATCH_WAIT_MS) / 1000
        self.broker_inflight = (broker_inflight if broker_inflight is not None
                                else s.GRIDLOOP_SENSOR_MQTT_BROKER_INFLIGHT)
        self.lanes = max(lanes or s.GRIDLOOP_SENSOR_MQTT_LANES, 1)
        size = max((queue_size or s.GRIDLOOP_SENSOR_MQTT_QUEUE) // self.lanes, 1)
        self.queues: list[queue.Queue] = [queue.Queue(maxsize=size) for _ in range(self.lanes)]
        self.queue = self.queues[0]  # lane 0's, taken by the thread that calls step() or run()
        self._acks = _Acks() if self.lanes > 1 else None  # (one lane: its batches are in arrival order anyway)
        pattern = self.topic.split("/")
        self._device_level = pattern.index("+") if "+" in pattern else None
        self._lane_threads: list[threading.Thread] = []
        self.on_batch = on_batch
        self.stats: Counter = Counter()
        self._stats_lock = threading.Lock()
        self.subscribed = threading.Event()
        self.stopping = threading.Event()
        self._generation = 0  # bumped per connection: a message is acknowledged on the connection it came by
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False,
                                  protocol=mqtt.MQTTv311, manual_ack=True)
        username = username if username is not None else s.GRIDLOOP_SENSOR_MQTT_USERNAME
        if username:
            self.client.username_pw_set(username, password if password is not None else
                                        s.GRIDLOOP_SENSOR_MQTT_PASSWORD)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # --- paho's network thread -----------------------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("sensor bridge: broker %s:%s refused the connection: %s", self.host, self.port, reason_code)
            return
        self._generation += 1
        log.info("sensor bridge: connected to %s:%s as %s (session present: %s), subscribing to %s",
                 self.host, self.port, self.client_id, flags.session_present, self.topic)
        client.subscribe(self.topic, qos=self.qos)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        if any(code.is_failure for code in reason_codes):
            log.error("sensor bridge: subscription to %s refused: %s", self.topic, reason_codes)
            return
        self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.subscribed.clear()
        if not self.stopping.is_set():
            log.warning("sensor bridge: disconnected (%s); reconnecting", reason_code)

    def _lane_of(self, topic: str) -> int:
        if self.lanes == 1 or self._device_level is None:
            return 0
        levels = topic.split("/")
        device = levels[self._device_level] if len(levels) > self._device_level else ""
        return zlib.crc32(device.encode()) % self.lanes

    def _on_message(self, client, userdata, message):
        item = (self._generation, message)
        lane = self.queues[self._lane_of(message.topic)]
        if self._acks is not None and message.qos > 0:
            self._acks.arrived(item)
        while not self.stopping.is_set():
            try:
                lane.put(item, timeout=0.5)
                return
            except queue.Full:  # back-pressure: this thread stops reading until the main thread catches up
                self.stats["queue_full_waits"] += 1

    # --- the main thread ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect (paho's network thread) and start lanes 1…N-1; lane 0 is the caller's (step, run)."""
        self.client.connect_async(self.host, self.port, keepalive=self.keepalive)
        self.client.loop_start()
        for lane in range(1, self.lanes):
            thread = threading.Thread(target=self._lane_loop, args=(lane,), name=f"sensor-bridge-lane-{lane}",
                                      daemon=True)
            thread.start()
            self._lane_threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._lane_threads:  # each finishes the batch in hand
            thread.join(timeout=60)
        self.client.disconnect()
        self.client.loop_stop()

    def _lane_loop(self, lane: int) -> None:
        try:
            while not self.stopping.is_set():
                self.step(lane=lane)
        except Exception:  # a lane that fails stops the bridge (rather than leave its queue to fill up unread): its
            log.exception("sensor bridge: lane %s failed; stopping", lane)  # messages come again to the next one
            self.stopping.set()
        finally:
            connection.close()

    def run(self, *, until: Callable[[], bool] | None = None) -> None:
        """Ingest batches until ``stop()`` is called (or ``until()`` turns true)."""
        while not self.stopping.is_set() and not (until is not None and until()):
            self.step()

    def step(self, timeout: float = 0.5, lane: int = 0) -> int:
        """Take one batch of the lane (waiting up to ``timeout`` for its first message), ingest it, acknowledge it.
        Returns the number of messages handled."""
        items = self._take(timeout, lane)
        if items:
            self._handle(items)
        return len(items)

    def _window_full(self, unacknowledged: int) -> bool:
        """Whether the broker holds back further messages until some are acknowledged (``broker_inflight``)."""
        held = self._acks.held() if self._acks is not None else unacknowledged
        return 0 < self.broker_inflight <= held

    def _take(self, timeout: float, lane: int = 0) -> list[tuple]:
        source = self.queues[lane]
        try:
            items = [self._read(source.get(timeout=timeout))]
        except queue.Empty:
            return []
        events = len(items[0][2])
        unacknowledged = int(items[0][1].qos > 0)  # QoS 0 messages are not held against the broker's window
        deadline = time.monotonic() + self.batch_wait
        while events < self.batch_events:
            full = self._window_full(unacknowledged)  # then take what is here, but wait for nothing more
            left = deadline - time.monotonic()
            try:
                item = self._read(source.get_nowait() if full else
                                  source.get(timeout=min(max(left, 0), IDLE_GAP_SECONDS)))
            except queue.Empty:
                if full or left <= 0 or source.empty():
                    break
                continue
            items.append(item)
            events += len(item[2])
            unacknowledged += item[1].qos > 0
        return items

    def _read(self, item) -> tuple:
        generation, message = item
        events, reason, why = events_from_message(message.topic, message.payload, subscription=self.topic)
        return generation, message, events, reason, why

    def _handle(self, items: list[tuple]) -> None:
        events, rejected = [], []
        for _generation, _message, message_events, reason, why in items:
            if reason:
                rejected.append(Rejection(-1, reason, why))
            events.extend(message_events)
        delay = 0.5
        while True:
            try:
                result = sensor_events_ingest(events=events, source=IngestSource.MQTT, rejected=rejected)
                break
            except (OperationalError, InterfaceError) as exc:  # the database is away: keep the batch, unacknowledged
                log.warning("sensor bridge: database error, retrying in %.1f s: %s", delay, exc)
                _reconnect_later()
                if self.stopping.wait(delay):
                    return  # not acknowledged: the broker sends these messages again to the next bridge
                delay = min(delay * 2, 30)
            except Exception:
                log.exception("sensor bridge: a batch of %s messages failed; taking them one by one", len(items))
                _reconnect_later()
                result = self._one_by_one(items)
                break
        self._ack(items)
        with self._stats_lock:
            self.stats["messages"] += len(items)
            for name in ("received", "accepted", "duplicates", "rejected", "alarms"):
                self.stats[name] += getattr(result, name)
        if result.rejected:
            for problem in result.problems[:3]:
                if problem.status == "rejected":
                    log.info("sensor bridge: rejected (%s): %s", problem.reason, problem.detail)
        if self.on_batch is not None:
            self.on_batch(result)

    def _one_by_one(self, items: list[tuple]) -> IngestResult:
        total = IngestResult()
        for _generation, message, events, reason, why in items:
            try:
                rejected = [Rejection(-1, reason, why)] if reason else []
                result = sensor_events_ingest(events=events, source=IngestSource.MQTT, rejected=rejected)
            except Exception as exc:
                log.exception("sensor bridge: message on %s failed and is dropped: %r", message.topic,
                              message.payload[:500])
                _reconnect_later()
                try:
                    reject_count(source=IngestSource.MQTT,
                                 counts={RejectReason.ERROR: (max(len(events), 1), f"{message.topic}: {exc}")})
                except DatabaseError:
                    log.exception("sensor bridge: could not count the failure")
                result = IngestResult(received=len(events), problems=[Rejection(-1, RejectReason.ERROR, str(exc))])
            for name in ("received", "accepted", "duplicates", "alarms"):
                setattr(total, name, getattr(total, name) + getattr(result, name))
            total.problems += result.problems
        return total

    def _ack(self, items: list[tuple]) -> None:
        if self._acks is not None:  # those due now, in arrival order (also other lanes' stored before)
            items = self._acks.stored([item for item in items if item[1].qos > 0])
        for generation, message, *_rest in items:
            # A message of an earlier connection is not acknowledged: the broker has sent it again already.
            if message.qos > 0 and generation == self._generation:
                self.client.ack(message.mid, message.qos)
