"""The sensor registry: devices and integration keys (register, import from CSV, rotate secrets), and each process's
copies of the active rules and the registered devices that every batch reads.
"""

import math
import re
import secrets
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeGuard, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from config.compiled import CompiledQuery
from config.csv_rows import csv_rows
from config.errors import InvalidInput, Unprocessable
from grids.models import Department, Region
from grids.selectors import locate

from .models import DEVICE_ID_PATTERN, SensorDevice, SensorIntegrationKey, SensorRule, SensorType

DEVICE_COLUMNS = ["device_id", "type", "lat", "lng", "department", "name", "address", "secret", "integration_key",
                  "active"]
REQUIRED_DEVICE_COLUMNS = ["device_id", "type", "lat", "lng", "department"]
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)
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


def active_rules() -> dict[str, list[SensorRule]]:
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


def known_devices(device_ids: set[str]) -> dict[str, tuple[int, str, bool, int | None]]:
    """``device_id → (pk, type, active, integration key pk)`` for (at least) the registered ones of ``device_ids``.
    The copy is dropped as a whole every GRIDLOOP_CONFIG_CHECK_SECONDS; unknown ids are looked up every time."""
    known = _process_copy("devices")
    missing = device_ids - known.keys()
    if missing:
        known.update({row[0]: row[1:] for row in SensorDevice.objects.filter(device_id__in=missing).values_list(
            "device_id", "id", "type", "active", "integration_key_id")})
    return known


_devices_by_pk = CompiledQuery(lambda ids: SensorDevice.objects.filter(pk__any=ids), list)


def device_rows(pks: set[int]) -> dict[int, SensorDevice]:
    """The devices (model instances, for turning their alarms into case reports) by pk, from the same kind of
    per-process copy (registered ones read when first needed)."""
    known = _process_copy("device_rows")
    missing = [pk for pk in pks if pk not in known]
    if missing:
        known.update({device.pk: device for device in _devices_by_pk(missing)})
    return {pk: known[pk] for pk in pks if pk in known}

