"""GET requests and GET requests/{id}: the spec's fields, status and notes, filters, the default window, paging,
updated_after, extensions — within the public scope, and never a citizen's contact details."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from dispatch.models import Stage, StageClock
from events.models import Case
from tests.events.conftest import act, file_hotline, photo
from tests.events.open311.conftest import (
    CITIZEN,
    REQUEST_FIELDS,
    children,
    errors,
    file_request,
    json_of,
    url,
    xml_of,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


def at(moment):
    return time_machine.travel(moment, tick=False)


def listed(client, fmt="json", **params) -> list[str]:
    response = client.get(url("requests", fmt), params)
    if fmt == "xml":
        return [request.findtext("service_request_id") for request in xml_of(response).findall("request")]
    return [request["service_request_id"] for request in json_of(response)]


def handling(world, number):
    act(number, "accept", world.dispatcher)
    act(number, "dispatch", world.dispatcher, department=world.dept.code)
    act(number, "sign", world.handler)


def test_get_requests_xml_has_every_field_of_the_spec(o311, world, api_key):
    with at(T0):
        number = file_request(o311, world, api_key, address_string="幸福路 12 号",
                              media_url="https://img.example.com/a.jpg", **CITIZEN)
    with at(T0 + timedelta(minutes=5)):
        root = xml_of(o311.get(url("requests", "xml")))
    assert root.tag == "service_requests"
    [request] = root.findall("request")
    fields = children(request)
    assert list(fields) == REQUEST_FIELDS
    lat, lng = world.point
    assert fields["service_request_id"] == number and fields["status"] == "open"
    assert fields["status_notes"] == "待受理"
    assert fields["service_code"] == "E0101" and fields["service_name"] == world.category.minor_name
    assert fields["description"] == "小区门口垃圾堆积三天无人清理"
    assert fields["requested_datetime"] == fields["updated_datetime"] == "2026-03-02T10:00:00+08:00"
    assert datetime.fromisoformat(fields["requested_datetime"]) == T0
    assert fields["address"] == "幸福路 12 号" and fields["address_id"] == world.grid
    assert abs(float(fields["lat"]) - lat) < 1e-6 and abs(float(fields["long"]) - lng) < 1e-6
    assert fields["media_url"] == "https://img.example.com/a.jpg"
    assert fields["agency_responsible"] is None and fields["expected_datetime"] is None  # not dispatched yet
    assert fields["zipcode"] is None and fields["service_notice"]


def test_get_requests_json_has_the_same_fields(o311, world, api_key):
    number = file_request(o311, world, api_key)
    [request] = json_of(o311.get(url("requests", "json")))
    assert list(request) == REQUEST_FIELDS
    assert request["service_request_id"] == number and request["status"] == "open"
    assert isinstance(request["lat"], float) and request["media_url"] is None
    assert request["address"] == "网格001-1, 街道1001, 东区"  # no address given: the places, most specific first


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_no_contact_detail_of_the_citizen_is_ever_published(o311, world, api_key, fmt):
    number = file_request(o311, world, api_key, **CITIZEN)
    bodies = [o311.get(url("requests", fmt)).content, o311.get(url(f"requests/{number}", fmt)).content,
              o311.get(url("requests", fmt), {"extensions": "true"}).content,
              o311.get(url("servicerequestupdates", fmt)).content]
    for body in bodies:
        text = body.decode()
        assert number in text
        for secret in ("li.si", "example.com", "13900001111", "李四", "device-778899", "acct-445566"):
            assert secret not in text


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_one_request_by_its_id(o311, world, api_key, fmt):
    number = file_request(o311, world, api_key)
    file_request(o311, world, api_key)
    response = o311.get(url(f"requests/{number}", fmt))
    if fmt == "xml":
        root = xml_of(response)
        assert root.tag == "service_requests"
        [request] = root.findall("request")
        assert list(children(request)) == REQUEST_FIELDS and request.findtext("service_request_id") == number
    else:
        [request] = json_of(response)
        assert request["service_request_id"] == number


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_an_unknown_request_is_a_404(o311, world, fmt):
    assert "2026" in errors(o311.get(url("requests/202601010001", fmt)), 404, fmt)[0]


def test_the_handling_department_and_the_handle_deadline_are_published(o311, world, api_key):
    with at(T0):
        number = file_request(o311, world, api_key)
        handling(world, number)
        [request] = json_of(o311.get(url(f"requests/{number}", "json")))
    deadline = StageClock.objects.get(case__number=number, stage=Stage.HANDLE).deadline
    assert request["agency_responsible"] == world.dept.name
    assert datetime.fromisoformat(request["expected_datetime"]) == deadline
    assert request["status"] == "open" and request["status_notes"] == "处置中"


def test_closed_requests_say_why_they_ended(o311, world, api_key):
    rejected = file_request(o311, world, api_key)
    act(rejected, "reject", world.dispatcher, reason="不属于受理范围")
    main = file_request(o311, world, api_key)
    duplicate = file_request(o311, world, api_key)
    act(duplicate, "merge", world.dispatcher, target=main)
    resolved = file_request(o311, world, api_key, phone="13900002222")
    handling(world, resolved)
    act(resolved, "complete", world.handler, note="已清理", photos=[photo()])
    act(resolved, "verify", world.worker, photos=[photo()])
    act(resolved, "feedback", world.operator, rating=5)
    body = {r["service_request_id"]: r for r in json_of(Client().get(url("requests", "json"),
                                                                     headers={"Accept-Language": "en"}))}
    assert body[rejected]["status"] == body[duplicate]["status"] == body[resolved]["status"] == "closed"
    assert body[rejected]["status_notes"] == "not accepted"
    assert body[duplicate]["status_notes"] == f"merged into case {main} (a report of the same problem)"
    assert body[resolved]["status_notes"] == "closed: resolved"
    assert body[main]["status"] == "open"


# --- filters -------------------------------------------------------------------------------------------------------------
def test_service_request_id_lists_requests_and_overrides_every_other_filter(o311, world, api_key):
    a, b, c = (file_request(o311, world, api_key) for _ in range(3))
    assert set(listed(o311, service_request_id=f"{a},{c}")) == {a, c}
    assert set(listed(o311, "xml", service_request_id=f"{a}, {b}", status="closed",
                      start_date="2001-01-01T00:00:00Z")) == {a, b}
    assert listed(o311, service_request_id="nope") == []


def test_too_many_ids_is_a_400(o311, world):
    ids = ",".join(str(n) for n in range(1001))
    assert "service_request_id" in errors(o311.get(url("requests", "json"), {"service_request_id": ids}), 400,
                                          "json")[0]


def test_service_code_filters_and_may_list_several(o311, world, api_key):
    e = file_request(o311, world, api_key)
    c = file_request(o311, world, api_key, service_code="C0101")
    assert listed(o311, service_code="C0101") == [c]
    assert set(listed(o311, service_code="C0101,E0101")) == {c, e}
    assert "X9999" in errors(o311.get(url("requests", "xml"), {"service_code": "X9999"}), 400)[0]


def test_status_filters_open_and_closed(o311, world, api_key):
    open_one = file_request(o311, world, api_key)
    closed_one = file_request(o311, world, api_key)
    act(closed_one, "reject", world.dispatcher, reason="重复")
    assert listed(o311, status="open") == [open_one]
    assert listed(o311, status="closed") == [closed_one]
    assert set(listed(o311, status="open,closed")) == {open_one, closed_one}
    assert "status" in errors(o311.get(url("requests", "json"), {"status": "pending"}), 400, "json")[0]


def test_the_default_window_is_the_last_90_days(o311, world, api_key):
    with at(T0):
        old = file_request(o311, world, api_key)
    with at(T0 + timedelta(days=80)):
        recent = file_request(o311, world, api_key)
    with at(T0 + timedelta(days=89)):
        assert listed(o311) == [recent, old]  # newest first
    with at(T0 + timedelta(days=91)):
        assert listed(o311) == [recent]
        assert listed(o311, start_date="2026-03-01T00:00:00Z", end_date="2026-03-03T00:00:00Z") == [old]
        assert listed(o311, start_date="2026-03-02") == [recent, old]  # a date alone: local midnight; 90 days on
        assert listed(o311, end_date="2026-03-02T09:00:00+08:00") == []


@pytest.mark.parametrize("params, words", [
    ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:00Z"}, "90 days"),
    ({"start_date": "2026-03-02T00:00:00Z", "end_date": "2026-03-01T00:00:00Z"}, "before start_date"),
    ({"start_date": "yesterday"}, "start_date"),
    ({"end_date": "2026-02-30T00:00:00Z"}, "end_date"),
    ({"updated_after": "2026-13-01"}, "updated_after"),
    ({"page": "0"}, "page"),
    ({"page": "two"}, "page"),
    ({"page_size": "0"}, "page_size"),
    ({"page_size": "1001"}, "page_size"),
    ({"page_size": "-5"}, "page_size"),
    ({"extensions": "maybe"}, "extensions"),
])
@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_bad_query_parameters_are_400s_naming_them(o311, world, params, words, fmt):
    [description] = errors(o311.get(url("requests", fmt), params, headers={"Accept-Language": "en"}), 400, fmt)
    assert words in description


def test_an_unencoded_plus_in_a_date_is_understood(o311, world, api_key):
    with at(T0):
        number = file_request(o311, world, api_key)
    response = o311.get(url("requests", "json") + "?start_date=2026-03-02T09:00:00+08:00")
    assert [r["service_request_id"] for r in json_of(response)] == [number]


# --- paging and updated_after ----------------------------------------------------------------------------------------
def test_page_and_page_size_walk_the_list_with_a_next_link(o311, world, api_key):
    numbers = []
    for minute in range(5):
        with at(T0 + timedelta(minutes=minute)):
            numbers.append(file_request(o311, world, api_key))
    newest_first = numbers[::-1]
    with at(T0 + timedelta(hours=1)):
        first = o311.get(url("requests", "json"), {"page_size": 2})
        assert [r["service_request_id"] for r in json_of(first)] == newest_first[:2]
        assert 'rel="next"' in first["Link"] and "page=2" in first["Link"] and "page_size=2" in first["Link"]
        assert listed(o311, page_size=2, page=2) == newest_first[2:4]
        last = o311.get(url("requests", "json"), {"page_size": 2, "page": 3})
        assert [r["service_request_id"] for r in json_of(last)] == newest_first[4:]
        assert not last.has_header("Link")
        assert listed(o311, page_size=2, page=9) == []
        assert len(listed(o311)) == 5  # default: up to 1,000


def test_updated_after_lists_what_changed_since_oldest_change_first(o311, world, api_key):
    with at(T0):
        a, b, c = (file_request(o311, world, api_key) for _ in range(3))
    with at(T0 + timedelta(hours=1)):
        act(c, "accept", world.dispatcher)
    with at(T0 + timedelta(hours=2)):
        act(a, "reject", world.dispatcher, reason="不属于受理范围")
    assert listed(o311, updated_after="2026-03-02T02:30:00Z") == [c, a]
    assert listed(o311, updated_after="2026-03-02T10:30:00+08:00", status="closed") == [a]
    assert listed(o311, updated_after="2026-03-02T04:00:00Z") == []
    with at(T0 + timedelta(days=200)):  # no default window with updated_after; b changed first (filed)
        assert listed(o311, updated_after="2026-03-01T00:00:00Z") == [b, c, a]


# --- extensions --------------------------------------------------------------------------------------------------------
def test_extensions_add_the_detailed_status_grid_channel_and_category_group(o311, world, api_key):
    number = file_request(o311, world, api_key)
    act(number, "accept", world.dispatcher)
    [plain] = json_of(o311.get(url("requests", "json")))
    assert "extended_attributes" not in plain
    [request] = json_of(o311.get(url("requests", "json"), {"extensions": "true"}))
    extended = request.pop("extended_attributes")
    assert list(request) == REQUEST_FIELDS
    assert extended["detailed_status"] == "accepted" and extended["detailed_status_name"] == "已立案，待派遣"
    assert extended["grid_code"] == world.grid and extended["channel"] == "open311"
    assert extended["category_group"] == "E01" and extended["category_group_name"] == "市容环境"
    root = xml_of(o311.get(url(f"requests/{number}", "xml"), {"extensions": "true"}))
    element = root.find("request").find("extended_attributes")
    assert children(element)["detailed_status"] == "accepted" and children(element)["grid_code"] == world.grid


# --- scope ---------------------------------------------------------------------------------------------------------------
def test_only_the_public_channels_are_published(o311, world, api_key, settings):
    mine = file_request(o311, world, api_key)
    hotline = file_hotline(world).number
    assert listed(o311) == [mine]
    errors(o311.get(url(f"requests/{hotline}", "json")), 404, "json")
    assert listed(o311, service_request_id=hotline) == []
    settings.GRIDLOOP_OPEN311_PUBLIC_CHANNELS = ["open311", "hotline"]
    assert set(listed(o311)) == {mine, hotline}
    body = o311.get(url(f"requests/{hotline}", "json")).content.decode()
    assert "13812341234" not in body and "张三" not in body


def test_jurisdiction_id_narrows_to_a_region(o311, world, api_key):
    here = file_request(o311, world, api_key)
    assert listed(o311, jurisdiction_id="990101") == [here]
    assert listed(o311, jurisdiction_id="990100") == [here]
    assert listed(o311, jurisdiction_id="990102") == []
    errors(o311.get(url(f"requests/{here}", "json"), {"jurisdiction_id": "990102"}), 404, "json")


def test_characters_xml_cannot_carry_are_left_out_of_the_xml(o311, world, api_key):
    number = file_request(o311, world, api_key, description="垃圾\x0b堆积\x01")
    assert Case.objects.get(number=number).description == "垃圾\x0b堆积\x01"
    root = xml_of(o311.get(url(f"requests/{number}", "xml")))
    assert root.find("request").findtext("description") == "垃圾堆积"
    assert json_of(o311.get(url(f"requests/{number}", "json")))[0]["description"] == "垃圾\x0b堆积\x01"


def test_a_page_costs_the_same_queries_for_one_request_or_many(o311, world, api_key, django_assert_num_queries,
                                                               django_assert_max_num_queries):
    number = file_request(o311, world, api_key, media_url="https://img.example.com/1.jpg")
    handling(world, number)
    with django_assert_max_num_queries(7) as one:
        o311.get(url("requests", "json"), {"extensions": "true"})
    queries = len(one.captured_queries)
    for _ in range(4):
        handling(world, file_request(o311, world, api_key))
    with django_assert_num_queries(queries):
        assert len(listed(o311, extensions="true")) == 5
