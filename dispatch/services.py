"""Writes for dispatch."""

import os
import socket

from django.utils import timezone

from .models import Heartbeat


def heartbeat_record(*, name: str = "worker") -> Heartbeat:
    """Record that a worker process ran a beat-scheduled task just now."""
    beat, _ = Heartbeat.objects.update_or_create(
        name=name, defaults={"seen_at": timezone.now(), "detail": {"host": socket.gethostname(), "pid": os.getpid()}}
    )
    return beat
