"""Sensors on top of the case world (tests/events/conftest.py):

    sensors.water     water-level sensor W-001 in world.grid, owned by world.district_dept (水务)
    sensors.smoke     smoke sensor S-001 in the same grid, reporting through sensors.key (an integration key)
    sensors.flood     rule: water_level > 0.15 m for 5 minutes → E0406 道路积水, urgent, on-site check on recovery
    sensors.fire      rule: smoke alarm flag → E0410 火灾, no check on recovery
    sensors.now       the frozen clock of every sensor test (2026-07-01 10:00 UTC)

``post(events, device=…)`` signs and sends a batch; ``ev(seq, minute, value)`` makes a water-level event measured
``minute`` minutes after ``t0`` (an hour before ``now``).
"""

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import time_machine
from rest_framework.test import APIClient

from events.models import Category
from events.sensors.models import SensorRule
from events.sensors.services import device_register, integration_key_create
from events.sensors.signing import signed_headers
from tests.conftest import english

NOW = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
T0 = NOW - timedelta(hours=1)  # event times are minutes after T0 (so they are in the past)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sensors(world, clock):
    s = SimpleNamespace(world=world, now=NOW, t0=T0, clock=clock)
    lat, lng = world.point
    s.key = integration_key_create(name="某物联网平台")
    s.water, _, s.water_secret = device_register(device_id="W-001", type="water_level", lat=lat, lng=lng,
                                                 department=world.district_dept, name="东一街道下穿桥水位计",
                                                 address="东一街道下穿桥")
    s.smoke, _, s.smoke_secret = device_register(device_id="S-001", type="smoke", lat=lat, lng=lng,
                                                 department=world.district_dept, integration_key=s.key)
    s.flood = SensorRule.objects.create(name="道路积水", device_type="water_level", metric="water_level",
                                        comparison="gt", threshold=0.15, duration_seconds=300,
                                        category=Category.objects.get(code="E0406"), urgency="urgent",
                                        verify_on_recovery=True)
    s.fire = SensorRule.objects.create(name="烟感报警", device_type="smoke", metric="smoke", comparison="gt",
                                       threshold=None, duration_seconds=0,
                                       category=Category.objects.get(code="E0410"), urgency="urgent",
                                       verify_on_recovery=False)
    return s


def ev(seq: int, minute: float, value: float, *, device="W-001", metric="water_level", **extra) -> dict:
    return {"device_id": device, "seq": seq, "ts": (T0 + timedelta(minutes=minute)).isoformat(), "metric": metric,
            "value": value, **extra}


def sign(body: bytes, *, secret: str, device_id: str = "", key_id: str = "", at: datetime | None = None) -> dict:
    headers = signed_headers(secret=secret, body=body, timestamp=int((at or NOW).timestamp()), device_id=device_id,
                             key_id=key_id)
    return {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}


def post_raw(body: bytes, headers: dict):
    # answers in English, which the tests check (tests/test_i18n.py checks a Chinese one)
    return english(APIClient()).generic("POST", "/api/v1/sensors/events", body, content_type="application/json",
                                        **headers)


def post(s, events: list, *, device=None, key=None, secret=None, at=None):
    """Sign ``{"events": events}`` as ``device`` (default W-001) or ``key`` and send it."""
    body = json.dumps({"events": events}).encode()
    if key is not None:
        headers = sign(body, secret=secret or key.secret, key_id=key.key_id, at=at)
    else:
        device = device or s.water
        headers = sign(body, secret=secret or device.secret, device_id=device.device_id, at=at)
    return post_raw(body, headers)
