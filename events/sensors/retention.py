"""Retention of the sensor channel: raw readings are kept GRIDLOOP_SENSOR_RETENTION_DAYS, then purged in batches."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import SensorReading


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
