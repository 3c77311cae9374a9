"""Stage clocks through the case transitions, with deadlines from the work calendar (Tuesday 2026-11-24 is a normal
working day; windows 08:30–12:00 and 13:30–17:30 Asia/Shanghai)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from config.errors import Conflict
from dispatch.models import StageClock
from events.models import Category
from tests.conftest import client_for
from tests.events.conftest import act, file_hotline, file_patrol, photo

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def local(hour, minute=0, day=24):
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def at(hour, minute=0, day=24):
    return time_machine.travel(local(hour, minute, day), tick=False)


def clocks(case):
    return list(StageClock.objects.filter(case=case).order_by("started_at", "id"))


def open_clock(case):
    (clock,) = StageClock.objects.filter(case=case, finished_at__isnull=True)
    return clock


@pytest.fixture
def garbage():
    return Category.objects.get(code="E0102")  # 暴露垃圾: 4 work_hour


def handling_case(world, garbage):
    """A patrol case filed Tue 10:00, dispatched 11:00, signed 11:30: its handle clock runs to Tue 17:00."""
    with at(10):
        case = file_patrol(world, category=garbage)
    with at(11):
        act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    with at(11, 30):
        act(case, "sign", world.handler)
    return case


def test_a_clock_per_stage_across_the_full_loop(world, garbage):
    case = handling_case(world, garbage)
    with at(16):
        act(case, "complete", world.handler, note="已清理", photos=[photo()])
    with at(16, 30):
        act(case, "verify", world.worker, photos=[photo()])
    with at(17):
        act(case, "close", world.dispatcher)
    rows = clocks(case)
    assert [(c.stage, c.started_at, c.deadline, c.finished_at, c.on_time) for c in rows] == [
        ("accept", local(10), local(12), local(10), True),  # accepted on filing (patrol rule)
        ("dispatch", local(10), local(12), local(11), True),
        ("sign", local(11), local(14, 30), local(11, 30), True),  # 11–12 + 13:30–14:30
        ("handle", local(11, 30), local(17), local(16), True),  # 4 work_hour: 0.5 h + 3.5 h
        ("verify", local(16), local(9, day=25), local(16, 30), True),  # 1.5 h today + 0.5 h Wednesday
        ("feedback", local(16, 30), local(16, 30, day=27), local(17), True),  # 3 natural days
    ]
    dispatch = rows[1]
    assert dispatch.warn_at == local(11, 36)  # 80 % of 2 working hours
    assert (dispatch.limit_amount, dispatch.limit_unit) == (2, "work_hour")
    assert all(c.level == "street" and c.light == "green" for c in rows)


def test_only_the_current_stage_has_an_open_clock(world, garbage):
    with at(10):
        case = file_hotline(world)
    clock = open_clock(case)
    assert (clock.stage, clock.deadline) == ("accept", local(12))
    with at(10, 30):
        act(case, "accept", world.dispatcher, category="E0102")
    assert open_clock(case).stage == "dispatch"
    with at(11):
        act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    with at(11, 10):
        act(case, "return", world.handler, reason="不归我们管")  # back to the dispatcher: dispatch clock again
    assert [c.stage for c in clocks(case)] == ["accept", "dispatch", "sign", "dispatch"]
    assert open_clock(case).started_at == local(11, 10)


def test_urgent_limits_count_on_the_wall_clock(world, garbage):
    with at(17):  # after the last window: urgent accept still runs 30 wall-clock minutes
        case = file_hotline(world, urgency="urgent")
    clock = open_clock(case)
    assert (clock.limit_unit, clock.deadline) == ("urgent_hour", local(17, 30))


def test_a_late_finish_is_not_on_time(world, garbage):
    case = handling_case(world, garbage)
    with at(9, day=25):
        act(case, "complete", world.handler, note="晚了", photos=[photo()])
    handle = StageClock.objects.get(case=case, stage="handle")
    assert handle.on_time is False and handle.light == "red"


def test_suspension_pauses_the_handle_clock_and_resume_moves_the_deadline(world, garbage):
    case = handling_case(world, garbage)
    with at(14):
        act(case, "suspend", world.dispatcher, reason="待拆迁", until="2026-11-26")
    clock = open_clock(case)
    assert clock.paused_at == local(14) and clock.deadline == local(17)
    with at(10, day=25):
        act(case, "resume", world.dispatcher)
    clock = open_clock(case)
    # paused Tue 14:00–17:30 and Wed 08:30–10:00: 5 working hours; 3 of the 4 hours remain from Wed 10:00
    assert clock.paused_at is None and clock.paused_seconds == 5 * 3600
    assert clock.deadline == local(14, 30, day=25)
    assert clock.warn_at == local(13, 42, day=25)  # 3.2 h used + 5 h paused after Tue 11:30


def test_an_approved_extension_adds_one_limit_at_most_twice(world, garbage):
    case = handling_case(world, garbage)
    for _ in range(2):
        with at(12):
            act(case, "request_extension", world.handler, reason="材料未到")
            act(case, "approve_extension", world.dispatcher)
    clock = open_clock(case)
    assert (clock.extensions, clock.limit_amount) == (2, 12)
    assert clock.deadline == local(17, 30, day=25)  # 12 working hours from Tue 11:30
    with at(12), pytest.raises(Conflict):
        act(case, "request_extension", world.handler, reason="再延")


def test_one_extension_deadline(world, garbage):
    case = handling_case(world, garbage)
    with at(12):
        act(case, "request_extension", world.handler, reason="材料未到")
        act(case, "deny_extension", world.dispatcher, reason="不行")
    assert open_clock(case).deadline == local(17)
    with at(12):
        act(case, "request_extension", world.handler, reason="材料未到")
        act(case, "approve_extension", world.dispatcher)
    assert open_clock(case).deadline == local(12, day=25)  # 8 working hours


def test_rework_finishes_verify_and_restarts_handle(world, garbage):
    case = handling_case(world, garbage)
    with at(15):
        act(case, "complete", world.handler, note="已清理", photos=[photo()])
    with at(15, 30):
        act(case, "rework", world.worker, reason="没清干净")
    stages = [(c.stage, c.finished_at) for c in clocks(case)]
    assert stages[-3:] == [("handle", local(15)), ("verify", local(15, 30)), ("handle", None)]
    clock = open_clock(case)
    assert (clock.started_at, clock.deadline) == (local(15, 30), local(10, 30, day=25))  # 2 h + 2 h


def test_a_terminal_state_finishes_every_open_clock(world, garbage):
    case = handling_case(world, garbage)
    with at(14):
        act(case, "suspend", world.dispatcher, reason="待拆迁", until="2026-11-26")
    with at(15):
        act(case, "cancel", world.supervisor, reason="重复")
    assert not StageClock.objects.filter(case=case, finished_at__isnull=True).exists()
    handle = StageClock.objects.get(case=case, stage="handle")
    assert handle.finished_at == local(15) and handle.paused_at is None and handle.paused_seconds == 3600
    assert handle.on_time is True


def test_the_case_detail_lists_its_clocks(world, garbage):
    case = handling_case(world, garbage)
    body = client_for(world.dispatcher).get(f"/api/v1/cases/{case.number}/").json()
    assert [c["stage"] for c in body["clocks"]] == ["accept", "dispatch", "sign", "handle"]
    handle = body["clocks"][-1]
    assert set(handle) == {"stage", "level", "started_at", "deadline", "light", "finished_at", "on_time",
                           "paused_seconds"}
    assert handle["light"] == "green" and handle["finished_at"] is None and handle["on_time"] is None
    assert datetime.fromisoformat(handle["deadline"]) == local(17)


# --- Level changes restart the clock at the new level ---------------------------------------------------------------
def test_a_manual_escalation_restarts_the_stage_clock_with_the_new_levels_limit(world, garbage):
    from dispatch.models import SlaPolicy

    SlaPolicy.objects.create(stage="handle", level="district", amount=8, unit="work_hour")
    case = handling_case(world, garbage)
    with at(14):
        act(case, "escalate", world.dispatcher, reason="超出街道处置能力")
    street, district = StageClock.objects.filter(case=case, stage="handle").order_by("id")
    assert (street.level, street.finished_at, street.on_time, street.escalated_for_breach) == (
        "street", local(14), True, False)
    assert (district.level, district.started_at, district.finished_at) == ("district", local(14), None)
    assert (district.limit_amount, district.limit_unit) == (8, "work_hour")
    assert district.deadline == local(14, 30, day=25)  # 8 working hours from Tue 14:00 (3.5 h + 4.5 h Wednesday)
    assert open_clock(case) == district


def test_a_manual_escalation_after_the_deadline_finishes_the_old_clock_late_and_the_sweep_does_not_escalate_again(
        world, garbage):
    from dispatch.sweep import sweep

    case = handling_case(world, garbage)
    with at(17, 10):
        act(case, "escalate", world.dispatcher, reason="超期，上报区指挥中心")
        result = sweep()
    assert result.escalated == 0  # the breach of the street clock was escalated by hand already
    street, district = StageClock.objects.filter(case=case, stage="handle").order_by("id")
    assert street.on_time is False and street.finished_at == local(17, 10)
    assert district.level == "district" and district.deadline == local(13, 40, day=25)  # a fresh 4 h: 20 min + 3 h 40
    case.refresh_from_db(fields=["level", "escalations_count"])
    assert (case.level, case.escalations_count) == ("district", 1)


def test_escalating_a_suspended_case_starts_the_new_clock_paused(world, garbage):
    case = handling_case(world, garbage)
    with at(14):
        act(case, "suspend", world.dispatcher, reason="待拆迁", until="2026-11-26")
    with at(15):
        act(case, "escalate", world.supervisor, reason="需区级协调")
    clock = open_clock(case)
    assert (clock.level, clock.started_at, clock.paused_at) == ("district", local(15), local(15))
    old = StageClock.objects.filter(case=case, stage="handle", level="street").get()
    assert old.finished_at == local(15) and old.paused_at is None and old.paused_seconds == 3600
    with at(10, day=25):
        act(case, "resume", world.district_dispatcher)
    clock = open_clock(case)
    # paused Tue 15:00–17:30 and Wed 08:30–10:00 (4 working hours): the full 4 hours run from Wed 10:00
    assert clock.paused_at is None and clock.paused_seconds == 4 * 3600
    assert clock.deadline == local(15, 30, day=25)


def test_after_the_level_up_on_a_second_return_the_dispatch_clock_carries_the_upper_levels_limit(world, garbage):
    from dispatch.models import SlaPolicy

    SlaPolicy.objects.create(stage="dispatch", level="district", amount=1, unit="urgent_hour")
    case = handling_case(world, garbage)
    with at(13, 40):
        act(case, "return", world.handler, reason="非本单位")
        act(case, "dispatch", world.dispatcher, department=world.dept_y.code)
    with at(14):
        case = act(case, "return", world.handler_y, reason="非本单位")
    assert case.level == "district"
    clock = open_clock(case)
    assert (clock.stage, clock.level, clock.started_at) == ("dispatch", "district", local(14))
    assert (clock.limit_amount, clock.limit_unit, clock.deadline) == (1, "urgent_hour", local(15))
    street_dispatch = StageClock.objects.filter(case=case, stage="dispatch").order_by("id")
    assert [c.level for c in street_dispatch] == ["street", "street", "district"]


def test_the_breach_reason_is_written_in_the_sites_language_not_the_callers(settings):
    from types import SimpleNamespace

    from django.utils import translation

    from dispatch.sweep import _breach_reason

    clock = SimpleNamespace(stage="handle", deadline=datetime(2026, 11, 24, 9, 0, tzinfo=UTC))  # 17:00 in Shanghai
    with translation.override("en"):
        assert _breach_reason(clock) == "超期：处置时限 2026-11-24 17:00 已过"
    settings.LANGUAGE_CODE = "en"
    assert _breach_reason(clock) == "overdue: the handle (处置) deadline 2026-11-24 17:00 passed"
