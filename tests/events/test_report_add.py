"""A caller joins an open case instead of opening a duplicate (case_report_add), and progress inquiries answered by the
hotline are recorded (case_inquiry_answer); the caller's cases are found by phone (cases_of_citizen)."""
import pytest

from config.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from events.actors import Actor, citizen_key
from events.integrity import chain_verify
from events.models import Case, CaseEvent, Channel, InboundReport
from events.selectors import cases_of_citizen, categories_search, category_initials, inquiries_answered_count
from events.services import ReportInput, case_inquiry_answer, case_report_add
from grids.models import Role
from tests.events.conftest import act, file_hotline, file_patrol
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def call(world, **overrides) -> ReportInput:
    lat, lng = world.point
    data = ReportInput(channel=Channel.HOTLINE, description="还是那堆垃圾", lat=lat, lng=lng,
                       citizen_name="李四", citizen_phone="13900001111", idempotency_key="k-1")
    for key, value in overrides.items():
        setattr(data, key, value)
    return data


def test_a_caller_joins_an_open_case_with_a_report_and_an_event(world):
    case = file_patrol(world)
    joined, added = case_report_add(case=case.number, actor=Actor.staff(world.operator), data=call(world))
    assert added and joined.pk == case.pk
    assert Case.objects.count() == 1
    report = InboundReport.objects.get(case=case, channel=Channel.HOTLINE)
    assert report.citizen_key == citizen_key(phone="13900001111") and report.citizen_name == "李四"
    event = CaseEvent.objects.get(case=case, kind="report_added")
    assert (event.actor_id, event.actor_role, event.from_state, event.to_state) == (
        world.operator.pk, Role.OPERATOR, joined.state, joined.state)
    assert event.payload["report"] == report.pk and event.payload["distance_m"] == 0.0
    case = Case.objects.get(pk=case.pk)
    assert case.last_seq == event.seq and chain_verify(case) is None


def test_joining_again_with_the_same_key_adds_nothing(world):
    case = file_patrol(world)
    case_report_add(case=case.number, actor=Actor.staff(world.operator), data=call(world))
    again, added = case_report_add(case=case.number, actor=Actor.staff(world.operator), data=call(world))
    assert not added and again.pk == case.pk
    assert CaseEvent.objects.filter(case=case, kind="report_added").count() == 1
    assert InboundReport.objects.filter(case=case).count() == 2


def test_an_ended_case_cannot_be_joined(world):
    case = file_hotline(world, citizen_phone="13700000000")
    act(case, "reject", world.dispatcher, reason="不属实")
    with pytest.raises(Conflict, match="only an open case can be joined"):
        case_report_add(case=case.number, actor=Actor.staff(world.operator), data=call(world))
    assert InboundReport.objects.filter(case=case).count() == 1 and not CaseEvent.objects.filter(kind="report_added")


def test_an_operator_outside_the_case_area_cannot_join_it(world):
    case = file_patrol(world)
    west = make_user("west_operator", (Role.OPERATOR, world.regions["990102"]))
    with pytest.raises(PermissionDenied):
        case_report_add(case=case.number, actor=Actor.staff(west), data=call(world))
    with pytest.raises(PermissionDenied):
        case_report_add(case=case.number, actor=Actor.staff(world.handler), data=call(world))
    assert CaseEvent.objects.filter(case=case, kind="report_added").count() == 0


@pytest.mark.parametrize(("overrides", "field"), [
    ({"description": "  "}, "description"), ({"description": "x" * 4001}, "description"),
    ({"idempotency_key": "k" * 101}, "idempotency_key"),
])
def test_bad_join_input_names_the_field(world, overrides, field):
    case = file_patrol(world)
    with pytest.raises(InvalidInput) as refused:
        case_report_add(case=case.number, actor=Actor.staff(world.operator), data=call(world, **overrides))
    assert refused.value.field == field


def test_joining_a_case_that_does_not_exist_is_not_found(world):
    with pytest.raises(NotFound):
        case_report_add(case="20990101999", actor=Actor.staff(world.operator), data=call(world))


def test_the_callers_cases_are_found_by_phone_reported_or_joined_within_the_area(world):
    own = file_hotline(world, citizen_phone="13900001111")
    other = file_patrol(world)
    case_report_add(case=other.number, actor=Actor.staff(world.operator), data=call(world))
    file_hotline(world, citizen_phone="13700000000", idempotency_key="someone else")
    key = citizen_key(phone="139 0000 1111")
    assert [c.number for c in cases_of_citizen(key=key, user=world.operator)] == [other.number, own.number]
    west = make_user("west_operator", (Role.OPERATOR, world.regions["990102"]))
    assert cases_of_citizen(key=key, user=west) == []
    assert cases_of_citizen(key="", user=world.operator) == []


def test_an_answered_inquiry_is_an_event_counted_once_per_key(world):
    case = file_hotline(world, citizen_phone="13900001111")
    actor = Actor.staff(world.operator)
    _case, recorded = case_inquiry_answer(case=case.number, actor=actor, citizen_phone="13900001111",
                                          idempotency_key="ask-1")
    assert recorded
    _case, recorded = case_inquiry_answer(case=case.number, actor=actor, citizen_phone="13900001111",
                                          idempotency_key="ask-1")
    assert not recorded
    case_inquiry_answer(case=case.number, actor=actor, citizen_phone="13000000000", idempotency_key="ask-2")
    events = list(CaseEvent.objects.filter(case=case, kind="inquiry_answered").order_by("seq"))
    assert [e.payload["caller_is_reporter"] for e in events] == [True, False]
    assert events[0].payload["state"] == "reported" and events[0].to_state == "reported"
    assert inquiries_answered_count(user=world.operator) == 2
    assert inquiries_answered_count(user=world.dispatcher) == 0
    assert chain_verify(Case.objects.get(pk=case.pk)) is None


def test_an_inquiry_about_an_ended_case_is_recorded_too_but_only_by_an_operator_of_the_area(world):
    case = file_hotline(world)
    act(case, "reject", world.dispatcher, reason="不属实")
    case_inquiry_answer(case=case.number, actor=Actor.staff(world.operator))
    assert CaseEvent.objects.get(case=case, kind="inquiry_answered").payload["state"] == "rejected"
    west = make_user("west_operator", (Role.OPERATOR, world.regions["990102"]))
    with pytest.raises(PermissionDenied):
        case_inquiry_answer(case=case.number, actor=Actor.staff(west))
    with pytest.raises(PermissionDenied):
        case_inquiry_answer(case=case.number, actor=Actor.staff(world.dispatcher))
    assert CaseEvent.objects.filter(case=case, kind="inquiry_answered").count() == 1


@pytest.mark.parametrize(("text", "expected"), [
    ("sdlj", "E0101"), ("私搭", "E0101"), ("E0101", "E0101"), ("SDLJ", "E0101"), ("sslj", None),
])
def test_categories_are_found_by_name_code_or_pinyin_initials(world, text, expected):
    found = [c.code for c in categories_search(text)]
    if expected is None:
        assert "E0101" not in found
    else:
        assert found[0] == expected


def test_pinyin_initials_of_a_category(world):
    assert category_initials(world.category) == "sdlj"
    codes = [c.code for c in categories_search("jg")]  # 井盖: every manhole cover
    assert "C0101" in codes and len(codes) <= 12
    assert categories_search("  ") == []
