"""Concurrent batches on PostgreSQL (row locks): the same events sent in parallel are stored once, the rules see
each reading once, sensors sharing a case do not deadlock, and a sensor opening a case waits only for openings
nearby."""

import random
import threading

import pytest
from django.db import OperationalError, connection, transaction

from events.models import Case, Channel
from events.sensors.models import SensorAlarm, SensorReading, SensorRuleState
from events.sensors.services import device_register, sensor_events_ingest
from events.services import ReportInput, _sensor_openings_serialized
from tests.events.sensors.conftest import ev

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def in_parallel(batches: list[list[dict]]) -> list:
    results, errors = [None] * len(batches), []
    start = threading.Barrier(len(batches))

    def run(index):
        try:
            start.wait()
            results[index] = sensor_events_ingest(events=batches[index], source="http")
        except Exception as exc:  # reported below, with the thread's exception
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


def test_the_same_events_sent_in_parallel_are_stored_and_evaluated_once(sensors):
    events = [ev(i, i / 10, 0.3 if 100 <= i < 160 else 0.05) for i in range(1, 301)]  # above for 6 minutes
    batches = []
    for seed in range(4):
        copy = list(events)
        random.Random(seed).shuffle(copy)
        batches.append(copy)
    results = in_parallel(batches)
    assert sum(r.accepted for r in results) == 300 and sum(r.duplicates for r in results) == 900
    assert SensorReading.objects.count() == 300
    assert list(SensorAlarm.objects.order_by("ts").values_list("kind", "seq")) == [("alarm", 150), ("recovered", 160)]
    assert Case.objects.filter(channel="sensor").count() == 1
    state = SensorRuleState.objects.get()
    assert (state.last_seq, state.run_start, state.occurrences) == (300, None, 1)


def test_sensors_sharing_a_case_alarm_in_parallel_without_deadlock(sensors):
    w = sensors.world
    lat, lng = w.point
    for n in range(2, 7):
        device_register(device_id=f"W-00{n}", type="water_level", lat=lat, lng=lng, department=w.district_dept)
    rounds = []
    for device in [f"W-00{n}" for n in range(1, 7)]:
        rounds.append([ev(seq, seq, 0.3 if seq % 6 < 5 else 0.0, device=device, alarm=seq % 6 < 5)
                       for seq in range(1, 49)])
    in_parallel(rounds)  # (no deadlock error from any of them)
    assert SensorReading.objects.count() == 6 * 48
    assert not SensorAlarm.objects.filter(processed_at__isnull=True).exists()
    assert not SensorAlarm.objects.filter(outcome="failed").exists()
    # Each sensor raised 9 alarms (seq 5, 11 … 47 are normal: 9 runs): its first opened or joined a case, the other
    # 8 went to that case as occurrences. The sensors stand at one spot: however their first alarms interleave, the
    # case openings are serialised, so exactly one case is opened and the other five sensors join it.
    for state in SensorRuleState.objects.all():
        assert state.occurrences == 9 and state.case.state == "reported"
    assert Case.objects.filter(channel="sensor").count() == 1
    assert SensorAlarm.objects.filter(outcome="opened").count() == 6  # (each sensor's first: opened or joined)


def test_a_sensor_opening_waits_for_openings_nearby_and_not_for_those_elsewhere(sensors):
    """While one transaction holds the opening locks of a point (as a sensor's case_report does until its commit),
    an opening 30 m away waits for it, one 8 km away does not (lock_timeout turns the wait into an error here)."""
    lat, lng = sensors.world.point
    category = sensors.flood.category

    def report(north_m: float) -> ReportInput:
        return ReportInput(channel=Channel.SENSOR, description="积水", lat=lat + north_m / 111_195, lng=lng,
                           category=category)

    holding, release, errors = threading.Event(), threading.Event(), []

    def hold():
        try:
            with transaction.atomic():
                _sensor_openings_serialized(report(0))
                holding.set()
                release.wait(30)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)

        def opening(north_m: float) -> None:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '300ms'")
                _sensor_openings_serialized(report(north_m))

        opening(8000)  # elsewhere (more than four cells of the largest radius away): at once
        with pytest.raises(OperationalError, match="lock timeout"):
            opening(30)  # nearby: waits for the holder
    finally:
        release.set()
        holder.join(30)
    assert not errors, errors
    opening(30)  # the holder committed: free again
