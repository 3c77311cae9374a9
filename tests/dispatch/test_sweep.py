"""The sweep: lights at 80 % and 100 %, one-level escalation per breach (idempotent), resuming suspended cases.
Time is moved with time_machine around Tuesday 2026-11-24 (windows 08:30–12:00, 13:30–17:30 Asia/Shanghai)."""

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from dispatch import sweep as sweep_module
from dispatch.models import StageClock
from dispatch.sweep import sweep
from events.integrity import chain_verify
from events.models import Case, CaseEvent, Category
from tests.events.conftest import act, file_patrol

SH = ZoneInfo("Asia/Shanghai")


def local(hour, minute=0, day=24):
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def at(hour, minute=0, day=24):
    return time_machine.travel(local(hour, minute, day), tick=False)


def handling_case(world):
    """Signed Tue 11:30; the handle clock (4 work_hour) warns at 16:12 and runs out at 17:00."""
    with at(10):
        case = file_patrol(world, category=Category.objects.get(code="E0102"))
    with at(11):
        act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    with at(11, 30):
        act(case, "sign", world.handler)
    return case


@pytest.fixture
def batch_failures_expected():
    """Requested by the tests in which a batch is meant to fail and be done again one clock at a time."""
    return True


@pytest.fixture(autouse=True)
def _batches_do_not_fail(request, caplog):
    yield
    if "batch_failures_expected" not in request.fixturenames:  # the set-based path did the work, not the fallback
        assert "doing them one by one" not in caplog.text


def handle_clocks(case):
    return list(StageClock.objects.filter(case=case, stage="handle").order_by("id"))


def sweep_escalations(case):
    return list(CaseEvent.objects.filter(case=case, kind="escalate", actor_ref="sweep").order_by("seq"))


@pytest.mark.django_db
def test_lights_turn_yellow_at_80_percent_and_red_at_the_deadline(world):
    case = handling_case(world)
    (clock,) = handle_clocks(case)
    assert clock.warn_at == local(16, 12)
    with at(16, 11):
        assert sweep().warned == 0
    assert handle_clocks(case)[0].light == "green"
    with at(16, 12):
        result = sweep()
    assert (result.warned, result.overdue, result.escalated) == (1, 0, 0)
    assert handle_clocks(case)[0].light == "yellow"
    with at(16, 30):  # a yellow clock before its deadline is not due again
        assert sweep() == sweep_module.SweepResult()
    with at(17):
        result = sweep()
    assert (result.overdue, result.escalated) == (1, 1)
    first = handle_clocks(case)[0]
    assert first.light == "red" and first.escalated_for_breach and first.on_time is False


@pytest.mark.django_db
def test_an_overdue_street_case_goes_to_the_district_then_to_the_city(world):
    case = handling_case(world)
    with at(17):
        sweep()
    case = Case.objects.get(pk=case.pk)
    assert (case.level, case.escalations_count, case.state) == ("district", 1, "handling")
    (event,) = sweep_escalations(case)
    assert event.actor_kind == "system" and event.level == "district"
    assert event.payload == {"reason": "超期：处置时限 2026-11-24 17:00 已过", "from_level": "street",
                             "to_level": "district", "policy": "take_over"}
    street, district = handle_clocks(case)
    assert (street.level, street.finished_at, street.escalated_for_breach) == ("street", local(17), True)
    assert (district.level, district.started_at, district.finished_at) == ("district", local(17), None)
    assert district.deadline == local(12, day=25)  # a fresh 4 working hours at the district

    with at(12, day=25):
        assert sweep().escalated == 1
    case = Case.objects.get(pk=case.pk)
    assert (case.level, case.escalations_count) == ("city", 2)
    assert [e.payload["to_level"] for e in sweep_escalations(case)] == ["district", "city"]
    city = handle_clocks(case)[-1]
    assert city.level == "city" and city.deadline == local(17, 30, day=25)

    with at(18, day=25):  # at the city only the light turns red
        result = sweep()
        assert (result.overdue, result.escalated) == (1, 0)
        assert sweep() == sweep_module.SweepResult()  # and the red city clock is not due any more
    case = Case.objects.get(pk=case.pk)
    assert case.level == "city" and case.escalations_count == 2
    city = handle_clocks(case)[-1]
    assert city.light == "red" and city.finished_at is None and not city.escalated_for_breach
    assert chain_verify(case) is None


@pytest.mark.django_db
def test_running_the_sweep_twice_escalates_once(world):
    case = handling_case(world)
    with at(17, 5):
        first, second = sweep(), sweep()
    assert (first.escalated, second.escalated) == (1, 0)
    case = Case.objects.get(pk=case.pk)
    assert case.escalations_count == 1 and len(sweep_escalations(case)) == 1


@pytest.mark.django_db
def test_a_sweep_that_fails_half_way_leaves_nothing_and_the_next_one_escalates_once(world, monkeypatch,
                                                                                     batch_failures_expected):
    case = handling_case(world)

    def crash(**kwargs):
        raise RuntimeError("worker died")

    with at(17, 5):
        monkeypatch.setattr(sweep_module, "clock_start", crash)
        assert sweep().escalated == 0  # the level change and its event were rolled back with the clock
        case = Case.objects.get(pk=case.pk)
        assert case.level == "street" and not sweep_escalations(case)
        assert not handle_clocks(case)[0].escalated_for_breach and handle_clocks(case)[0].finished_at is None
        monkeypatch.undo()
        assert sweep().escalated == 1
        assert sweep().escalated == 0
    case = Case.objects.get(pk=case.pk)
    assert case.escalations_count == 1 and len(sweep_escalations(case)) == 1
    assert chain_verify(case) is None


@pytest.mark.django_db
def test_the_sweep_resumes_a_suspended_case_at_its_date_and_skips_paused_clocks(world):
    case = handling_case(world)
    with at(14):
        act(case, "suspend", world.dispatcher, reason="待拆迁", until="2026-11-26")
    with at(23, 59, day=25):  # the paused clock's old deadline has passed: nothing happens
        assert sweep() == sweep_module.SweepResult()
    with at(0, 0, day=26):
        assert sweep().resumed == 1
        assert sweep().resumed == 0
    case = Case.objects.get(pk=case.pk)
    assert case.state == "handling" and case.suspended_until is None and case.level == "street"
    event = case.events.order_by("-seq").first()
    assert (event.kind, event.actor_kind, event.actor_ref) == ("resume", "system", "sweep")
    (clock,) = handle_clocks(case)
    # paused Tue 14:00 → Thu 00:00: 3.5 + 7.5 working hours; the 3 hours left run Thu 08:30–12:00
    assert clock.paused_at is None and clock.paused_seconds == 11 * 3600
    assert clock.deadline == local(11, 30, day=26)


@pytest.mark.django_db
def test_the_sweep_closes_a_verified_staff_report_after_the_feedback_window_and_leaves_citizens_cases(world):
    from events.models import CaseState
    from tests.events.conftest import file_hotline, photo

    patrol, hotline = handling_case(world), file_hotline(world)
    with at(11, 40):
        act(hotline, "accept", world.dispatcher, category="E0102")
        act(hotline, "dispatch", world.dispatcher, department="s1-huanwei")
        act(hotline, "sign", world.handler)
    with at(12):
        for case in (patrol, hotline):
            act(case, "complete", world.handler, note="已清理", photos=[photo()])
            act(case, "verify", world.worker, photos=[photo()])
    with at(11, 59, day=27):  # the 72 h feedback window is still open
        assert sweep().closed == 0
    with at(12, day=27):
        result = sweep()
    assert result.closed == 1
    patrol, hotline = Case.objects.get(pk=patrol.pk), Case.objects.get(pk=hotline.pk)
    # closed before its feedback clock, running out at the same moment, could be escalated (the hotline's was)
    assert (patrol.state, patrol.close_reason, patrol.level) == (CaseState.CLOSED, "resolved", "street")
    assert not sweep_escalations(patrol) and len(sweep_escalations(hotline)) == 1
    close = patrol.events.order_by("-seq").first()
    assert (close.kind, close.actor_kind, close.actor_ref) == ("close", "system", "sweep")
    assert hotline.state == CaseState.VERIFIED  # the caller is asked (回访); the operator records the rating
    assert chain_verify(patrol) is None


@pytest.mark.django_db
def test_due_rows_are_limited_per_sweep(world):
    first, second = handling_case(world), handling_case(world)
    with at(17):
        assert sweep(limit=1).escalated == 1
        assert sweep(limit=1).escalated == 1
    assert {Case.objects.get(pk=c.pk).level for c in (first, second)} == {"district"}


# --- PostgreSQL: concurrent sweeps ---------------------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_escalate_exactly_once(world):
    cases = [handling_case(world) for _ in range(3)]
    barrier = threading.Barrier(2)
    results = [None, None]

    def run(index):
        try:
            barrier.wait(timeout=10)
            results[index] = sweep(now=local(17, 5))
        except Exception as exc:  # noqa: BLE001 - asserted below
            results[index] = exc
        finally:
            connection.close()

    with at(17, 5):
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert all(isinstance(r, sweep_module.SweepResult) for r in results), results
    assert sum(r.escalated for r in results) == 3
    for case in cases:
        case = Case.objects.get(pk=case.pk)
        assert case.level == "district" and case.escalations_count == 1 and len(sweep_escalations(case)) == 1
        assert StageClock.objects.filter(case=case, stage="handle", finished_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_the_beat_runs_the_sweep_task_every_5_seconds(world, settings):
    from dispatch import tasks

    assert settings.CELERY_BEAT_SCHEDULE["sla-sweep"] == {"task": "dispatch.sweep", "schedule": 5.0}
    case = handling_case(world)
    with at(17):
        tasks.sweep.apply()
    assert Case.objects.get(pk=case.pk).level == "district"


@pytest.mark.django_db
def test_the_sweep_sends_a_warning_then_an_overdue_notice_and_tells_the_district_once(world):
    from dispatch.models import OutboxMessage

    case = handling_case(world)
    with at(16, 12):
        sweep()
    assert OutboxMessage.objects.filter(case=case, kind="warning", recipient_user=world.handler).count() == 1
    with at(16, 40):
        sweep()
    assert OutboxMessage.objects.filter(case=case, kind="warning").count() == 1  # not repeated
    with at(17):
        sweep()
        sweep()
    assert OutboxMessage.objects.filter(case=case, kind="overdue", recipient_user=world.handler).count() == 1
    assert OutboxMessage.objects.filter(case=case, kind="escalate",
                                        recipient_user=world.district_dispatcher).count() == 1


# --- The set-based pass: batches, the same results as one clock at a time, faults -----------------------------------
def accepted_case(world):
    """Hotline case filed Tue 13:50 and accepted 14:00 (no department yet): its dispatch clock (2 work_hour) warns at
    15:36 and runs out at 16:00; its notices go to the street's dispatchers."""
    from tests.events.conftest import file_hotline

    with at(13, 50):
        case = file_hotline(world)
    with at(14):
        return act(case, "accept", world.dispatcher, category="E0102")


def outbox_rows(case):
    from dispatch.models import OutboxMessage

    return sorted((m.kind, m.recipient_user.username, m.title, m.body, m.event_seq, tuple(sorted(m.payload.items())))
                  for m in OutboxMessage.objects.filter(case=case, kind__in=["warning", "overdue", "escalate"]))


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["batch", "one_by_one"])
def test_the_set_based_pass_does_what_one_clock_at_a_time_does(world, monkeypatch, mode, caplog,
                                                              batch_failures_expected):
    """The same lights, notices, escalations and new clocks whether a batch goes through at once or (when it fails)
    clock by clock, each a batch of one."""
    if mode == "one_by_one":
        claim = sweep_module._claim

        def broken(now, limit, skip, *, turn=False):  # the batch's claim fails; the one-by-one re-claim does not
            if turn:
                raise RuntimeError("batch path disabled for this test")
            return claim(now, limit, skip)

        monkeypatch.setattr(sweep_module, "_claim", broken)
    handling, accepted = handling_case(world), accepted_case(world)
    with at(15, 40):
        assert sweep() == sweep_module.SweepResult(warned=1)
    with at(16, 5):
        assert sweep() == sweep_module.SweepResult(overdue=1, escalated=1)
    with at(16, 12):
        assert sweep() == sweep_module.SweepResult(warned=1)
    with at(17, 1):
        assert sweep() == sweep_module.SweepResult(overdue=1, escalated=1)
    assert outbox_rows(accepted) == [
        ("escalate", "district_dispatcher", f"案卷 {accepted.number} 已上报至区级指挥中心",
         "超期：派遣时限 2026-11-24 16:00 已过", 3,
         (("case", accepted.number), ("event", "escalate"), ("seq", 3))),
        ("overdue", "dispatcher", f"超时：案卷 {accepted.number} 已超过处置时限", "暴露垃圾 · 路灯不亮", None,
         (("case", accepted.number), ("event", "overdue"), ("seq", None))),
        ("warning", "dispatcher", f"预警：案卷 {accepted.number} 即将到期", "暴露垃圾 · 路灯不亮", None,
         (("case", accepted.number), ("event", "warning"), ("seq", None))),
    ]
    assert [row[:2] for row in outbox_rows(handling)] == [
        ("escalate", "district_dispatcher"), ("overdue", "handler"), ("warning", "handler")]
    for case, stage in ((accepted, "dispatch"), (handling, "handle")):
        case = Case.objects.get(pk=case.pk)
        assert (case.level, case.escalations_count) == ("district", 1)
        old, new = StageClock.objects.filter(case=case, stage=stage).order_by("id")
        assert (old.light, old.escalated_for_breach, old.on_time, old.finished_at is not None) == (
            "red", True, False, True)
        assert (new.level, new.light, new.finished_at, new.started_at) == ("district", "green", None,
                                                                           sweep_escalations(case)[0].occurred_at)
        assert chain_verify(case) is None
    assert ("doing them one by one" in caplog.text) == (mode == "one_by_one")


@pytest.mark.django_db
def test_one_pass_takes_every_due_clock_in_as_many_batches_as_it_needs(world):
    cases = [handling_case(world) for _ in range(5)]
    with at(17):
        result = sweep(batch_size=2)
    assert (result.overdue, result.escalated) == (5, 5)
    assert all(Case.objects.get(pk=c.pk).level == "district" for c in cases)
    with at(17):
        assert sweep(batch_size=2) == sweep_module.SweepResult()


@pytest.mark.django_db
def test_a_crash_between_batches_keeps_the_first_and_the_next_pass_does_the_rest_once(world, monkeypatch):
    cases = [handling_case(world) for _ in range(4)]
    real, calls = sweep_module._advance, []

    def dies_on_the_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("worker killed")  # not an Exception: nothing catches it, as with SIGKILL
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "_advance", dies_on_the_second_batch)
    with at(17), pytest.raises(KeyboardInterrupt):
        sweep(batch_size=2)
    assert sorted(Case.objects.get(pk=c.pk).escalations_count for c in cases) == [0, 0, 1, 1]
    monkeypatch.undo()
    with at(17, 1):
        assert sweep(batch_size=2).escalated == 2
        assert sweep().escalated == 0
    for case in cases:
        case = Case.objects.get(pk=case.pk)
        assert case.escalations_count == 1 and len(sweep_escalations(case)) == 1 and chain_verify(case) is None
        assert StageClock.objects.filter(case=case, finished_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_a_failing_batch_is_done_again_clock_by_clock_and_a_bad_clock_does_not_stop_the_pass(world, monkeypatch,
                                                                                           caplog,
                                                                                           batch_failures_expected):
    cases = [handling_case(world) for _ in range(3)]
    bad = handle_clocks(cases[1])[0].pk
    real_advance = sweep_module._advance

    def advance(clocks, *args, **kwargs):
        if len(clocks) > 1:
            raise RuntimeError("the batch fails")
        if clocks[0].pk == bad:
            raise RuntimeError("a bad row")
        return real_advance(clocks, *args, **kwargs)

    monkeypatch.setattr(sweep_module, "_advance", advance)
    with at(17):
        result = sweep()
    assert result.escalated == 2  # the other two, one at a time
    assert "doing them one by one" in caplog.text and f"clock {bad}" in caplog.text
    assert [Case.objects.get(pk=c.pk).level for c in cases] == ["district", "street", "district"]
    monkeypatch.undo()
    with at(17, 1):
        assert sweep().escalated == 1  # the bad row stayed due and goes through once it is fixed


@pytest.mark.django_db
def test_the_number_of_queries_does_not_grow_with_the_due_clocks(world):
    """Warnings only (no escalation): a pass over 2 or 6 due clocks runs the same statements."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(count):
        for _ in range(count):
            handling_case(world)
        with at(16, 20), CaptureQueriesContext(connection) as captured:
            assert sweep().warned == count
        return len(captured)

    assert queries_for(2) == queries_for(6)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_case_locked_by_a_transition_is_left_to_the_next_pass_and_the_others_go_on(world):
    from django.db import transaction

    cases = [handling_case(world) for _ in range(3)]
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                list(Case.objects.select_for_update().filter(pk=cases[0].pk))
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        result = sweep(now=local(17, 5))  # ends although one due clock cannot be finished now
    finally:
        release.set()
        holder.join(30)
    assert (result.overdue, result.escalated) == (3, 2)
    first = handle_clocks(cases[0])
    assert len(first) == 1 and first[0].light == "red" and not first[0].escalated_for_breach
    again = sweep(now=local(17, 6))
    assert (again.overdue, again.escalated) == (0, 1)  # the overdue notice was written once, at the breach
    for case in cases:
        assert Case.objects.get(pk=case.pk).escalations_count == 1


@pytest.mark.postgres
@pytest.mark.django_db
def test_each_claim_query_reads_its_partial_index(world):
    """The claim queries match the predicates of the partial indexes (so a claim reads only due rows)."""
    from django.db import connection, transaction

    expected = ["clock_breach_pending", "clock_due_yellow", "clock_due_green"]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for (condition, order), index in zip(sweep_module._due_claims(local(17)), expected, strict=True):
            query = sweep_module._locking(StageClock.objects.filter(condition).order_by(order, "id"))[:1000]
            sql, params = query.query.sql_with_params()
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert index in plan, plan


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_dispatches_as_their_clocks_fall_due_neither_deadlock_with_the_sweep_nor_escalate_twice(world, monkeypatch,
                                                                                                 caplog):
    """Issue 21: a sweep claims a batch of overdue dispatch clocks while dispatchers act on those cases (and on others
    it is about to claim). Each action locks its case, then waits for the clock the sweep holds; the sweep, writing
    its notices (whose foreign keys lock the case FOR KEY SHARE), must not wait for the action in turn. Zero
    deadlocks, every action done, each breach of a case nobody acted on escalated exactly once."""
    from datetime import timedelta

    from django.db import connection as main

    from grids.models import Role
    from tests.factories import make_user

    both = make_user("both", (Role.DISPATCHER, world.regions["990101001"]), (Role.DISPATCHER, world.regions["990101"]))
    with at(10):
        cases = [file_patrol(world) for _ in range(24)]
    acted, untouched = cases[:20], cases[20:]
    now = max(StageClock.objects.filter(stage="dispatch").values_list("deadline", flat=True)) + timedelta(minutes=1)

    claimed, go = threading.Event(), threading.Event()
    advance = sweep_module._advance

    def held_after_the_first_claim(*args, **kwargs):  # the first batch is claimed: wait for the actions to queue
        if not claimed.is_set():
            claimed.set()
            go.wait(30)
        return advance(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "_advance", held_after_the_first_claim)
    results = {}

    def run(key, function):
        try:
            results[key] = function()
        except Exception as exc:  # noqa: BLE001 - asserted below
            results[key] = exc
        finally:
            connection.close()

    def dispatch(case):
        return lambda: act(case, "dispatch", both, department="s1-huanwei")

    def waiting_on_locks() -> int:
        with main.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND wait_event_type = 'Lock'")
            return cursor.fetchone()[0]

    with time_machine.travel(now, tick=False):
        sweeper = threading.Thread(target=run, args=("sweep", lambda: sweep(batch_size=8)))
        sweeper.start()
        assert claimed.wait(10)
        actions = [threading.Thread(target=run, args=(case.pk, dispatch(case))) for case in acted]
        for thread in actions:
            thread.start()
        for _ in range(1000):  # the 8 actions on the claimed cases queue behind the sweep's clock locks
            if waiting_on_locks() >= 8:
                break
            threading.Event().wait(0.01)
        queued = waiting_on_locks()
        go.set()
        for thread in [sweeper, *actions]:
            thread.join(60)
        again = sweep()

    assert queued >= 8
    assert "deadlock" not in caplog.text
    assert isinstance(results["sweep"], sweep_module.SweepResult), results["sweep"]
    failed = {pk: r for pk, r in results.items() if pk != "sweep" and not isinstance(r, Case)}
    assert not failed, failed
    for case in acted:
        case = Case.objects.get(pk=case.pk)
        assert case.state == "dispatched" and len(sweep_escalations(case)) <= 1
        assert chain_verify(case) is None
    for case in untouched:
        case = Case.objects.get(pk=case.pk)
        assert (case.level, case.escalations_count, len(sweep_escalations(case))) == ("district", 1, 1)
    escalated = CaseEvent.objects.filter(kind="escalate", actor_ref="sweep").count()
    assert results["sweep"].escalated + again.escalated == escalated
    assert StageClock.objects.filter(escalated_for_breach=True).count() == escalated
