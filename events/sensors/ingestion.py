"""Ingestion of a batch of sensor events (an HTTP request, or a bridge's worth of MQTT messages), in one transaction:

1. every event is checked (shape, known and active device, allowed for the signer); bad ones are rejected with a
   reason and counted, the rest go on;
2. one ``INSERT … ON CONFLICT (device, seq) DO NOTHING RETURNING`` stores them: what it does not return is a
   duplicate (a redelivery or a replay) and goes no further;
3. the new readings are evaluated per (device, rule) in (ts, seq) order from the locked rule state, in memory
   (events/sensors/rules.py); a reading older than what was already evaluated replays the stored history around it;
4. in a savepoint, alarms and recoveries for a (device, rule) whose case is open become events on that case's
   timeline (``alarms.py``); then what the rules found is written as ``SensorAlarm`` rows, processed or pending, and
   the reject counters are bumped.

An alarm that needs a new case is left pending with the rest of its pair's alarms and processed right after the
commit, one (device, rule) per transaction (``alarms.alarms_of_pair``).
"""

import json
import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, cast

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from config.compiled import CompiledQuery
from config.errors import InvalidInput
from config.rows import rows_insert_many, rows_update_many

from . import rules
from .alarms import ALARM_STATE_FIELDS, alarms_of_pair, handle_alarms
from .models import (
    METRIC_PATTERN,
    IngestSource,
    RejectReason,
    SensorAlarm,
    SensorDevice,
    SensorIntegrationKey,
    SensorReading,
    SensorRule,
    SensorRuleState,
)
from .registry import active_rules, known_devices
from .rejects import refuse, reject_count
from .rule_states import DEADLOCK_RETRIES, array_cursor, arrays_in_binary, is_deadlock, lock_states
from .signers import Signer

log = logging.getLogger(__name__)

MAX_SEQ = 2**63 - 1
_METRIC = re.compile(METRIC_PATTERN)


def sensor_batch_events(body: bytes, *, signer: Signer | None = None) -> list:
    """The events of an HTTP batch body ``{"events": [...]}`` (1 to GRIDLOOP_SENSOR_MAX_BATCH of them)."""
    limit = settings.GRIDLOOP_SENSOR_MAX_BATCH
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: "[" × 5000
        raise refuse(InvalidInput(_('the body must be JSON like {"events": [...]}: %(problem)s') % {"problem": exc},
                                   field="events"),
                      reason=RejectReason.MALFORMED, detail=f"{signer}: body is not JSON") from exc
    events = document.get("events") if isinstance(document, dict) else None
    if not isinstance(events, list) or not events:
        raise refuse(InvalidInput(_('the body must be a JSON object with a non-empty list "events"'), field="events"),
                      reason=RejectReason.MALFORMED, detail=f"{signer}: no events list")
    if len(events) > limit:
        raise refuse(InvalidInput(_("a batch holds at most %(n)s events; this one has %(got)s")
                                   % {"n": f"{limit:,}", "got": f"{len(events):,}"}, field="events"), reason=RejectReason.TOO_LARGE,
                      detail=f"{signer}: {len(events)} events")
    return events


@dataclass(frozen=True, slots=True)
class Rejection:
    """An event not stored: ``status`` is "rejected" (with a reason) or "duplicate" (already stored)."""

    index: int
    reason: str
    detail: str
    status: str = "rejected"

    def as_dict(self) -> dict:
        return {"index": self.index, "status": self.status, "reason": self.reason, "detail": self.detail}


@dataclass
class IngestResult:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    alarms: int = 0  # alarms and recoveries found by the rules
    problems: list[Rejection] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return sum(1 for p in self.problems if p.status == "rejected")


@dataclass(slots=True)
class _Event:
    """A well-formed event of a batch; ``index`` is its place in the batch. Also what the rules read as a
    ``rules.Reading`` (seq, ts, value, alarm)."""

    index: int
    device_id: str
    seq: int
    ts: datetime
    metric: str
    value: float
    alarm: bool
    device_pk: int = 0
    device_type: str = ""


def _timestamp(value) -> datetime | None:
    kind = type(value)
    if kind is int or kind is float:
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if kind is str and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else None
    return None


def _read_events(raw_events: list, offset: int, now: datetime, problems: list[Rejection],
                 default_device: str | None = None) -> list[_Event]:
    """The well-formed events; the others go to ``problems`` with the reason (index = offset + position). An event
    without a device_id is ``default_device``'s (the device that signed the batch)."""
    horizon = now + timedelta(seconds=settings.GRIDLOOP_SENSOR_MAX_CLOCK_SKEW_SECONDS)
    oldest = now - timedelta(days=settings.GRIDLOOP_SENSOR_RETENTION_DAYS)
    metric_ok, isfinite = _METRIC.fullmatch, math.isfinite
    metrics_seen: set[str] = set()  # a batch repeats a few metric names: check each once
    events = []
    for position, raw in enumerate(raw_events):
        index = offset + position
        why = None
        if type(raw) is not dict:
            why = _("an event must be a JSON object")
        else:
            device_id, seq = raw.get("device_id", default_device), raw.get("seq")
            metric, value = raw.get("metric"), raw.get("value")
            alarm = raw.get("alarm", False)
            ts = _timestamp(raw.get("ts"))
            if type(device_id) is not str or not 0 < len(device_id) <= 64:
                why = _("device_id must be the device's id (a string)")
            elif type(seq) is not int or not 0 <= seq <= MAX_SEQ:
                why = _("seq must be a whole number from 0 up, increasing per device")
            elif ts is None:
                why = _("ts must be Unix time in seconds or an ISO 8601 date-time with a UTC offset")
            elif type(metric) is not str or (metric not in metrics_seen and not metric_ok(metric)):
                why = _("metric must be 1–32 lower-case letters, digits or _ (starting with a letter)")
            else:
                metrics_seen.add(metric)
                if type(value) is int:  # (not bool: its type is bool)
                    value = float(value) if value.bit_length() <= 1000 else math.inf
                if type(value) is not float or not isfinite(value):
                    why = _("value must be a finite number")
                elif type(alarm) is not bool:
                    why = _("alarm must be true or false")
                elif ts > horizon:
                    problems.append(Rejection(index, RejectReason.FUTURE_TS,
                                              _("ts %(ts)s is ahead of the server's clock") % {"ts": ts.isoformat()}))
                    continue
                elif ts < oldest:
                    problems.append(Rejection(index, RejectReason.TOO_OLD, _("ts %(ts)s is older than the %(n)s-day retention")
                                              % {"ts": ts.isoformat(), "n": settings.GRIDLOOP_SENSOR_RETENTION_DAYS}))
                    continue
                else:
                    events.append(_Event(index, device_id, seq, ts, metric, value, alarm))
                    continue
        problems.append(Rejection(index, RejectReason.MALFORMED, why))
    return events


def events_from_message(topic: str, payload: bytes, *, subscription: str) -> tuple[list, str, str]:
    """The events of one MQTT message on ``topic`` (matching ``subscription``, whose "+" level is the device id):
    one event object, a list of them, or ``{"events": [...]}``; a missing device_id is the topic's. Returns (events,
    "", "") or ([], reject reason, why the message was refused)."""
    levels, pattern = topic.split("/"), subscription.split("/")
    device = levels[pattern.index("+")] if "+" in pattern and len(levels) == len(pattern) else ""
    if not device:
        return [], RejectReason.MALFORMED, _("topic %(topic)r does not match %(subscription)r") % {
            "topic": topic, "subscription": subscription}
    limit = settings.GRIDLOOP_SENSOR_MAX_BATCH
    if len(payload) > settings.GRIDLOOP_SENSOR_MAX_BODY_BYTES:
        return [], RejectReason.TOO_LARGE, _("a message of %(n)s bytes from %(device)s") % {
            "n": f"{len(payload):,}", "device": device}
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return [], RejectReason.MALFORMED, _("a message from %(device)s is not JSON") % {"device": device}
    events = document.get("events") if isinstance(document, dict) and "events" in document else document
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list) or not events:
        return [], RejectReason.MALFORMED, _("a message from %(device)s holds no events") % {"device": device}
    if len(events) > limit:
        return [], RejectReason.TOO_LARGE, _("a message from %(device)s holds %(got)s events (at most %(n)s)") % {
            "device": device, "got": f"{len(events):,}", "n": f"{limit:,}"}
    for event in events:
        if isinstance(event, dict):
            event.setdefault("device_id", device)
            if event["device_id"] != device:  # only the device itself publishes on its topic
                event["_topic_device"] = device
    return events, "", ""


def _authorize(events: list[_Event], signer: Signer | None, problems: list[Rejection],
               raw_events: list, offset: int) -> list[_Event]:
    """Keep the events of known, active devices that the signer may send for (resolving ``device_pk``)."""
    devices = known_devices({e.device_id for e in events})
    by_device = signer.device if signer is not None else None
    by_key = signer.key if signer is not None else None
    signer_device = by_device.pk if by_device is not None else None
    signer_key = by_key.pk if by_key is not None else None
    kept = []
    for event in events:
        device = devices.get(event.device_id)
        topic_device = raw_events[event.index - offset].get("_topic_device")
        if topic_device:
            problems.append(Rejection(event.index, RejectReason.NOT_AUTHORIZED,
                                      _("an event of %(device)s published on the topic of %(topic)s")
                                      % {"device": event.device_id, "topic": topic_device}))
            continue
        if device is None:
            problems.append(Rejection(event.index, RejectReason.UNKNOWN_DEVICE,
                                      _("unknown device %(device)r") % {"device": event.device_id}))
            continue
        pk, kind, active, key_pk = device
        if not active:
            problems.append(Rejection(event.index, RejectReason.INACTIVE_DEVICE,
                                      _("device %(device)s is deactivated") % {"device": event.device_id}))
        elif signer_device is not None and signer_device != pk:
            problems.append(Rejection(event.index, RejectReason.NOT_AUTHORIZED,
                                      _("the batch is signed by device %(signer)s; events of %(device)s need its own signature "
                                        "or its integration key")
                                      % {"signer": cast(SensorDevice, by_device).device_id, "device": event.device_id}))
        elif signer_key is not None and key_pk != signer_key:
            problems.append(Rejection(event.index, RejectReason.NOT_AUTHORIZED,
                                      _("device %(device)s is not linked to integration key %(key)s")
                                      % {"device": event.device_id, "key": cast(SensorIntegrationKey, by_key).key_id}))
        else:
            event.device_pk, event.device_type = pk, kind
            kept.append(event)
    return kept


def _insert_readings(events: list[_Event], now: datetime) -> set[tuple[int, int]]:
    """Store the events in one statement; returns the (device_pk, seq) actually inserted (not duplicates).
    Rows go in (device, seq) order, so concurrent batches wait on each other's keys in one global order."""
    table = SensorReading._meta.db_table
    if arrays_in_binary():
        sql = (f"INSERT INTO {table} (device_id, seq, ts, metric, value, alarm, received_at) "
               "SELECT u.d, u.s, u.t, u.m, u.v, u.a, %b FROM unnest(%b::bigint[], %b::bigint[], "
               "%b::timestamptz[], %b::varchar[], %b::float8[], %b::boolean[]) AS u(d, s, t, m, v, a) "
               "ON CONFLICT (device_id, seq) DO NOTHING RETURNING device_id, seq")
        params: list[Any] = [now, [e.device_pk for e in events], [e.seq for e in events], [e.ts for e in events],
                  [e.metric for e in events], [e.value for e in events], [e.alarm for e in events]]
        with array_cursor() as cursor:
            cursor.execute(sql, params)
            return set(cursor.fetchall())
    adapt = connection.ops.adapt_datetimefield_value
    received = adapt(now)
    inserted: set[tuple] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(events), 100):  # multi-row VALUES within every backend's parameter limit
            chunk = events[start:start + 100]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            params = []
            for e in chunk:
                params += [e.device_pk, e.seq, adapt(e.ts), e.metric, e.value, e.alarm, received]
            cursor.execute(f"INSERT INTO {table} (device_id, seq, ts, metric, value, alarm, received_at) "
                           f"VALUES {values} ON CONFLICT (device_id, seq) DO NOTHING RETURNING device_id, seq",
                           params)
            inserted.update(map(tuple, cursor.fetchall()))
    return inserted


def _condition(rule: SensorRule) -> rules.Condition:
    return rules.Condition(rule.comparison, rule.threshold, timedelta(seconds=rule.duration_seconds))


def _breach_q(rule: SensorRule) -> Q:
    q = Q(alarm=True)
    if rule.threshold is not None:
        q |= Q(**{f"value__{rule.comparison}": rule.threshold})
    return q


def _replay(rule: SensorRule, device_pk: int, new: Sequence[rules.Observation]
            ) -> tuple[rules.RunState, list[rules.Emit]]:
    """Evaluate late readings in ts order: replay the stored history of (device, metric) from the last
    non-breaching reading before the earliest new one (where the run state is known to be empty)."""
    new_seqs = {r.seq for r in new}
    history = SensorReading.objects.filter(device_id=device_pk, metric=rule.metric)
    anchor = (history.filter(ts__lt=new[0].ts).exclude(_breach_q(rule)).exclude(seq__in=new_seqs)
              .order_by("-ts", "-seq").values_list("ts", "seq").first())
    if anchor is not None:
        history = history.filter(ts__gte=anchor[0])
    readings = [rules.Reading(seq, ts, value, alarm) for seq, ts, value, alarm in
                history.order_by("ts", "seq").values_list("seq", "ts", "value", "alarm")]
    if anchor is not None:
        readings = [r for r in readings if (r.ts, r.seq) > anchor]
    return rules.emitted_by(_condition(rule), readings, new_seqs)


STATE_FIELDS = ["run_start", "run_fired", "last_ts", "last_seq"]


# Read on every batch with alarms: compiled once (config.compiled), lists as one parameter each.
_alarms_recorded_or_pending = CompiledQuery(
    lambda devices, rules_, seqs: SensorAlarm.objects.filter(Q(seq__any=seqs) | Q(processed_at__isnull=True),
                                                            device_id__any=devices, rule_id__any=rules_)
    .only("device_id", "rule_id", "kind", "seq", "processed_at").order_by(), list, list, list)


def _new_alarms(alarms: list[SensorAlarm]) -> tuple[list[SensorAlarm], set[tuple[int, int]]]:
    """The alarms not recorded yet (unique per device, rule, kind and seq: a reading stored again after retention
    purged it, or a replay that finds a recovery at an old reading), and — read by the same query — the (device,
    rule) pairs that still have alarms pending from before. Race-free under the locks of their rule states: alarms
    are only written by whoever holds them."""
    if not alarms:
        return [], set()
    rows = _alarms_recorded_or_pending(list({a.device_id for a in alarms}), list({a.rule_id for a in alarms}),
                                       list({a.seq for a in alarms}))
    recorded = {(a.device_id, a.rule_id, a.kind, a.seq) for a in rows}
    pending = {(a.device_id, a.rule_id) for a in rows if a.processed_at is None}
    return [a for a in alarms if (a.device_id, a.rule_id, a.kind, a.seq) not in recorded], pending


def _insert_alarms(alarms: list[SensorAlarm]) -> None:
    """Write new alarms as they stand: processed with the batch (so each row is written once, not inserted pending
    and updated right after) or pending."""
    rows_insert_many(alarms)


def _evaluate(events: list[_Event], now: datetime) -> tuple[dict, list[SensorAlarm], set[tuple[int, int]]]:
    """Run the rules over the newly stored events, under the locks of their rule states. Returns the locked states
    (with ``rule`` set; their evaluation fields changed, not saved), the new alarms found (not yet written) and the
    pairs among theirs with alarms pending from before."""
    by_device: dict[int, list[_Event]] = defaultdict(list)
    for event in events:
        by_device[event.device_pk].append(event)
    by_type = active_rules()
    in_order = attrgetter("ts", "seq")
    work: dict[tuple[int, int], tuple[SensorRule, list[_Event]]] = {}
    for device_pk, device_events in by_device.items():
        for rule in by_type.get(device_events[0].device_type, ()):
            metric = rule.metric
            readings = [e for e in device_events if e.metric == metric]
            if readings:
                readings.sort(key=in_order)
                work[(device_pk, rule.pk)] = (rule, readings)
    if not work:
        return {}, [], set()
    states = lock_states(sorted(work))
    alarms = []
    for key, (rule, readings) in work.items():
        row = states[key]
        row.rule = rule
        state = rules.RunState(row.run_start, row.run_fired, row.last_ts, row.last_seq)
        if state.is_before(readings[0]):
            state, emits = rules.evaluate(_condition(rule), state, readings)
        else:
            state, emits = _replay(rule, key[0], readings)
        row.run_start, row.run_fired, row.last_ts, row.last_seq = (state.run_start, state.run_fired, state.last_ts,
                                                                   state.last_seq)
        alarms += [SensorAlarm(device_id=key[0], rule_id=key[1], kind=e.kind, seq=e.reading.seq, ts=e.reading.ts,
                               value=e.reading.value, since=e.since, created_at=now) for e in emits]
    return states, *_new_alarms(alarms)


def sensor_events_ingest(*, events: list, source: str, signer: Signer | None = None,
                         rejected: list[Rejection] | None = None, now: datetime | None = None) -> IngestResult:
    """Store a batch of raw events (dicts), evaluate the rules, turn the alarms into case events and count what was
    turned away — in one transaction (module docstring). ``rejected``: events the caller already refused (e.g.
    unreadable MQTT messages), counted here. If turning the alarms into case events fails unexpectedly, the readings
    and the alarms are still stored (the alarms pending, for the beat task to take up)."""
    now = now or timezone.now()
    result = IngestResult(received=len(events) + len(rejected or []))
    problems = list(rejected or [])
    offset = len(problems)
    default_device = signer.device.device_id if signer is not None and signer.device is not None else None
    parsed = _authorize(_read_events(events, offset, now, problems, default_device), signer, problems, events, offset)
    unique, seen = [], set()
    for event in parsed:
        key = (event.device_pk, event.seq)
        if key in seen:
            problems.append(Rejection(event.index, RejectReason.DUPLICATE,
                                      f"{event.device_id} seq {event.seq} appears twice in the batch", "duplicate"))
        else:
            seen.add(key)
            unique.append(event)
    unique.sort(key=attrgetter("device_pk", "seq"))
    for attempt in range(DEADLOCK_RETRIES):
        try:
            with transaction.atomic():
                inserted = _insert_readings(unique, now) if unique else set()
                stored = [e for e in unique if (e.device_pk, e.seq) in inserted]
                duplicates = [Rejection(e.index, RejectReason.DUPLICATE,
                                        f"{e.device_id} seq {e.seq} was already received", "duplicate")
                              for e in unique if (e.device_pk, e.seq) not in inserted]
                states, alarms, pending = _evaluate(stored, now) if stored else ({}, [], set())
                fields = list(STATE_FIELDS)
                deferred: set[tuple[int, int]] = set()
                if alarms:
                    try:
                        with transaction.atomic():  # a savepoint: a failure here keeps the readings and alarms
                            failures, deferred = handle_alarms(states, alarms, now, open_cases=False,
                                                                pending=pending)
                        fields += ALARM_STATE_FIELDS
                    except OperationalError:
                        raise
                    except Exception:
                        log.exception("sensor alarms of a batch could not be processed now; the beat task will")
                        failures = {}
                        for alarm in alarms:  # all of them pending, as found
                            alarm.processed_at, alarm.outcome, alarm.case, alarm.detail = None, "", None, ""
                    _insert_alarms(alarms)
                    reject_count(source=IngestSource.RULES, counts=failures, now=now)
                rows_update_many(list(states.values()), fields, model=SensorRuleState)
                everything = problems + duplicates
                counts: dict[str, tuple[int, str]] = {}
                for reason, n in Counter(p.reason for p in everything).items():
                    counts[reason] = (n, next(p.detail for p in reversed(everything) if p.reason == reason))
                reject_count(source=source, counts=counts, now=now)
            break
        except OperationalError as exc:
            if not is_deadlock(exc) or attempt == DEADLOCK_RETRIES - 1 or connection.in_atomic_block:
                raise
            log.warning("sensor batch: %s; trying again", exc)
    for device_pk, rule_pk in sorted(deferred):  # alarms that open a case: now, each in its own transaction
        try:
            alarms_of_pair(device_pk, rule_pk)
        except Exception:  # stored and pending: the beat task takes them up
            log.exception("sensor alarms of device %s, rule %s: left to the beat task", device_pk, rule_pk)
    result.accepted = len(stored)
    result.alarms = len(alarms)
    result.duplicates = len(duplicates) + sum(1 for p in problems if p.status == "duplicate")
    result.problems = sorted(problems + duplicates, key=lambda p: p.index)
    return result

