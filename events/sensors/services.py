"""Writes for the sensor channel: the device registry, batch ingestion, alarms into case events, retention.

Ingestion of a batch (an HTTP request, or a bridge's worth of MQTT messages), in one transaction:

1. every event is checked (shape, known and active device, allowed for the signer); bad ones are rejected with a
   reason and counted, the rest go on;
2. one ``INSERT … ON CONFLICT (device, seq) DO NOTHING RETURNING`` stores them: what it does not return is a
   duplicate (a redelivery or a replay) and goes no further;
3. the new readings are evaluated per (device, rule) in (ts, seq) order from the locked rule state, in memory
   (events/sensors/rules.py); a reading older than what was already evaluated replays the stored history around it;
4. in a savepoint, alarms and recoveries for a (device, rule) whose case is open become events on that case's
   timeline (``events.services.case_signals``: an occurrence, or "recovered" plus an on-site check request when the
   rule says so); then what the rules found is written as ``SensorAlarm`` rows, processed or pending, and the
   reject counters are bumped.

An alarm that needs a new case is left pending with the rest of its pair's alarms and processed right after the
commit, one (device, rule) per transaction: the case is opened through ``events.services.case_report`` (channel
``sensor``, a system actor), which may join an open case of the same category nearby instead. Alarms left pending by
a crash, or by case work that failed, are taken up by the beat task (``sensor_alarms_process``).
"""

import json
import logging
import math
import re
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any, TypeGuard, cast

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from config.compiled import CompiledQuery
from config.csv_rows import csv_rows
from config.errors import DomainError, InvalidInput, PermissionDenied, Unprocessable
from config.rows import rows_insert_many, rows_update_many
from dispatch.outbox import Recipient, center_code, dispatchers_of, outbox_enqueue
from events.actors import Actor
from events.models import OPEN_STATES, Case, CaseState, Channel, FieldCheck, Urgency
from events.services import ReportInput, Signal, case_act, case_report, case_signals, cases_lock
from grids.models import Department, Region, Role, User
from grids.selectors import locate

from . import rules
from .models import (
    DEVICE_ID_PATTERN,
    METRIC_PATTERN,
    AlarmKind,
    AlarmOutcome,
    IngestSource,
    RejectReason,
    SensorAlarm,
    SensorDevice,
    SensorIntegrationKey,
    SensorReading,
    SensorRejectCount,
    SensorRule,
    SensorRuleState,
    SensorType,
)
from .signing import DEVICE_HEADER, KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_matches

log = logging.getLogger(__name__)

MAX_SEQ = 2**63 - 1
DEADLOCK_RETRIES = 3


# =====================================================================================================================
# Registry: devices and integration keys
# =====================================================================================================================
DEVICE_COLUMNS = ["device_id", "type", "lat", "lng", "department", "name", "address", "secret", "integration_key",
                  "active"]
REQUIRED_DEVICE_COLUMNS = ["device_id", "type", "lat", "lng", "department"]
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)
_METRIC = re.compile(METRIC_PATTERN)
OUTSIDE = gettext_noop("this point is outside the service area (no unit grid contains it)")


def _new_secret() -> str:
    return secrets.token_hex(32)


def _number(value, name: str, low: float, high: float, problems: list) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or not low <= number <= high:
        problems.append((name, _("must be a number from %(low)s to %(high)s") % {"low": f"{low:g}", "high": f"{high:g}"}))
        return None
    return number


def _device_values(data: Mapping, problems: list[tuple[str, str]]) -> dict | None:
    """Checked and completed device fields (grid located from lat/lng), or None with ``(field, why)`` problems."""
    before = len(problems)
    device_id = str(data.get("device_id") or "").strip()
    if not _DEVICE_ID.fullmatch(device_id):
        problems.append(("device_id", _("must be 1–64 letters, digits or _ . : - (starting with a letter or digit)")))
    kind = str(data.get("type") or "").strip()
    if kind not in SensorType.values:
        problems.append(("type", _("must be one of %(choices)s") % {"choices": ", ".join(SensorType.values)}))
    lat = _number(data.get("lat"), "lat", -90, 90, problems)
    lng = _number(data.get("lng"), "lng", -180, 180, problems)
    grid = None
    if lat is not None and lng is not None:
        entry = locate(lat, lng)
        if entry is None:
            problems.append(("lat", _(OUTSIDE)))
        else:
            grid = Region.objects.defer("boundary").get(pk=entry.region_id)
    department = data.get("department")
    if not isinstance(department, Department):
        code = str(department or "").strip()
        department = Department.objects.filter(code=code).first() if code else None
        if department is None:
            problems.append(("department", _("no department with code %(code)r") % {"code": code}))
    if department is not None and not department.active:
        problems.append(("department", _("department %(code)s is not active") % {"code": department.code}))
    key = data.get("integration_key")
    if key not in (None, "") and not isinstance(key, SensorIntegrationKey):
        key = SensorIntegrationKey.objects.filter(key_id=str(key).strip()).first()
        if key is None:
            problems.append(("integration_key", _("no integration key %(key)r") % {"key": data.get("integration_key")}))
    active = data.get("active", True)
    if isinstance(active, str):
        active = {"": True, "1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}.get(
            active.strip().lower())
        if active is None:
            problems.append(("active", _("must be true or false")))
    secret = str(data.get("secret") or "").strip()
    if secret and not 16 <= len(secret) <= 128:
        problems.append(("secret", _("must be 16–128 characters (leave it empty to have one made)")))
    for name, limit in (("name", 100), ("address", 300)):
        if len(str(data.get(name) or "")) > limit:
            problems.append((name, _("may be at most %(n)s characters") % {"n": limit}))
    if len(problems) > before:
        return None
    return {
        "device_id": device_id, "type": kind, "lat": lat, "lng": lng, "grid": grid,
        "region_code": cast(Region, grid).code,
        "department": department, "integration_key": key or None, "active": bool(active), "secret": secret,
        "name": str(data.get("name") or "").strip(), "address": str(data.get("address") or "").strip(),
    }


def device_check(data: Mapping) -> dict:
    """The checked values of a device registration, or the first problem as a DomainError naming the field."""
    problems: list[tuple[str, str]] = []
    values = _device_values(data, problems)
    if values is None:
        name, why = problems[0]
        error = Unprocessable if why == _(OUTSIDE) else InvalidInput
        raise error(f"{name}: {why}", field=name)
    return values


def _device_save(values: dict, now: datetime) -> tuple[SensorDevice, bool, str]:
    """Create or update (by device_id). A new device without a secret gets one; an existing one keeps its own
    unless a new one is given. Returns (device, created, the generated secret or "")."""
    values = dict(values)
    given = values.pop("secret")
    device = SensorDevice.objects.select_for_update().filter(device_id=values["device_id"]).first()
    generated = ""
    if device is None:
        generated = "" if given else _new_secret()
        device = SensorDevice(**values, secret=given or generated, registered_at=now, updated_at=now)
        device.save()
        return device, True, generated
    for name, value in values.items():
        setattr(device, name, value)
    if given:
        device.secret = given
    device.updated_at = now
    device.save()
    sensor_config_changed()
    return device, False, generated


def device_register(**data) -> tuple[SensorDevice, bool, str]:
    """Register a sensor (or update the one with this device_id): device_id, type, lat, lng, department (a
    Department or its code), and optionally name, address, secret, integration_key, active. The unit grid is located
    from lat/lng (422 outside the service area). Returns (device, created, the secret made for it or "")."""
    values = device_check(data)
    with transaction.atomic():
        return _device_save(values, timezone.now())


class DeviceImportError(InvalidInput):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("sensors not imported, nothing was written:\n" + "\n".join(problems))


@dataclass
class DeviceImportSummary:
    created: int = 0
    updated: int = 0
    secrets: dict = field(default_factory=dict)  # device_id → generated secret, for the new devices without one


def devices_import(*, path: Path | str) -> DeviceImportSummary:
    """Register or update sensors from a UTF-8 CSV with the columns DEVICE_COLUMNS (the first five required).
    All-or-nothing: every problem names its line and field, and then nothing is written."""
    rows = csv_rows(path, required=REQUIRED_DEVICE_COLUMNS, error=DeviceImportError)
    problems: list[str] = []
    checked: dict[str, tuple[int, dict]] = {}
    for line, row in rows:
        found: list[tuple[str, str]] = []
        values = _device_values(row, found)
        for name, why in found:
            problems.append(f"line {line}, field {name}: {why} (got {(row.get(name) or '')!r})")
        if values is None:
            continue
        if values["device_id"] in checked:
            problems.append(f"line {line}, field device_id: {values['device_id']} is also on line "
                            f"{checked[values['device_id']][0]}")
            continue
        checked[values["device_id"]] = (line, values)
    if not rows:
        problems.append("the file has no sensor rows")
    if problems:
        raise DeviceImportError(problems)
    summary = DeviceImportSummary()
    now = timezone.now()
    with transaction.atomic():
        for _line, values in checked.values():
            device, created, generated = _device_save(values, now)
            summary.created += created
            summary.updated += not created
            if generated:
                summary.secrets[device.device_id] = generated
    return summary


@transaction.atomic
def device_secret_rotate(*, device: SensorDevice) -> str:
    """Give the device a new secret (the old one stops working at once) and return it."""
    device.secret = _new_secret()
    device.updated_at = timezone.now()
    device.save(update_fields=["secret", "updated_at"])
    return device.secret


@transaction.atomic
def integration_key_create(*, name: str) -> SensorIntegrationKey:
    """A new integration key with a generated id and secret; link devices to it to let it sign their batches."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput(_("name the integrator (1–100 characters)"), field="name")
    return SensorIntegrationKey.objects.create(key_id=f"ik_{secrets.token_hex(8)}", name=name, secret=_new_secret(),
                                               created_at=timezone.now())


# =====================================================================================================================
# Per-process copies of the rules and the device registry
# =====================================================================================================================
# Every batch needs the active rules and, per device, its pk, type, active flag and integration key. A process keeps
# copies and reads them again at most every GRIDLOOP_CONFIG_CHECK_SECONDS (as dispatch.sla does the SLA policies):
# a rule or device changed in this process counts at once; one changed in another process (a deactivated device,
# a device moved to another integration key, a rule switched off) counts there within that many seconds. Signatures
# are always checked against the database (a rotated secret or a deactivated signer is refused at once).
_config_cache: dict = {}  # {"rules": (monotonic time read, {type: [SensorRule]}), "devices": (time started, {id: row}),
#                           "device_rows": (time started, {pk: SensorDevice})}


def sensor_config_invalidate() -> None:
    """Forget this process's copies of the sensor rules and devices."""
    _config_cache.clear()


def sensor_config_changed() -> None:
    """Call after changing sensor rules or devices: this process reads them again now and once more after the
    commit (so that a batch running meanwhile cannot keep the old rows)."""
    sensor_config_invalidate()
    transaction.on_commit(sensor_config_invalidate)


def _fresh(entry: tuple | None, now: float) -> TypeGuard[tuple]:
    return entry is not None and now - entry[0] < settings.GRIDLOOP_CONFIG_CHECK_SECONDS


def _process_copy(name: str) -> dict:
    """This process's copy ``name`` (filled as needed by the caller), started afresh when older than the interval."""
    now = time.monotonic()
    entry = _config_cache.get(name)
    if not _fresh(entry, now):
        entry = _config_cache[name] = (now, {})
    return entry[1]


def _active_rules() -> dict[str, list[SensorRule]]:
    """The active rules (with their category) by device type."""
    now = time.monotonic()
    entry = _config_cache.get("rules")
    if not _fresh(entry, now):
        by_type: dict[str, list[SensorRule]] = defaultdict(list)
        for rule in SensorRule.objects.filter(active=True).select_related("category"):
            by_type[rule.device_type].append(rule)
        entry = (now, dict(by_type))
        _config_cache["rules"] = entry
    return entry[1]


def _devices(device_ids: set[str]) -> dict[str, tuple[int, str, bool, int | None]]:
    """``device_id → (pk, type, active, integration key pk)`` for (at least) the registered ones of ``device_ids``.
    The copy is dropped as a whole every GRIDLOOP_CONFIG_CHECK_SECONDS; unknown ids are looked up every time."""
    known = _process_copy("devices")
    missing = device_ids - known.keys()
    if missing:
        known.update({row[0]: row[1:] for row in SensorDevice.objects.filter(device_id__in=missing).values_list(
            "device_id", "id", "type", "active", "integration_key_id")})
    return known


def _device_rows(pks: set[int]) -> dict[int, SensorDevice]:
    """The devices (model instances, for turning their alarms into case reports) by pk, from the same kind of
    per-process copy (registered ones read when first needed)."""
    known = _process_copy("device_rows")
    missing = [pk for pk in pks if pk not in known]
    if missing:
        known.update({device.pk: device for device in _devices_by_pk(missing)})
    return {pk: known[pk] for pk in pks if pk in known}


# =====================================================================================================================
# Reject counters
# =====================================================================================================================
def reject_count(*, source: str, counts: Mapping[str, tuple[int, str]], now: datetime | None = None) -> None:
    """Add ``{reason: (n, last detail)}`` to today's (UTC) counters, in one upsert per reason."""
    if not counts:
        return
    now = now or timezone.now()
    table = SensorRejectCount._meta.db_table
    sql = (f"INSERT INTO {table} (day, source, reason, count, last_detail, last_at) VALUES (%s, %s, %s, %s, %s, %s) "
           f"ON CONFLICT (day, source, reason) DO UPDATE SET count = {table}.count + excluded.count, "
           "last_detail = excluded.last_detail, last_at = excluded.last_at")
    ops = connection.ops
    day = ops.adapt_datefield_value(now.astimezone(UTC).date())
    at = ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        for reason in sorted(counts):  # a fixed order: concurrent batches never wait on each other in a cycle
            n, detail = counts[reason]
            cursor.execute(sql, [day, source, reason, n, detail[:300], at])


def _refuse(error: DomainError, *, reason: str, detail: str = "", source: str = IngestSource.HTTP) -> DomainError:
    """Count a request refused as a whole, and hand back the error to raise."""
    reject_count(source=source, counts={reason: (1, detail or error.message)})
    return error


# =====================================================================================================================
# Ingestion
# =====================================================================================================================
@dataclass(frozen=True)
class Signer:
    """Who signed an HTTP batch: a device (for its own events) or an integration key (for its devices)."""

    device: SensorDevice | None = None
    key: SensorIntegrationKey | None = None

    def __str__(self):
        if self.device:
            return f"device {self.device.device_id}"
        return f"key {cast(SensorIntegrationKey, self.key).key_id}"


# Read on every HTTP batch (always from the database: a rotated secret or a deactivated signer counts at once).
_device_by_id = CompiledQuery(lambda device_id: SensorDevice.objects.filter(device_id=device_id), str)
_key_by_id = CompiledQuery(lambda key_id: SensorIntegrationKey.objects.filter(key_id=key_id), str)
_UNKNOWN_SIGNER_SECRET = secrets.token_hex(32)
SIGNER_REFUSED = gettext_noop(
    "signature refused: the %(device)s or %(key)s must name an active device or integration key, and the signature "
    "must be the hex HMAC-SHA256 of '<timestamp>.<body>' with its secret")


def sensor_signer_check(*, headers: Mapping, body: bytes, now: datetime | None = None) -> Signer:
    """Check the signature headers of an HTTP batch (events/sensors/signing.py); 400 for missing or malformed
    headers, 403 for a stale timestamp, and one and the same 403 for an unknown or deactivated signer or a wrong
    signature. Every refusal is counted with its own reason."""
    now = now or timezone.now()
    device_id = (headers.get(DEVICE_HEADER) or "").strip()
    key_id = (headers.get(KEY_HEADER) or "").strip()
    stamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
    given = (headers.get(SIGNATURE_HEADER) or "").strip()
    if bool(device_id) == bool(key_id):
        raise _refuse(InvalidInput(_("send exactly one of the headers %(device)s or %(key)s")
                                   % {"device": DEVICE_HEADER, "key": KEY_HEADER},
                                   field=DEVICE_HEADER), reason=RejectReason.BAD_SIGNATURE)
    if not given:
        raise _refuse(InvalidInput(_("the header %(header)s is missing") % {"header": SIGNATURE_HEADER},
                                   field=SIGNATURE_HEADER),
                      reason=RejectReason.BAD_SIGNATURE)
    if not stamp.isdigit() or len(stamp) > 12:
        raise _refuse(InvalidInput(_("the header %(header)s must be Unix time in whole seconds")
                                   % {"header": TIMESTAMP_HEADER}, field=TIMESTAMP_HEADER), reason=RejectReason.STALE)
    max_age = settings.GRIDLOOP_SENSOR_SIGNATURE_MAX_AGE_SECONDS
    if abs(now.timestamp() - int(stamp)) > max_age:
        raise _refuse(PermissionDenied(_("the signature timestamp %(stamp)s is more than %(n)s seconds away from "
                                         "the server's clock (%(now)s); sign with the current time")
                                       % {"stamp": stamp, "n": max_age, "now": int(now.timestamp())}),
                      reason=RejectReason.STALE)
    # Who signed and why it is refused are kept apart from what the client hears: an unknown or deactivated device or
    # key and a wrong signature get the same 403 (no enumeration of device ids), and an HMAC is computed for every
    # one of them (a throwaway secret for an unknown id) so the time taken does not tell them apart either.
    reason, detail, signer = "", "", None
    if device_id:
        found = _device_by_id(device_id)
        device = found[0] if found else None
        if device is None:
            reason, detail = RejectReason.UNKNOWN_DEVICE, f"unknown device {device_id!r}"
        elif not device.active:
            reason, detail = RejectReason.INACTIVE_DEVICE, f"device {device_id} is deactivated"
        else:
            signer = Signer(device=device)
        secret = device.secret if device is not None else _UNKNOWN_SIGNER_SECRET
    else:
        found = _key_by_id(key_id)
        key = found[0] if found else None
        if key is None or not key.active:
            reason, detail = RejectReason.UNKNOWN_KEY, f"unknown or deactivated integration key {key_id!r}"
        else:
            signer = Signer(key=key)
        secret = key.secret if key is not None else _UNKNOWN_SIGNER_SECRET
    matches = signature_matches(secret, stamp, body, given)
    if not reason and not matches:
        reason, detail = RejectReason.BAD_SIGNATURE, f"bad signature for {signer}"
    if reason:
        raise _refuse(PermissionDenied(_(SIGNER_REFUSED) % {"device": DEVICE_HEADER, "key": KEY_HEADER}),
                      reason=reason, detail=detail)
    assert signer is not None  # (no reason to refuse: a device or key was found)
    return signer


def sensor_batch_events(body: bytes, *, signer: Signer | None = None) -> list:
    """The events of an HTTP batch body ``{"events": [...]}`` (1 to GRIDLOOP_SENSOR_MAX_BATCH of them)."""
    limit = settings.GRIDLOOP_SENSOR_MAX_BATCH
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: "[" × 5000
        raise _refuse(InvalidInput(_('the body must be JSON like {"events": [...]}: %(problem)s') % {"problem": exc},
                                   field="events"),
                      reason=RejectReason.MALFORMED, detail=f"{signer}: body is not JSON") from exc
    events = document.get("events") if isinstance(document, dict) else None
    if not isinstance(events, list) or not events:
        raise _refuse(InvalidInput(_('the body must be a JSON object with a non-empty list "events"'), field="events"),
                      reason=RejectReason.MALFORMED, detail=f"{signer}: no events list")
    if len(events) > limit:
        raise _refuse(InvalidInput(_("a batch holds at most %(n)s events; this one has %(got)s")
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
    devices = _devices({e.device_id for e in events})
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


def _cursor(*, binary_rows: bool = False):
    """Django's cursor (its queries logged and seen by execute wrappers like any other). On PostgreSQL the statements
    send arrays in binary (``%b``: a third of the time of rendering 7,000 literals); with ``binary_rows``, and where
    parameters are bound on the server (DB_SERVER_SIDE_BINDING, the default), rows come back in binary too (no text
    dates to parse)."""
    cursor = connection.cursor()
    if binary_rows and connection.features.uses_server_side_binding:
        from psycopg.pq import Format

        cursor.cursor.format = Format.BINARY  # (psycopg 3's cursor under Django's wrapper: the format of its results)
    return cursor


def _insert_readings(events: list[_Event], now: datetime) -> set[tuple[int, int]]:
    """Store the events in one statement; returns the (device_pk, seq) actually inserted (not duplicates).
    Rows go in (device, seq) order, so concurrent batches wait on each other's keys in one global order."""
    table = SensorReading._meta.db_table
    if connection.vendor == "postgresql":
        sql = (f"INSERT INTO {table} (device_id, seq, ts, metric, value, alarm, received_at) "
               "SELECT u.d, u.s, u.t, u.m, u.v, u.a, %b FROM unnest(%b::bigint[], %b::bigint[], "
               "%b::timestamptz[], %b::varchar[], %b::float8[], %b::boolean[]) AS u(d, s, t, m, v, a) "
               "ON CONFLICT (device_id, seq) DO NOTHING RETURNING device_id, seq")
        params: list[Any] = [now, [e.device_pk for e in events], [e.seq for e in events], [e.ts for e in events],
                  [e.metric for e in events], [e.value for e in events], [e.alarm for e in events]]
        with _cursor() as cursor:
            cursor.execute(sql, params)
            return set(cursor.fetchall())
    adapt = connection.ops.adapt_datetimefield_value
    received = adapt(now)
    inserted: set[tuple] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(events), 100):  # SQLite: multi-row VALUES within its parameter limit
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


STATE_COLUMNS = ["id", "device_id", "rule_id", "run_start", "run_fired", "last_ts", "last_seq", "case_id",
                 "occurrences", "verify_pending"]


@dataclass(slots=True)
class _RuleState:
    """A (device, rule) state as read under its lock, in plain values: a batch touches hundreds of them and a model
    instance costs several times more to make. The few pairs with alarms become model instances (``as_model``)."""

    pk: int
    device_id: int
    rule_id: int
    run_start: datetime | None
    run_fired: bool
    last_ts: datetime | None
    last_seq: int | None
    case_id: int | None
    occurrences: int
    verify_pending: bool
    rule: SensorRule | None = None

    def as_model(self) -> SensorRuleState:
        return SensorRuleState(id=self.pk, device_id=self.device_id, rule=self.rule, run_start=self.run_start,
                               run_fired=self.run_fired, last_ts=self.last_ts, last_seq=self.last_seq,
                               case_id=self.case_id, occurrences=self.occurrences, verify_pending=self.verify_pending)


def _lock_states(pairs: list[tuple[int, int]]) -> dict[tuple[int, int], _RuleState]:
    """Lock the rule states of (device_pk, rule_pk) pairs, in id order, creating the missing ones."""
    devices, rule_ids = {d for d, _r in pairs}, {r for _d, r in pairs}
    wanted = set(pairs)

    def locked():
        if connection.vendor == "postgresql":  # arrays bound in binary, rows read in binary (no text dates to parse)
            with _cursor(binary_rows=True) as cursor:
                cursor.execute(f"SELECT {', '.join(STATE_COLUMNS)} FROM {SensorRuleState._meta.db_table} "
                               "WHERE device_id = ANY(%b) AND rule_id = ANY(%b) ORDER BY id FOR UPDATE",
                               [sorted(devices), sorted(rule_ids)])
                rows = cursor.fetchall()
        else:
            rows = (SensorRuleState.objects.select_for_update().filter(device_id__in=devices, rule_id__in=rule_ids)
                    .order_by("id").values_list(*STATE_COLUMNS))
        return {(row[1], row[2]): _RuleState(*row) for row in rows if (row[1], row[2]) in wanted}

    states = locked()
    if len(states) < len(wanted):
        SensorRuleState.objects.bulk_create(
            [SensorRuleState(device_id=d, rule_id=r) for d, r in sorted(wanted - set(states))], ignore_conflicts=True)
        states = locked()
    return states


STATE_FIELDS = ["run_start", "run_fired", "last_ts", "last_seq"]


# Read on every batch with alarms: compiled once (config.compiled), lists as one parameter each.
_alarms_recorded_or_pending = CompiledQuery(
    lambda devices, rules_, seqs: SensorAlarm.objects.filter(Q(seq__any=seqs) | Q(processed_at__isnull=True),
                                                            device_id__any=devices, rule_id__any=rules_)
    .only("device_id", "rule_id", "kind", "seq", "processed_at").order_by(), list, list, list)
_pending_alarms = CompiledQuery(
    lambda devices, rules_: SensorAlarm.objects.filter(device_id__any=devices, rule_id__any=rules_,
                                                      processed_at__isnull=True).only("device_id", "rule_id")
    .order_by(), list, list)
_devices_by_pk = CompiledQuery(lambda ids: SensorDevice.objects.filter(pk__any=ids), list)


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
    active_rules = _active_rules()
    in_order = attrgetter("ts", "seq")
    work: dict[tuple[int, int], tuple[SensorRule, list[_Event]]] = {}
    for device_pk, device_events in by_device.items():
        for rule in active_rules.get(device_events[0].device_type, ()):
            metric = rule.metric
            readings = [e for e in device_events if e.metric == metric]
            if readings:
                readings.sort(key=in_order)
                work[(device_pk, rule.pk)] = (rule, readings)
    if not work:
        return {}, [], set()
    states = _lock_states(sorted(work))
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


def _is_deadlock(exc: OperationalError) -> bool:
    return getattr(getattr(exc, "__cause__", None), "sqlstate", None) in ("40P01", "40001")


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
                            failures, deferred = _handle_alarms(states, alarms, now, open_cases=False,
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
            if not _is_deadlock(exc) or attempt == DEADLOCK_RETRIES - 1 or connection.in_atomic_block:
                raise
            log.warning("sensor batch: %s; trying again", exc)
    for device_pk, rule_pk in sorted(deferred):  # alarms that open a case: now, each in its own transaction
        try:
            _alarms_of_pair(device_pk, rule_pk)
        except Exception:  # stored and pending: the beat task takes them up
            log.exception("sensor alarms of device %s, rule %s: left to the beat task", device_pk, rule_pk)
    result.accepted = len(stored)
    result.alarms = len(alarms)
    result.duplicates = len(duplicates) + sum(1 for p in problems if p.status == "duplicate")
    result.problems = sorted(problems + duplicates, key=lambda p: p.index)
    return result


# =====================================================================================================================
# Alarms → cases
# =====================================================================================================================
def _actor(device: SensorDevice) -> Actor:
    return Actor.system(f"sensor:{device.device_id}")


def _open_case(state: SensorRuleState) -> Case | None:
    """The open case of the (device, rule), following merges (a merged case's alarms go to the case it joined);
    every case returned is locked by this transaction."""
    case = state.case
    for _hop in range(10):
        if case is None or case.state in OPEN_STATES:
            break
        if case.state != CaseState.MERGED or case.merged_into_id is None:
            return None
        case = Case.objects.select_for_update(of=("self",), no_key=True).get(pk=case.merged_into_id)
    if case is not None and case.state in OPEN_STATES:
        state.case = case
        return case
    return None


def _alarm_payload(alarm: SensorAlarm, device: SensorDevice, rule: SensorRule) -> dict:
    return {"device": device.device_id, "rule": rule.pk, "metric": rule.metric, "seq": alarm.seq,
            "ts": alarm.ts.isoformat(), "value": alarm.value,
            "since": alarm.since.isoformat() if alarm.since else None}


def _describe(alarm: SensorAlarm, device: SensorDevice, rule: SensorRule) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return _("Sensor %(device)s (%(type)s) raised \"%(rule)s\": %(metric)s = %(value)g at %(ts)s") % {
            "device": device.name or device.device_id, "type": device.get_type_display(), "rule": rule.name,
            "metric": rule.metric, "value": alarm.value,
            "ts": timezone.localtime(alarm.ts).strftime("%Y-%m-%d %H:%M:%S")}


class _Signals:
    """Signals (re-alarms, recoveries) gathered during one pass and written together by case_signals; written out
    before anything else touches a case, so each case's timeline keeps the order of its alarms."""

    def __init__(self, now: datetime):
        self.now = now
        self.pending: list[Signal] = []

    def add(self, case: Case, kind: str, device: SensorDevice, payload: dict) -> None:
        self.pending.append(Signal(case.pk, kind, _actor(device), payload))

    def flush(self) -> None:
        if self.pending:
            events = case_signals(signals=self.pending, now=self.now)
            missing = [s for s, e in zip(self.pending, events, strict=True) if e is None]
            self.pending = []
            if missing:  # cannot happen while the cases are locked by this pass; never silently
                raise RuntimeError(f"signals for cases no longer open: {missing}")


def _on_alarm(alarm: SensorAlarm, state: SensorRuleState, signals: _Signals) -> None:
    device, rule = state.device, state.rule
    case = _open_case(state)
    if case is not None:
        state.occurrences += 1
        signals.add(case, "sensor_alarm", device, {**_alarm_payload(alarm, device, rule),
                                                   "occurrence": state.occurrences})
        alarm.case, alarm.outcome = case, AlarmOutcome.OCCURRENCE
    else:
        signals.flush()
        data = ReportInput(
            channel=Channel.SENSOR, description=_describe(alarm, device, rule), lat=device.lat, lng=device.lng,
            address=device.address or device.name, category=rule.category, urgency=rule.urgency or Urgency.URGENT,
            raw_payload=_alarm_payload(alarm, device, rule), idempotency_key=f"sensor-alarm:{alarm.pk}",
        )
        with transaction.atomic():  # a savepoint: a report refused (DomainError) leaves nothing behind
            case, _created = case_report(actor=_actor(device), data=data)
        # As it stands in the database: opened by this transaction, or joined under the lock case_report took.
        state.case, state.occurrences = case, 1
        alarm.case, alarm.outcome = case, AlarmOutcome.OPENED
    state.verify_pending = False


_grid_workers_of = CompiledQuery(
    lambda grid: User.objects.filter(is_active=True, roles__role=Role.GRID_WORKER, roles__region_id=grid)
    .distinct().order_by("id"), int)
_case_by_pk = CompiledQuery(lambda pk: Case.objects.filter(pk=pk), int)


def _grid_workers(case: Case) -> list[User]:
    return [] if case.grid_id is None else list(_grid_workers_of(case.grid_id))


def _request_check(case: Case, device: SensorDevice, now: datetime) -> None:
    """Ask for an on-site check after a recovery: a case still awaiting acceptance gets the 核实 request of the
    workflow (request_field_check); in any case the grid workers (else the owning center's dispatchers) get an inbox
    message through the outbox."""
    case = _case_by_pk(case.pk)[0]  # as the recovery just written left it
    event_seq = case.last_seq
    if case.state == CaseState.REPORTED and case.grid_id and case.field_check_status != FieldCheck.REQUESTED:
        case = case_act(case=case.number, action="request_field_check", actor=_actor(device),
                        inputs={"note": f"sensor {device.device_id} back to normal: please check on site"})
    users = _grid_workers(case) or dispatchers_of(center_code(case.region_code, case.level))
    if not users:
        return
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Sensor %(device)s is back to normal: please check case %(number)s on site") % {
            "device": device.name or device.device_id, "number": case.number}
        body = case.address or case.description[:100]
    outbox_enqueue(kind="sensor_check", case=case, event_seq=event_seq, recipients=[Recipient.inbox(u) for u in users],
                   title=title, body=body, payload={"case": case.number, "device": device.device_id}, now=now)


def _on_recovered(alarm: SensorAlarm, state: SensorRuleState, signals: _Signals) -> None:
    device, rule = state.device, state.rule
    case = _open_case(state)
    if case is None:
        alarm.outcome = AlarmOutcome.NO_CASE
        return
    check_due = case.state == CaseState.REPORTED and case.field_check_status == FieldCheck.REQUESTED
    ask = rule.verify_on_recovery and not state.verify_pending and not check_due
    signals.add(case, "sensor_recovered", device, {**_alarm_payload(alarm, device, rule), "check_requested": ask})
    alarm.case, alarm.outcome = case, AlarmOutcome.RECOVERED
    if ask:
        signals.flush()
        try:
            with transaction.atomic():
                _request_check(case, device, signals.now)
        except DomainError as exc:  # the recovery stays recorded; say why no check was asked for
            alarm.detail = f"on-site check not requested: {exc.message}"[:500]
            log.warning("sensor %s: %s", device.device_id, alarm.detail)
        else:
            state.verify_pending = True


ALARM_STATE_FIELDS = ["case", "occurrences", "verify_pending"]
# What turning alarms into case events reads of the cases (_open_case, _on_recovered; signals: events.services).
ALARM_CASE_COLUMNS = ("id", "state", "merged_into_id", "field_check_status")
ALARM_FIELDS = ["processed_at", "outcome", "case", "detail"]


def _handle_alarms(states: dict, alarms: list[SensorAlarm], now: datetime, *, open_cases: bool,
                   pending: set[tuple[int, int]] | None = None) -> tuple[dict[str, tuple[int, str]], set[tuple[int, int]]]:
    """Turn alarms into case events in (ts, seq) order. The caller holds the locks of ``states`` (``_RuleState``
    keyed by (device_pk, rule_pk), with ``rule`` set) and saves their ALARM_STATE_FIELDS after; the states of the
    pairs with alarms are replaced there by SensorRuleState instances (with device and case). The cases the alarms
    go to are locked here in id order, right after the states, so two batches whose sensors share a case (a joined
    duplicate) wait for each other instead of deadlocking.

    Without ``open_cases`` (a batch's own transaction), an alarm that needs a new case is left pending with the
    rest of its pair's alarms: opening a case takes the day's case-number row and may join another sensor's case,
    locks that the batch must not take after its own (``_alarms_of_pair`` does it right after the commit, one pair per
    transaction). The alarms processed get their processed_at, outcome, case and detail, for the caller to write.
    Returns the failures to count and the pairs left pending."""
    devices = _device_rows({a.device_id for a in alarms})
    for key in {(a.device_id, a.rule_id) for a in alarms}:
        states[key] = states[key].as_model()
    involved = [states[(a.device_id, a.rule_id)] for a in alarms]
    cases = cases_lock({s.case_id for s in involved if s.case_id}, only=ALARM_CASE_COLUMNS)
    for state in involved:
        state.device = devices[state.device_id]
        state.case = cases.get(state.case_id)
    failures: dict[str, tuple[int, str]] = {}
    deferred: set[tuple[int, int]] = set()
    if not open_cases:  # a pair with alarms still pending from before keeps its order: these wait behind them
        pairs = {(a.device_id, a.rule_id) for a in alarms}
        if pending is None:  # (``pending``: those pairs, as the caller read them with the alarms already recorded)
            pending = {(a.device_id, a.rule_id) for a in _pending_alarms(list({d for d, _r in pairs}),
                                                                        list({r for _d, r in pairs}))}
        deferred = pending & pairs
    signals = _Signals(now)
    for alarm in sorted(alarms, key=lambda a: (a.ts, a.seq, a.pk or 0)):  # (a batch's new alarms: in found order)
        key = (alarm.device_id, alarm.rule_id)
        state = states[key]
        if key in deferred or (not open_cases and alarm.kind == AlarmKind.ALARM and _open_case(state) is None):
            deferred.add(key)
            continue
        try:
            (_on_alarm if alarm.kind == AlarmKind.ALARM else _on_recovered)(alarm, state, signals)
        except DomainError as exc:
            alarm.outcome, alarm.detail = AlarmOutcome.FAILED, exc.message[:500]
            n, _last = failures.get(RejectReason.CASE_FAILED, (0, ""))
            failures[RejectReason.CASE_FAILED] = (n + 1, f"{state.device.device_id} seq {alarm.seq}: {exc.message}")
            log.warning("sensor %s %s seq %s: %s", state.device.device_id, alarm.kind, alarm.seq, exc.message)
        alarm.processed_at = now
    signals.flush()
    return failures, deferred


_pending_alarms_of_pair = CompiledQuery(
    lambda device, rule: SensorAlarm.objects.filter(device_id=device, rule_id=rule, processed_at__isnull=True)
    .order_by(), int, int)


def _rule(pk: int) -> SensorRule:
    """The rule (with its category): the cached copy of an active one (as the batches evaluate with), else read."""
    for rule in (r for by_type in _active_rules().values() for r in by_type):
        if rule.pk == pk:
            return rule
    return SensorRule.objects.select_related("category").get(pk=pk)


def _alarms_of_pair(device_pk: int, rule_pk: int) -> int:
    """Process the pending alarms of one (device, rule) in a transaction of their own, opening a case if needed.
    Returns how many were processed."""
    for attempt in range(DEADLOCK_RETRIES):
        try:
            with transaction.atomic():
                now = timezone.now()
                states = _lock_states([(device_pk, rule_pk)])
                states[(device_pk, rule_pk)].rule = _rule(rule_pk)
                alarms = list(_pending_alarms_of_pair(device_pk, rule_pk))
                if not alarms:
                    return 0
                failures, _ = _handle_alarms(states, alarms, now, open_cases=True)
                rows_update_many(alarms, ALARM_FIELDS)
                rows_update_many(list(states.values()), ALARM_STATE_FIELDS, model=SensorRuleState)
                reject_count(source=IngestSource.RULES, counts=failures, now=now)
            return len(alarms)
        except OperationalError as exc:  # two pairs whose sensors share a case, at the same moment
            if not _is_deadlock(exc) or attempt == DEADLOCK_RETRIES - 1 or connection.in_atomic_block:
                raise
            log.warning("sensor alarms: %s; trying again", exc)
    return 0


def sensor_alarms_process(*, before: datetime | None = None, limit: int = 200) -> int:
    """Alarms left pending: those that needed a new case (done right after their batch, but its process may have
    died) or whose batch's case work failed. For the (device, rule) pairs with an alarm pending since before
    ``before``, one pair per transaction. Returns how many alarms were processed (the beat task calls it until 0)."""
    pending = SensorAlarm.objects.filter(processed_at__isnull=True)
    if before is not None:
        pending = pending.filter(created_at__lt=before)
    pairs = sorted(set(pending.order_by("created_at").values_list("device_id", "rule_id")[:limit]))
    return sum(_alarms_of_pair(device_pk, rule_pk) for device_pk, rule_pk in pairs)


# =====================================================================================================================
# Retention
# =====================================================================================================================
def sensor_readings_purge(*, now: datetime | None = None, batch: int | None = None) -> int:
    """Delete raw readings received more than GRIDLOOP_SENSOR_RETENTION_DAYS ago, ``batch`` rows at a time, each
    batch in its own short transaction (on PostgreSQL the BRIN index on ``received_at`` finds them). Returns how many
    were deleted."""
    now = now or timezone.now()
    batch = batch or settings.GRIDLOOP_SENSOR_PURGE_BATCH
    cutoff = now - timedelta(days=settings.GRIDLOOP_SENSOR_RETENTION_DAYS)
    deleted = 0
    while True:
        with transaction.atomic():
            keys = list(SensorReading.objects.filter(received_at__lt=cutoff).values_list("device_id", "seq")[:batch])
            if keys:
                deleted += SensorReading.objects.filter(pk__in=keys).delete()[0]
        if len(keys) < batch:
            return deleted
