"""The rollups agree with a direct count after random workloads through the real services, the sweep finds events
whose transaction committed late, recurrence follows the later reports, and rebuild_rollups recomputes the same."""

import contextlib
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.errors import DomainError
from dispatch.evaluation.direct import direct_mismatches
from dispatch.evaluation.rollups import rollups_advance, rollups_catch_up, rollups_rebuild
from dispatch.models.evaluation import COUNTERS, CaseFact, DailyFact, FactItem, RollupCursor, SummaryFact
from dispatch.sweep import sweep
from events.actors import Actor
from events.models import Case, CaseEvent, CaseState, Category
from events.services import case_act
from tests.events.conftest import act, file_hotline, file_patrol, photo
from tests.events.states import ROLE_FOR_ACTION, actor_for, valid_inputs

from .conftest import at, check_and_close, handle

pytestmark = pytest.mark.django_db

POINTS = [(30.005, 120.005), (30.0052, 120.0052), (30.005, 120.0056), (30.005, 120.015)]  # 0 m, 29 m, 58 m, 1 km


def tables() -> dict:
    """Every rollup row with a non-zero counter, as comparable data."""
    out = {}
    for model, keys in ((DailyFact, ("day", "region_code", "department", "category", "channel")),
                        (SummaryFact, ("dim", "grain", "period", "key", "scope"))):
        for row in model.objects.values(*keys, *COUNTERS):
            values = tuple(row[c] for c in COUNTERS)
            if any(values):
                out[(model.__name__, *(row[k] for k in keys))] = values
    return out


# What usually happens next in each state (repeats weigh the choice).
NEXT = {
    "reported": ["accept"] * 6 + ["reject", "merge", "request_field_check"],
    "accepted": ["dispatch"] * 5 + ["merge"],
    "dispatched": ["sign"] * 4 + ["return"],
    "handling": ["complete"] * 5 + ["request_extension", "suspend", "return"],
    "suspended": ["resume"],
    "handled": ["verify"] * 3 + ["rework"],
    "verified": ["feedback"] * 2 + ["close"],
    "closed": ["reopen"],
}


def _actor(world, case: Case, capacity: str) -> Actor:
    """Who plays ``capacity`` on this case now: the dispatcher of its current level, the handler of its department."""
    if capacity == "dispatcher":
        user = {"street": world.dispatcher, "district": world.district_dispatcher,
                "city": world.city_dispatcher}[case.level]
        return Actor.staff(user)
    if capacity == "handler":
        return Actor.staff(world.handler_y if case.department_id == world.dept_y.pk else world.handler)
    return actor_for(world, capacity)


def _step(world, cases: list, op: int, pick: int, number: int) -> None:
    if op == 0 or not cases:
        lat, lng = POINTS[number % len(POINTS)]
        if number % 2:
            cases.append(file_patrol(world, lat=lat, lng=lng, category=Category.objects.get(code="E0102")).number)
        else:
            cases.append(file_hotline(world, lat=lat, lng=lng).number)
        return
    if op == 1:
        sweep()  # lights, breach escalations, resuming suspended cases
        return
    if op == 2:
        rollups_advance(limit=1 + number % 7)  # part of the new events: the rest on a later run
        return
    case = Case.objects.get(number=cases[pick % len(cases)])
    if number % 11 == 0:  # now and then an oversight action
        choices = ["escalate", "cancel", "urge", "supervise"]
    else:
        choices = NEXT.get(case.state, [])
        if case.extension_pending:
            choices = ["approve_extension", "deny_extension"]
    if not choices:
        return
    name = choices[number % len(choices)]
    inputs = valid_inputs(world, name)
    if name == "feedback":
        inputs["rating"] = 1 + number % 5
    if name == "dispatch" and number % 4 == 0:
        inputs["department"] = world.dept_y.code  # the wrong one: it may be returned
    if name == "dispatch" and case.level != "street":
        inputs["department"] = world.district_dept.code
    with contextlib.suppress(DomainError):  # not possible now (conditions, scope after an escalation …): go on
        case_act(case=case.number, action=name, actor=_actor(world, case, ROLE_FOR_ACTION[name]), inputs=inputs)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 50), st.integers(0, 1000), st.sampled_from([0, 5, 30, 240, 1500])),
                min_size=4, max_size=40))
def test_rollups_equal_a_direct_count_after_random_workloads(world, steps):
    with time_machine.travel(at(0, "08:00"), tick=False) as clock:
        cases: list[str] = []
        for op, pick, number, minutes in steps:
            clock.shift(timedelta(minutes=minutes))
            _step(world, cases, op, pick, number)
        rollups_catch_up()
        assert direct_mismatches() == []
        incremental = tables()
        rollups_rebuild(batch=3)
        assert tables() == incremental
        assert direct_mismatches() == []


def test_the_sweep_picks_up_events_whose_transaction_committed_late(world, clock):
    if connection.vendor == "postgresql":
        pytest.skip("renumbers events to simulate a late commit; PostgreSQL refuses UPDATE on the event log (the "
                    "postgres test below commits late for real)")
    clock.move_to(at(0, "09:00"))
    case = file_patrol(world)
    rollups_catch_up()
    last = CaseEvent.objects.order_by("-id").first()
    # Simulate a transaction still open: the next event got id last+4 while last+1 … last+3 are not visible yet.
    case = act(case, "dispatch", world.dispatcher, department=world.dept.code)
    newest = CaseEvent.objects.get(case=case, kind="dispatch")
    hidden_id = newest.id
    CaseEvent.objects.filter(pk=hidden_id).update(id=last.id + 4)
    rollups_advance()
    cursor = RollupCursor.objects.get()
    assert cursor.last_event_id == last.id + 4
    assert [gap for gap, _seen in cursor.gaps] == [last.id + 1, last.id + 2, last.id + 3]
    # The open transaction commits: its event appears with a lower id than the cursor.
    CaseEvent.objects.filter(pk=last.id + 4).update(id=last.id + 2)
    FactItem.objects.filter(case=case).delete()  # make the re-read visible: the fact must come back
    CaseFact.objects.filter(case=case).delete()
    result = rollups_advance()
    assert result.cases == 1
    assert FactItem.objects.filter(case=case, dispatched=1).exists()
    assert [gap for gap, _seen in RollupCursor.objects.get().gaps] == [last.id + 1, last.id + 3]
    # Ids that never appear are dropped once the event after them is older than GRIDLOOP_ROLLUP_GAP_SECONDS.
    clock.shift(timedelta(seconds=601))
    rollups_advance()
    assert RollupCursor.objects.get().gaps == []


def test_a_case_seen_twice_or_with_nothing_new_changes_nothing(world, clock):
    clock.move_to(at(0, "09:00"))
    file_patrol(world)
    rollups_catch_up()
    before = tables()
    RollupCursor.objects.update(last_event_id=0)  # read the whole log again
    result = rollups_catch_up()
    assert result.changed == 0 and tables() == before


def test_recurrence_follows_later_reports_of_the_same_problem(world, clock):
    e0102 = Category.objects.get(code="E0102")
    clock.move_to(at(0, "09:00"))
    first = file_patrol(world, lat=30.005, lng=120.005, category=e0102)
    first = handle(world, first, clock)
    first = check_and_close(world, first, clock, verify="10:10", close="10:20")
    rollups_catch_up()

    def recurred():
        return FactItem.objects.filter(case=first, resolved_located=1).values_list("recurred", flat=True).get()

    assert recurred() == 0
    clock.move_to(at(10, "09:00"))
    far = file_patrol(world, lat=30.005, lng=120.0056, category=e0102)  # 58 m away
    other = file_patrol(world, lat=30.005, lng=120.005)  # another category, same place
    rollups_catch_up()
    assert recurred() == 0 and far.pk and other.pk
    near = file_hotline(world, lat=30.0052, lng=120.0052)  # 29 m away, category set on acceptance
    rollups_catch_up()
    assert recurred() == 0  # no category yet
    clock.move_to(at(10, "09:30"))
    near = act(near, "accept", world.dispatcher, category=e0102)
    rollups_catch_up()
    assert recurred() == 1
    # … but not when the later report is cancelled
    clock.move_to(at(10, "10:00"))
    act(near, "cancel", world.supervisor, reason="误报")
    rollups_catch_up()
    assert recurred() == 0
    # and a report more than 30 days after the closure does not count
    clock.move_to(at(31, "09:00"))
    file_patrol(world, lat=30.005, lng=120.005, category=e0102)
    rollups_catch_up()
    assert recurred() == 0
    assert direct_mismatches() == []


def test_rebuild_rollups_command_recomputes_and_checks(world, clock, capsys):
    clock.move_to(at(0, "09:00"))
    case = file_patrol(world)
    act(case, "dispatch", world.dispatcher, department=world.dept.code)
    call_command("rebuild_rollups", "--check")
    out = capsys.readouterr().out
    assert "rebuilt the facts of 1 case(s)" in out and "rollups agree with the direct count" in out
    DailyFact.objects.update(dispatched=5)  # a corrupted rollup is found
    with pytest.raises(CommandError, match="differ from the direct count"):
        call_command("rebuild_rollups", "--catch-up", "--check")
    call_command("rebuild_rollups", "--check")
    with pytest.raises(CommandError, match="--batch must be above 0"):
        call_command("rebuild_rollups", "--batch", "0")
    assert case.state == CaseState.ACCEPTED


def test_the_beat_task_counts_new_events(world, clock, settings):
    from dispatch.tasks import rollups

    assert settings.CELERY_BEAT_SCHEDULE["evaluation-rollups"]["task"] == "dispatch.rollups"
    clock.move_to(at(0, "09:00"))
    file_patrol(world, photos=[photo()])
    rollups()
    assert DailyFact.objects.filter(reported=1).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_event_committed_after_a_later_one_is_still_counted(world):
    """A transition whose transaction is still open when the sweep passes (its event id lower than one already
    committed) is counted on a later run: the sweep keeps the missing id as a gap and looks for it again."""
    import threading

    from django.db import connections, transaction

    slow = file_patrol(world)
    fast = file_patrol(world)
    rollups_catch_up()
    RollupCursor.objects.update(gaps=[])  # ids of earlier tests' rolled-back rows: not what this test is about
    inserted, release = threading.Event(), threading.Event()

    def open_transaction():
        try:
            with transaction.atomic():
                case_act(case=slow.number, action="dispatch", actor=Actor.staff(world.dispatcher),
                         inputs={"department": world.dept.code})
                inserted.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=open_transaction)
    thread.start()
    assert inserted.wait(30)
    act(fast, "dispatch", world.dispatcher, department=world.dept.code)  # a higher id, committed first
    rollups_advance()
    assert FactItem.objects.filter(case=fast, dispatched=1).exists()
    assert not FactItem.objects.filter(case=slow, dispatched=1).exists()
    assert len(RollupCursor.objects.get().gaps) == 1
    release.set()
    thread.join(30)
    rollups_advance()
    assert FactItem.objects.filter(case=slow, dispatched=1).exists()
    assert RollupCursor.objects.get().gaps == []
    assert direct_mismatches() == []


def test_a_report_located_on_acceptance_moves_its_counts_to_the_place(world, clock):
    """An unstructured citizen report is counted at the city center until a dispatcher locates it; then every item
    of the case moves to its grid (and nothing stays behind at the city)."""
    from dispatch.evaluation.selectors import MetricsScope, Period, counter_sums
    from events.actors import citizen_key
    from events.models import Channel
    from events.services import ReportInput, case_report

    clock.move_to(at(0, "09:00"))
    data = ReportInput(channel=Channel.WECHAT, description="桥下积水很深", unstructured=True, region_code="990100",
                       citizen_openid="o-heval-1")
    case, _ = case_report(actor=Actor.citizen(citizen_key(openid="o-heval-1")), data=data)
    rollups_catch_up()
    day = Period(at(0, "00:00").date(), at(0, "00:00").date())
    assert counter_sums(group_by="district", period=day, scope=MetricsScope())[""]["reported"] == 1
    clock.move_to(at(0, "09:30"))
    lat, lng = world.point
    act(case, "accept", world.city_dispatcher, category=world.category, lat=lat, lng=lng)
    rollups_catch_up()
    by_district = counter_sums(group_by="district", period=day, scope=MetricsScope())
    assert by_district["990101"]["reported"] == 1 and by_district["990101"]["accepted"] == 1
    assert by_district.get("", {}).get("reported", 0) == 0
    assert not DailyFact.objects.filter(region_code="990100").exclude(reported=0).exists()
    assert direct_mismatches() == []
