"""Celery tasks of the sensor channel: thin wrappers around events.sensors.services (beat schedule in settings)."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone


@shared_task(name="events.sensor_alarms", ignore_result=True)
def sensor_alarms() -> None:
    """Alarms still unprocessed a minute after their batch (its process died in between): into case events."""
    from .services import sensor_alarms_process

    while sensor_alarms_process(before=timezone.now() - timedelta(minutes=1)):
        pass


@shared_task(name="events.sensor_purge", ignore_result=True)
def sensor_purge() -> None:
    """Delete raw readings past GRIDLOOP_SENSOR_RETENTION_DAYS (beat, hourly)."""
    from .services import sensor_readings_purge

    sensor_readings_purge()
