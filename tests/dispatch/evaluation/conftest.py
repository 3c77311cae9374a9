"""Evaluation tests (the ``world`` fixture comes from tests/dispatch/conftest.py): a controlled clock, and a hand-built set of cases with known answers.

``scenario(world, clock)`` files eleven cases on Monday 2026-03-02 (a working day) in grid 990101001001001, each a
known story — on time, late, reworked, returned, extended, suspended, reopened, cancelled, merged, handled on the
spot, rejected — ~100 m apart (so none repeats another), and returns them by name. EXPECTED is what the rollups must
say about them (docs/indicators.md, worked out by hand in the comments).
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from events.models import Category
from tests.events.conftest import act, file_hotline, file_patrol, photo

SH = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 3, 2, tzinfo=SH).date()


def at(day_offset: int, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2026, 3, 2, hour, minute, tzinfo=SH) + timedelta(days=day_offset)


@pytest.fixture
def clock():
    with time_machine.travel(at(0, "08:00"), tick=False) as traveller:
        yield traveller


def point(index: int) -> tuple[float, float]:
    """Points ~96 m apart inside grid 990101001001001 (lng 120.00–120.01, lat 30.00–30.01)."""
    return 30.005, 120.0005 + 0.00093 * index


def patrol(w, index, **overrides):
    lat, lng = point(index)
    return file_patrol(w, lat=lat, lng=lng, category=Category.objects.get(code="E0102"), **overrides)


def hotline(w, index, **overrides):
    lat, lng = point(index)
    return file_hotline(w, lat=lat, lng=lng, **overrides)


def assign(w, case, clock, *, dispatch="09:10", sign="09:20", day=0):
    clock.move_to(at(day, dispatch))
    case = act(case, "dispatch", w.dispatcher, department=w.dept.code)
    clock.move_to(at(day, sign))
    return act(case, "sign", w.handler)


def handle(w, case, clock, *, dispatch="09:10", sign="09:20", complete="10:00", day=0):
    case = assign(w, case, clock, dispatch=dispatch, sign=sign, day=day)
    clock.move_to(at(day, complete))
    return act(case, "complete", w.handler, note="已处理", photos=[photo()])


def check_and_close(w, case, clock, *, verify, close, day=0):
    clock.move_to(at(day, verify))
    case = act(case, "verify", w.worker, photos=[photo()])
    clock.move_to(at(day, close))
    return act(case, "close", w.dispatcher)


def scenario(w, clock) -> dict:
    cases = {}
    e0102 = Category.objects.get(code="E0102")  # 暴露垃圾: handled within 4 working hours
    clock.move_to(at(0, "09:00"))
    # 1. on time all the way (patrol: accepted on filing by rule)
    c = patrol(w, 1)
    c = handle(w, c, clock)
    cases["on_time"] = check_and_close(w, c, clock, verify="10:30", close="10:40")
    # 2. handled late: the 4 working hours from 09:20 end Monday 14:50; completed Tuesday 10:00
    clock.move_to(at(0, "09:00"))
    cases["late"] = assign(w, patrol(w, 2), clock)
    # 3. reworked once
    clock.move_to(at(0, "09:00"))
    c = patrol(w, 3)
    c = handle(w, c, clock)
    clock.move_to(at(0, "10:30"))
    c = act(c, "rework", w.worker, reason="没有清理干净")
    clock.move_to(at(0, "11:00"))
    c = act(c, "complete", w.handler, note="再次清理", photos=[photo()])
    cases["reworked"] = check_and_close(w, c, clock, verify="11:10", close="11:20")
    # 4. returned by the wrong department, dispatched again
    clock.move_to(at(0, "09:00"))
    c = patrol(w, 4)
    clock.move_to(at(0, "09:10"))
    c = act(c, "dispatch", w.dispatcher, department=w.dept_y.code)
    clock.move_to(at(0, "09:20"))
    c = act(c, "return", w.handler_y, reason="非本单位职责")
    c = handle(w, c, clock, dispatch="09:30", sign="09:40", complete="10:00")
    cases["returned"] = check_and_close(w, c, clock, verify="10:10", close="10:20")
    # 5. extended: one more 4 working hours → due Tuesday 09:50; completed Monday 16:00 (late without it)
    clock.move_to(at(0, "09:00"))
    cases["extended"] = assign(w, patrol(w, 5), clock)
    # 6. suspended Monday 10:00 until Wednesday 09:00, completed Wednesday 11:00 (the pause keeps it on time)
    clock.move_to(at(0, "09:00"))
    c = assign(w, patrol(w, 6), clock)
    clock.move_to(at(0, "10:00"))
    c = act(c, "suspend", w.dispatcher, reason="等待配合", until=at(2, "09:00"))
    cases["suspended"] = c
    # 7. reopened: a hotline case rated 2, reopened, handled again and rated 5
    clock.move_to(at(0, "09:00"))
    c = hotline(w, 7)
    clock.move_to(at(0, "09:05"))
    c = act(c, "accept", w.dispatcher, category=e0102)
    c = handle(w, c, clock)
    clock.move_to(at(0, "10:10"))
    c = act(c, "verify", w.worker, photos=[photo()])
    clock.move_to(at(0, "10:20"))
    c = act(c, "feedback", w.operator, rating=2, comment="没修好")
    clock.move_to(at(0, "10:30"))
    c = act(c, "reopen", w.supervisor, reason="市民不满意")
    clock.move_to(at(0, "11:00"))
    c = act(c, "complete", w.handler, note="重新处理", photos=[photo()])
    clock.move_to(at(0, "11:10"))
    c = act(c, "verify", w.worker, photos=[photo()])
    clock.move_to(at(0, "11:20"))
    cases["reopened"] = act(c, "feedback", w.operator, rating=5, comment="满意")
    # 8. cancelled after dispatch
    clock.move_to(at(0, "09:00"))
    c = hotline(w, 8)
    clock.move_to(at(0, "09:05"))
    c = act(c, "accept", w.dispatcher, category=e0102)
    clock.move_to(at(0, "09:10"))
    c = act(c, "dispatch", w.dispatcher, department=w.dept.code)
    clock.move_to(at(0, "09:30"))
    cases["cancelled"] = act(c, "cancel", w.supervisor, reason="重复录入")
    # 9. merged into another open case before acceptance
    clock.move_to(at(0, "09:00"))
    c = hotline(w, 9)
    target = hotline(w, 20)
    clock.move_to(at(0, "09:06"))
    cases["merged"] = act(c, "merge", w.dispatcher, target=target.number)
    clock.move_to(at(0, "09:07"))
    cases["rejected_target"] = act(target, "reject", w.dispatcher, reason="不属于受理范围")
    # 10. handled on the spot by the grid worker
    clock.move_to(at(0, "09:00"))
    lat, lng = point(10)
    c = file_patrol(w, lat=lat, lng=lng, category=e0102, self_handled=True, photos=[],
                    before_photos=[photo()], after_photos=[photo()])
    clock.move_to(at(0, "09:30"))
    cases["self_handled"] = act(c, "confirm_self_handled", w.dispatcher)
    # 11. rejected
    clock.move_to(at(0, "09:00"))
    c = hotline(w, 11)
    clock.move_to(at(0, "09:10"))
    cases["rejected"] = act(c, "reject", w.dispatcher, reason="不属于受理范围")

    # Monday afternoon: case 5 completes (after the original 14:50 deadline)
    clock.move_to(at(0, "10:00"))
    c = act(cases["extended"], "request_extension", w.handler, reason="需要清运车辆")
    clock.move_to(at(0, "10:05"))
    c = act(c, "approve_extension", w.dispatcher)
    clock.move_to(at(0, "16:00"))
    c = act(c, "complete", w.handler, note="已清运", photos=[photo()])
    cases["extended"] = check_and_close(w, c, clock, verify="16:10", close="16:20")
    # Tuesday: case 2 completes late
    clock.move_to(at(1, "10:00"))
    c = act(cases["late"], "complete", w.handler, note="已处理", photos=[photo()])
    cases["late"] = check_and_close(w, c, clock, verify="10:10", close="10:20", day=1)
    # Wednesday: case 6 resumes and completes
    clock.move_to(at(2, "09:00"))
    c = act(cases["suspended"], "resume", w.dispatcher, note="恢复处理")
    clock.move_to(at(2, "11:00"))
    c = act(c, "complete", w.handler, note="已处理", photos=[photo()])
    cases["suspended"] = check_and_close(w, c, clock, verify="11:10", close="11:20", day=2)
    return cases


# Over Monday–Wednesday, every case (the merge target, 20, is a rejected hotline report like 11):
EXPECTED = {
    "reported": 12,  # 11 stories + the merge target
    "valid": 9,  # 1–8 and 10 were filed (立案); 9 merged, 11 and the target rejected
    "valid_public": 2,  # 7, 8 (hotline)
    "accepted": 9, "accepted_on_time": 9, "accepted_accurate": 8, "voided": 1,  # 8 cancelled after 立案
    "due": 8, "due_closed": 8, "due_closed_on_time": 7, "due_closed_late": 1,  # 2 was late
    "first_time": 5,  # 1, 2, 5, 6, 10 (3 reworked, 4 returned, 7 reopened)
    "dispatched": 9, "dispatched_on_time": 9, "dispatched_accurate": 8, "dispatch_returned": 1,  # 4 twice
    "handle_due": 7, "handle_done": 7, "handle_on_time": 6, "reworks": 1, "extensions": 1,  # 1–7 (8 voided)
    "handled": 7,
    "checks": 9, "checks_on_time": 9,  # 3 and 7 were checked twice
    "closed": 8, "closed_self_handled": 1, "duration_count": 7,
    # report → closure: 1: 1 h 40, 2: 25 h 20, 3: 2 h 20, 4: 1 h 20, 5: 7 h 20, 6: 50 h 20, 7: 2 h 20
    "duration_seconds": (100 + 1520 + 140 + 80 + 440 + 3020 + 140) * 60,
    "d01": 2, "d02": 2, "d03": 1, "d05": 1, "d06": 1,
    "resolved_located": 8,  # none recurred: the cases are ~96 m apart
    "rated": 2, "satisfied": 1,
}
