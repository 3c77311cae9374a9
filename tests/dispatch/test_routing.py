"""Routing rules: the most specific rule wins, auto-dispatch records why, 属地兜底, and twice-returned cases go up."""

import pytest

from dispatch.models import RoutingRule
from dispatch.routing import route
from events.integrity import chain_verify
from events.models import CaseState, Category, CommandLevel
from tests.events.conftest import act, file_hotline, file_patrol
from tests.factories import make_department

pytestmark = pytest.mark.django_db


def rule(world, region_code, department, *, category=None, major=None, priority=0, auto=False, active=True):
    kind, code = major if major else ("", "")
    return RoutingRule.objects.create(
        category=category, major_kind=kind, major_code=code, region=world.regions[region_code],
        department=department, priority=priority, auto_dispatch=auto, active=active,
    )


def test_the_deepest_region_wins_over_a_wider_one(world):
    rule(world, "990101", world.district_dept, category=world.category)
    narrow = rule(world, "990101001", world.dept, category=world.category)
    case = file_patrol(world)
    decision = route(case)
    assert decision.department == world.dept and decision.rule_id == narrow.pk


def test_an_exact_category_beats_its_major_class_in_the_same_region(world):
    rule(world, "990101001", world.dept_y, major=("event", "01"))
    exact = rule(world, "990101001", world.dept, category=world.category)
    assert route(file_patrol(world)).rule_id == exact.pk


def test_priority_breaks_ties_and_inactive_rules_are_ignored(world):
    rule(world, "990101001", world.dept_y, category=world.category, priority=1)
    high = rule(world, "990101001", world.dept, category=world.category, priority=5)
    rule(world, "990101001", world.dept_y, category=world.category, priority=9, active=False)
    assert route(file_patrol(world)).rule_id == high.pk


def test_a_rule_of_another_area_or_category_does_not_apply_and_the_street_office_takes_it(world):
    office = make_department(world.regions["990101001"], type="街道", code="s1-office")
    rule(world, "990101002", world.dept_b, category=world.category)
    rule(world, "990101001", world.dept, category=Category.objects.get(code="E0102"))
    decision = route(file_patrol(world))
    assert decision.department == office and decision.rule_id is None
    assert "属地兜底" in decision.reason


def test_auto_dispatch_dispatches_on_acceptance_and_records_the_reason(world):
    auto = rule(world, "990101001", world.dept, category=world.category, auto=True)
    case = file_patrol(world)  # patrol reports are accepted on filing, so routing runs at once
    assert case.state == CaseState.DISPATCHED and case.department == world.dept
    accept, dispatch = case.events.filter(kind__in=["accept", "dispatch"]).order_by("seq")
    assert accept.payload["routing"]["rule"] == auto.pk
    assert dispatch.actor_kind == "system" and dispatch.actor_ref == f"rule:{auto.pk}"
    assert f"rule {auto.pk}" in dispatch.payload["explanation"] or f"规则 {auto.pk}" in dispatch.payload["explanation"]
    assert chain_verify(case) is None


def test_without_auto_dispatch_the_department_is_only_suggested(world):
    rule(world, "990101001", world.dept, category=world.category)
    case = file_hotline(world)
    case = act(case, "accept", world.dispatcher, category="E0101")
    assert case.state == CaseState.ACCEPTED and case.department is None
    assert case.events.get(kind="accept").payload["routing"]["department"] == world.dept.code


def test_a_case_returned_twice_goes_up_to_the_district_for_re_dispatch(world):
    case = file_patrol(world)
    act(case, "dispatch", world.dispatcher, department=world.dept.code)
    act(case, "return", world.handler, reason="非本单位")
    act(case, "dispatch", world.dispatcher, department=world.dept_y.code)
    case = act(case, "return", world.handler_y, reason="非本单位")
    assert case.level == CommandLevel.DISTRICT and case.escalations_count == 1
    last = case.events.order_by("-seq").first()
    assert last.kind == "escalate" and last.actor_kind == "system" and last.payload["to_level"] == "district"
    case = act(case, "dispatch", world.district_dispatcher, department=world.district_dept.code)
    assert case.state == CaseState.DISPATCHED
    assert chain_verify(case) is None


def test_upper_level_routing_only_sends_work_to_that_level_or_above(world):
    rule(world, "990101001", world.dept, category=world.category)
    case = file_patrol(world)
    act(case, "escalate", world.dispatcher, reason="超出街道处置能力")
    case.refresh_from_db(fields=["level"])
    assert route(case).department is None
