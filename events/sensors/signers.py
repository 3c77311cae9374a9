"""Who signed an HTTP batch: the signature headers (``signing.py``) checked against the registry — a device for its
own events, or an integration key for its devices. Every refusal is counted (``rejects.py``)."""

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from config.compiled import CompiledQuery
from config.errors import InvalidInput, PermissionDenied

from .models import RejectReason, SensorDevice, SensorIntegrationKey
from .rejects import refuse
from .signing import DEVICE_HEADER, KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_matches


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
        raise refuse(InvalidInput(_("send exactly one of the headers %(device)s or %(key)s")
                                   % {"device": DEVICE_HEADER, "key": KEY_HEADER},
                                   field=DEVICE_HEADER), reason=RejectReason.BAD_SIGNATURE)
    if not given:
        raise refuse(InvalidInput(_("the header %(header)s is missing") % {"header": SIGNATURE_HEADER},
                                   field=SIGNATURE_HEADER),
                      reason=RejectReason.BAD_SIGNATURE)
    if not stamp.isdigit() or len(stamp) > 12:
        raise refuse(InvalidInput(_("the header %(header)s must be Unix time in whole seconds")
                                   % {"header": TIMESTAMP_HEADER}, field=TIMESTAMP_HEADER), reason=RejectReason.STALE)
    max_age = settings.GRIDLOOP_SENSOR_SIGNATURE_MAX_AGE_SECONDS
    if abs(now.timestamp() - int(stamp)) > max_age:
        raise refuse(PermissionDenied(_("the signature timestamp %(stamp)s is more than %(n)s seconds away from "
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
        raise refuse(PermissionDenied(_(SIGNER_REFUSED) % {"device": DEVICE_HEADER, "key": KEY_HEADER}),
                      reason=reason, detail=detail)
    assert signer is not None  # (no reason to refuse: a device or key was found)
    return signer

