"""The signature of a sensor batch: HMAC-SHA256 over ``<timestamp>.`` followed by the raw body, hex encoded.

A client sends three headers with ``POST /api/v1/sensors/events``::

    X-Gridloop-Device: <device id>        (signed with the device's secret)   — or —
    X-Gridloop-Key: <integration key id>  (signed with the integration key's secret)
    X-Gridloop-Timestamp: <Unix time, whole seconds>
    X-Gridloop-Signature: <hex HMAC-SHA256(secret, timestamp + "." + body)>

The timestamp is part of what is signed, so an old body cannot be sent again with a fresh timestamp; a timestamp
further than ``GRIDLOOP_SENSOR_SIGNATURE_MAX_AGE_SECONDS`` from the server's clock is refused. A replay inside that
window is harmless: every event carries its (device, seq), which is stored once.
"""

import hashlib
import hmac

DEVICE_HEADER = "X-Gridloop-Device"
KEY_HEADER = "X-Gridloop-Key"
TIMESTAMP_HEADER = "X-Gridloop-Timestamp"
SIGNATURE_HEADER = "X-Gridloop-Signature"


def signature(secret: str, timestamp: str | int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, timestamp: str, body: bytes, given: str) -> bool:
    return hmac.compare_digest(signature(secret, timestamp, body), given.strip().lower())


def signed_headers(*, secret: str, body: bytes, timestamp: int, device_id: str = "", key_id: str = "") -> dict:
    """The headers a client sends (for clients, tests and the benchmark)."""
    who = {DEVICE_HEADER: device_id} if device_id else {KEY_HEADER: key_id}
    return {**who, TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}
