"""Retention: raw readings older than GRIDLOOP_SENSOR_RETENTION_DAYS are deleted in batches (command and beat task);
younger ones, alarms and cases stay."""

from datetime import timedelta

import pytest
from django.core.management import call_command

from events.models import Case
from events.sensors import tasks
from events.sensors.models import SensorAlarm, SensorReading
from events.sensors.services import sensor_events_ingest, sensor_readings_purge
from tests.events.sensors.conftest import ev

pytestmark = pytest.mark.django_db


def test_readings_past_the_retention_are_deleted_in_batches_and_the_rest_kept(sensors, settings):
    settings.GRIDLOOP_SENSOR_RETENTION_DAYS = 30
    sensor_events_ingest(events=[ev(i, i, 0.2) for i in range(1, 8)], source="http")  # received now: alarm + case
    sensors.clock.shift(timedelta(days=29))
    sensor_events_ingest(events=[ev(i, 100 + i, 0.01) for i in range(8, 11)], source="http", now=None)
    assert SensorReading.objects.count() == 10
    assert sensor_readings_purge(batch=3) == 0  # nothing is 30 days old yet
    sensors.clock.shift(timedelta(days=1, seconds=1))
    assert sensor_readings_purge(batch=3) == 7  # in three batches: 3 + 3 + 1
    assert sorted(SensorReading.objects.values_list("seq", flat=True)) == [8, 9, 10]
    assert SensorAlarm.objects.exists() and Case.objects.filter(channel="sensor").count() == 1
    assert sensor_readings_purge(batch=3) == 0


def test_the_purge_command_and_task(sensors, settings, capsys):
    settings.GRIDLOOP_SENSOR_RETENTION_DAYS = 1
    sensor_events_ingest(events=[ev(1, 59, 0.01), ev(2, 59.5, 0.01)], source="http")
    sensors.clock.shift(timedelta(days=2))
    call_command("sensor_purge")
    assert "sensor readings deleted: 2 (retention 1 days)" in capsys.readouterr().out
    sensor_events_ingest(events=[ev(3, 60 * 24 * 2 + 50, 0.01)], source="http")
    sensors.clock.shift(timedelta(days=2))
    tasks.sensor_purge()
    assert SensorReading.objects.count() == 0
