"""The worker heartbeat and /healthz/."""

import pytest
import time_machine
from django.utils import timezone

from dispatch.tasks import heartbeat

pytestmark = pytest.mark.django_db


def test_healthz_reports_a_stale_worker_until_a_heartbeat_runs(client):
    body = client.get("/healthz/").json()
    assert body["database"] == "ok"
    assert body["worker"] == "stale"
    heartbeat.apply()
    assert client.get("/healthz/").json()["worker"] == "ok"


def test_heartbeat_older_than_ninety_seconds_is_stale(client):
    with time_machine.travel(timezone.now() - timezone.timedelta(seconds=120)):
        heartbeat.apply()
    assert client.get("/healthz/").json()["worker"] == "stale"


def test_a_worker_that_has_just_started_is_reported_alive(client):
    from celery.signals import worker_ready

    assert client.get("/healthz/").json()["worker"] == "stale"
    worker_ready.send(sender=None)  # what Celery sends when the worker is up, before beat's first heartbeat
    assert client.get("/healthz/").json()["worker"] == "ok"
