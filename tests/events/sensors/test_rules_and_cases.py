"""Rule evaluation and cases: threshold + duration, ts order (also for late events), one open case per (device, rule)
with its occurrence count, recovery with an on-site check, and what happens when the case is closed or merged."""

from datetime import timedelta

import pytest

from dispatch.models import OutboxMessage
from events.integrity import chain_verify
from events.models import Case, CaseEvent, CaseState, Category, Channel, FieldCheck
from events.sensors import ingestion, tasks
from events.sensors.models import (
    AlarmOutcome,
    SensorAlarm,
    SensorDevice,
    SensorReading,
    SensorRejectCount,
    SensorRule,
    SensorRuleState,
)
from events.sensors.services import sensor_alarms_process, sensor_events_ingest
from tests.events.conftest import act, file_hotline
from tests.events.sensors.conftest import ev

pytestmark = pytest.mark.django_db


def ingest(events):
    return sensor_events_ingest(events=events, source="http")


def sensor_cases():
    return list(Case.objects.filter(channel=Channel.SENSOR).order_by("id"))


def kinds(case):
    return list(case.events.order_by("seq").values_list("kind", flat=True))


# --- Threshold and duration ------------------------------------------------------------------------------------------
def test_water_above_the_threshold_for_five_minutes_opens_one_urgent_flooding_case(sensors):
    result = ingest([ev(1, 0, 0.20), ev(2, 2, 0.22), ev(3, 4, 0.25)])
    assert (result.accepted, result.alarms, sensor_cases()) == (3, 0, [])  # 4 minutes: not yet
    result = ingest([ev(4, 5, 0.24)])
    assert result.alarms == 1
    [case] = sensor_cases()
    assert (case.category.code, case.urgency, case.state, case.grid.code) == ("E0406", "urgent", "reported",
                                                                              sensors.world.grid)
    assert "W-001" in case.reports.get().raw_payload["device"] and case.reports.get().raw_payload["seq"] == 4
    reported = case.events.get()
    assert (reported.kind, reported.actor_kind, reported.actor_ref) == ("reported", "system", "sensor:W-001")
    assert SensorRuleState.objects.get(device=sensors.water, rule=sensors.flood).occurrences == 1


def test_a_dip_below_the_threshold_restarts_the_duration(sensors):
    ingest([ev(1, 0, 0.20), ev(2, 3, 0.10), ev(3, 4, 0.20), ev(4, 8, 0.20)])  # 4 → 8 is only 4 minutes
    assert sensor_cases() == []
    ingest([ev(5, 9, 0.30)])
    assert len(sensor_cases()) == 1


def test_values_at_the_threshold_do_not_breach_a_greater_than_rule(sensors):
    ingest([ev(1, 0, 0.15), ev(2, 10, 0.15)])
    assert sensor_cases() == []


def test_a_device_alarm_flag_opens_at_once_and_a_rule_without_threshold_ignores_values(sensors):
    smoke = dict(device="S-001", metric="smoke")
    ingest([ev(1, 0, 999.0, **smoke)])  # no threshold on the fire rule: a value alone is nothing
    assert sensor_cases() == []
    ingest([ev(2, 1, 0.4, alarm=True, **smoke)])
    [case] = sensor_cases()
    assert case.category.code == "E0410"


def test_readings_of_other_metrics_are_stored_but_not_evaluated(sensors):
    result = ingest([ev(1, 0, 30.0, metric="battery"), ev(2, 10, 30.0, metric="battery")])
    assert result.accepted == 2 and SensorReading.objects.count() == 2 and sensor_cases() == []


# --- Time order ----------------------------------------------------------------------------------------------------
def test_a_batch_out_of_order_is_evaluated_in_ts_order(sensors):
    # Arrival order 5, 1, 3: in ts order the water stood above the threshold from minute 0 to minute 5.
    ingest([ev(5, 5, 0.30), ev(1, 0, 0.20), ev(3, 3, 0.25)])
    [case] = sensor_cases()
    assert case.reports.get().raw_payload["seq"] == 5
    # In arrival order seq 7 would end the run; in ts order (minute 6, then 7) it ends it first and seq 6 starts
    # a new run.
    ingest([ev(6, 7, 0.30), ev(7, 6, 0.05)])
    assert list(SensorAlarm.objects.order_by("ts").values_list("kind", "seq")) == [("alarm", 5), ("recovered", 7)]
    state = SensorRuleState.objects.get(device=sensors.water, rule=sensors.flood)
    assert (state.run_start, state.run_fired, state.last_seq) == (sensors.t0 + timedelta(minutes=7), False, 6)


def test_a_late_reading_across_batches_is_evaluated_in_ts_order(sensors):
    ingest([ev(1, 0, 0.20), ev(3, 6, 0.20)])  # minutes 0 and 6 above: would be 6 minutes …
    assert len(sensor_cases()) == 1
    sensors2 = sensor_cases()
    # A reading measured in between but arriving late cannot take the alarm back, but it starts a new run.
    ingest([ev(2, 3, 0.05)])
    state = SensorRuleState.objects.get(device=sensors.water, rule=sensors.flood)
    assert (state.last_seq, state.run_start) == (3, sensors.t0 + timedelta(minutes=6))
    assert sensor_cases() == sensors2


def test_a_late_reading_that_moves_the_start_of_an_alarmed_run_raises_nothing_more(sensors):
    ingest([ev(1, 0, 0.20), ev(2, 4, 0.10)])  # a run of one reading, ended at minute 4: nothing
    ingest([ev(3, 10, 0.20), ev(4, 15, 0.30)])  # 10 → 15: alarm at seq 4
    assert SensorAlarm.objects.count() == 1
    # Late: above at minute 5 too. The run started at 5 and had lasted long enough at 10 — but it is the run that
    # already raised its alarm at seq 4.
    result = ingest([ev(5, 5, 0.25)])
    assert result.alarms == 0 and SensorAlarm.objects.count() == 1
    state = SensorRuleState.objects.get(device=sensors.water, rule=sensors.flood)
    assert (state.run_start, state.run_fired, state.last_seq) == (sensors.t0 + timedelta(minutes=5), True, 4)


def test_a_late_reading_raises_an_alarm_the_history_now_shows(sensors):
    ingest([ev(1, 0, 0.20), ev(3, 6, 0.05)])  # above at 0, below at 6: nothing
    assert sensor_cases() == []
    result = ingest([ev(2, 5, 0.22)])  # late: above from 0 to 5 → alarm at seq 2, and seq 3 is its recovery
    assert result.alarms == 2
    [case] = sensor_cases()
    assert kinds(case) == ["reported", "sensor_recovered", "request_field_check"]
    assert case.reports.get().raw_payload["seq"] == 2


def test_a_late_reading_below_the_threshold_inside_an_alarmed_run_records_a_recovery(sensors):
    ingest([ev(1, 0, 0.2), ev(2, 5, 0.2), ev(4, 20, 0.2)])  # alarm at seq 2, still above at minute 20
    result = ingest([ev(3, 10, 0.01)])  # late: the water was down at minute 10
    assert result.alarms == 1
    assert list(SensorAlarm.objects.order_by("ts").values_list("kind", "seq")) == [("alarm", 2), ("recovered", 3)]
    state = SensorRuleState.objects.get(device=sensors.water, rule=sensors.flood)
    assert (state.run_start, state.run_fired) == (sensors.t0 + timedelta(minutes=20), False)


# --- One open case per (device, rule) --------------------------------------------------------------------------------
def test_further_alarms_add_occurrences_to_the_open_case(sensors):
    ingest([ev(1, 0, 0.2), ev(2, 5, 0.2)])
    ingest([ev(3, 6, 0.05)])  # recovered
    ingest([ev(4, 10, 0.3), ev(5, 15, 0.3)])  # again
    ingest([ev(6, 16, 0.01), ev(7, 20, 0.3), ev(8, 25, 0.3)])  # and again
    [case] = sensor_cases()
    assert kinds(case) == ["reported", "sensor_recovered", "request_field_check", "sensor_alarm",
                           "sensor_recovered", "sensor_alarm"]
    occurrences = [e.payload["occurrence"] for e in case.events.filter(kind="sensor_alarm").order_by("seq")]
    assert occurrences == [2, 3]
    assert SensorRuleState.objects.get(device=sensors.water, rule=sensors.flood).occurrences == 3
    assert chain_verify(case) is None
    assert case.state == CaseState.REPORTED


def test_each_rule_of_a_device_has_its_own_case(sensors):
    SensorRule.objects.create(name="排水不畅", device_type="water_level", metric="water_level", comparison="gte",
                              threshold=0.3, duration_seconds=0, category=Category.objects.get(code="E0404"))
    ingest([ev(1, 0, 0.35), ev(2, 5, 0.35)])
    assert sorted(c.category.code for c in sensor_cases()) == ["E0404", "E0406"]


def test_a_closed_case_is_not_reused_the_next_alarm_opens_a_new_one(sensors):
    w = sensors.world
    ingest([ev(1, 0, 0.2), ev(2, 5, 0.2)])
    [first] = sensor_cases()
    act(first, "reject", w.dispatcher, reason="传感器误报")
    ingest([ev(3, 6, 0.05), ev(4, 10, 0.2), ev(5, 15, 0.2)])
    cases = sensor_cases()
    assert len(cases) == 2 and cases[1].state == CaseState.REPORTED
    recovered = SensorAlarm.objects.get(kind="recovered")
    assert recovered.outcome == AlarmOutcome.NO_CASE


def test_alarms_of_a_merged_case_go_to_the_case_it_joined(sensors):
    w = sensors.world
    ingest([ev(1, 0, 0.2), ev(2, 5, 0.2)])
    [case] = sensor_cases()
    main = file_hotline(w, description="下穿桥积水")
    act(case, "merge", w.dispatcher, target=main.number)
    ingest([ev(3, 6, 0.05), ev(4, 10, 0.2), ev(5, 15, 0.2)])
    assert len(sensor_cases()) == 1
    assert "sensor_alarm" in kinds(main) and "sensor_recovered" in kinds(main)


# --- Recovery --------------------------------------------------------------------------------------------------------
def test_recovery_records_an_event_and_asks_the_grid_worker_to_check_on_site(sensors):
    w = sensors.world
    ingest([ev(1, 0, 0.2), ev(2, 5, 0.2)])
    ingest([ev(3, 8, 0.02)])
    [case] = sensor_cases()
    case = Case.objects.get(pk=case.pk)
    assert kinds(case) == ["reported", "sensor_recovered", "request_field_check"]
    recovered = case.events.get(kind="sensor_recovered")
    assert recovered.payload["check_requested"] is True and recovered.payload["seq"] == 3
    assert case.field_check_status == FieldCheck.REQUESTED
    message = OutboxMessage.objects.get(kind="sensor_check")
    assert (message.recipient_user, message.case) == (w.worker, case)
    assert case.number in message.title
    # a second recovery while the check is pending asks nothing more
    ingest([ev(4, 10, 0.3), ev(5, 15, 0.3), ev(6, 16, 0.0)])
    assert OutboxMessage.objects.filter(kind="sensor_check").count() == 1


def test_recovery_of_a_case_being_handled_asks_the_grid_worker_through_the_inbox(sensors):
    w = sensors.world
    ingest([ev(1, 0, 0.2), ev(2, 5, 0.2)])
    [case] = sensor_cases()
    act(case, "accept", w.dispatcher)
    act(case, "dispatch", w.dispatcher, department=w.dept.code)
    ingest([ev(3, 8, 0.02)])
    case = Case.objects.get(pk=case.pk)
    assert case.state == CaseState.DISPATCHED and kinds(case)[-1] == "sensor_recovered"
    assert OutboxMessage.objects.filter(kind="sensor_check", recipient_user=w.worker).count() == 1


def test_a_rule_without_the_check_flag_only_records_the_recovery(sensors):
    smoke = dict(device="S-001", metric="smoke")
    ingest([ev(1, 0, 1.0, alarm=True, **smoke), ev(2, 1, 0.0, **smoke)])
    [case] = sensor_cases()
    assert kinds(case) == ["reported", "sensor_recovered"]
    assert not OutboxMessage.objects.filter(kind="sensor_check").exists()


# --- Robustness ------------------------------------------------------------------------------------------------------
@pytest.mark.usefixtures("in_english")
def test_an_alarm_whose_case_cannot_be_opened_is_marked_failed_and_counted(sensors):
    SensorDevice.objects.filter(pk=sensors.water.pk).update(lat=10.0, lng=10.0)  # moved out of the service area
    result = ingest([ev(1, 0, 0.2), ev(2, 5, 0.2)])
    assert result.accepted == 2 and sensor_cases() == []
    alarm = SensorAlarm.objects.get()
    assert alarm.outcome == AlarmOutcome.FAILED and "outside the service area" in alarm.detail
    assert SensorRejectCount.objects.get(reason="case_failed").count == 1


def test_alarms_whose_case_work_fails_stay_pending_with_the_readings_kept_and_the_sweep_takes_them_up(
        sensors, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("a bug in the case work")

    monkeypatch.setattr(ingestion, "handle_alarms", crash)
    result = ingest([ev(1, 0, 0.2), ev(2, 5, 0.2)])
    assert result.accepted == 2 and SensorReading.objects.count() == 2 and sensor_cases() == []
    assert SensorAlarm.objects.get().processed_at is None
    monkeypatch.undo()
    tasks.sensor_alarms()  # not yet: the alarm is less than a minute old (its batch may still be at it)
    assert sensor_cases() == []
    sensors.clock.shift(timedelta(minutes=2))
    tasks.sensor_alarms()
    assert len(sensor_cases()) == 1
    assert SensorAlarm.objects.get().outcome == AlarmOutcome.OPENED
    assert SensorRuleState.objects.get().case == sensor_cases()[0]
    assert sensor_alarms_process(before=sensors.now + timedelta(hours=1)) == 0  # nothing twice


def test_a_processed_alarm_is_not_processed_again(sensors):
    ingest([ev(1, 0, 0.2), ev(2, 5, 0.2)])
    [case] = sensor_cases()
    assert sensor_alarms_process(before=sensors.now + timedelta(hours=1)) == 0
    assert CaseEvent.objects.filter(case=case).count() == 1


def test_a_recovery_waits_behind_its_sensors_alarm_still_pending(sensors, monkeypatch):
    def died(device_pk, rule_pk):
        raise RuntimeError("the process died before opening the case")

    monkeypatch.setattr(ingestion, "alarms_of_pair", died)
    ingest([ev(1, 0, 0.2), ev(2, 5, 0.2)])  # the alarm needs a new case: left pending
    assert sensor_cases() == [] and SensorAlarm.objects.get().processed_at is None
    monkeypatch.undo()
    ingest([ev(3, 6, 0.01)])  # the recovery is not "no case": it goes after the alarm, which opens the case
    [case] = sensor_cases()
    assert kinds(case) == ["reported", "sensor_recovered", "request_field_check"]
    assert list(SensorAlarm.objects.order_by("seq").values_list("seq", "outcome")) == [
        (2, AlarmOutcome.OPENED), (3, AlarmOutcome.RECOVERED)]
