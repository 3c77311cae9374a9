"""Reads for dispatch."""

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from .models import Heartbeat

HEARTBEAT_STALE_AFTER = timedelta(seconds=90)


def health() -> dict:
    """Database reachable and the worker heartbeat fresh (beat runs it every 30 s)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    beat = Heartbeat.objects.filter(name="worker").first()
    age = (timezone.now() - beat.seen_at).total_seconds() if beat else None
    worker_ok = age is not None and age <= HEARTBEAT_STALE_AFTER.total_seconds()
    return {"database": "ok", "worker": "ok" if worker_ok else "stale", "worker_last_seen_seconds": age}
