"""The cases API: intake, lists within the caller's scope and their filters, the detail with its masked reporter,
timeline and allowed actions, actions with their 400/403/404/409 answers, contact details and "my cases"."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from events.models import Case, CaseEvent, CaseState, ContactView
from grids.models import Role
from tests.conftest import client_for
from tests.events.conftest import act, file_hotline, file_patrol, photo
from tests.factories import grid_center, make_user

pytestmark = pytest.mark.django_db

PHONE = "13812341234"


def post_case(user, fmt="json", key=None, **fields):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client_for(user).post("/api/v1/cases/", fields, format=fmt, **extra)


def hotline_fields(w, **overrides):
    lat, lng = w.point
    fields = {"channel": "hotline", "description": "路灯不亮", "lat": lat, "lng": lng,
              "citizen_name": "张三", "citizen_phone": PHONE}
    fields.update(overrides)
    return fields


def patrol_fields(w, **overrides):
    lat, lng = w.point
    fields = {"channel": "patrol", "description": "垃圾堆放", "lat": lat, "lng": lng, "category": "E0102",
              "photos": [photo(), photo("b.png", "PNG")]}
    fields.update(overrides)
    return fields


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["number"] for row in response.json()["results"]]


def take(user, number, action, fmt="json", key=None, **inputs):
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client_for(user).post(f"/api/v1/cases/{number}/actions/{action}/", inputs, format=fmt, **extra)


def fields_of(response) -> set[str]:
    return set(response.json().get("fields", {}))


STATUS_FIELDS = {"number", "state", "state_label", "close_reason", "level", "last_seq", "updated_at", "allowed_actions"}


def detail(user, response) -> dict:
    """The whole case the intake or action answered for (its answer is the compact case document)."""
    assert set(response.json()) == STATUS_FIELDS, response.content
    found = client_for(user).get(f"/api/v1/cases/{response.json()['number']}/")
    assert found.status_code == 200, found.content
    return found.json()


def assert_status_of(body: dict, case: dict) -> None:
    """The compact document says what the whole case says."""
    assert body == {name: case[name] for name in STATUS_FIELDS - {"last_seq"}} | {
        "last_seq": case["timeline"][-1]["seq"]}


# --- Intake ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, extra", [("json", {}), ("multipart", {"photos": [photo(), photo("b.png", "PNG")]})])
def test_the_intake_answer_is_where_the_new_case_stands_as_a_read_of_it_says(world, fmt, extra):
    # The 201 body is built from the rows just written, without reading them back: it must agree with a read.
    response = post_case(world.operator, fmt, **hotline_fields(world, **extra))
    assert response.status_code == 201, response.content
    body, case = response.json(), detail(world.operator, response)
    assert body["state"] == "reported" and body["last_seq"] == 1 and "accept" not in body["allowed_actions"]
    assert len(case["photos"]) == len(extra.get("photos", [])) and len(case["clocks"]) == 1
    assert_status_of(body, case)


def test_a_patrol_report_with_photos_is_filed_as_multipart_and_accepted_by_rule(world):
    response = post_case(world.worker, "multipart", **patrol_fields(world))
    assert response.status_code == 201, response.content
    assert response.json()["state"] == CaseState.ACCEPTED and response.json()["last_seq"] == 2
    body = detail(world.worker, response)
    assert body["state"] == CaseState.ACCEPTED and body["channel"] == "patrol"
    assert body["category"]["code"] == "E0102"
    assert body["grid"]["code"] == world.grid and body["street"]["code"] == "990101001"
    assert [(p["kind"], p["content_type"], p["event_seq"]) for p in body["photos"]] == [
        ("report", "image/jpeg", 1), ("report", "image/png", 1)]
    assert all(p["url"].startswith("http://testserver/") for p in body["photos"])
    assert [e["kind"] for e in body["timeline"]] == ["reported", "accept"]
    assert body["timeline"][1]["actor"] == "system"


def test_repeated_photo_fields_may_also_be_named_with_brackets(world):
    fields = patrol_fields(world)
    fields["photos[]"] = fields.pop("photos")
    response = post_case(world.worker, "multipart", **fields)
    assert response.status_code == 201, response.content
    assert len(detail(world.worker, response)["photos"]) == 2


def test_a_hotline_report_is_filed_as_json_and_waits_for_a_dispatcher(world):
    response = post_case(world.operator, **hotline_fields(world, address="东一路1号", urgency="urgent"))
    assert response.status_code == 201, response.content
    body = detail(world.operator, response)
    assert body["state"] == CaseState.REPORTED and body["channel"] == "hotline"
    assert body["urgency"] == "urgent" and body["address"] == "东一路1号" and body["category"] is None
    assert body["reporter"]["staff"] == "operator"


def test_a_handled_on_the_spot_report_takes_before_and_after_photos(world):
    response = post_case(world.worker, "multipart", **patrol_fields(
        world, photos=[], self_handled="true", before_photos=[photo()], after_photos=[photo("a.png", "PNG")]))
    assert response.status_code == 201, response.content
    body = detail(world.worker, response)
    assert body["self_handled"] is True and body["state"] == CaseState.REPORTED
    assert sorted(p["kind"] for p in body["photos"]) == ["after", "before"]


def test_a_repeated_idempotency_key_returns_the_same_case_with_200(world):
    first = post_case(world.operator, key="call-42", **hotline_fields(world))
    again = post_case(world.operator, key="call-42", **hotline_fields(world))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["number"] == again.json()["number"]
    assert Case.objects.count() == 1


def test_an_idempotency_key_is_per_user(world):
    other = make_user("operator2", (Role.OPERATOR, world.regions["990100"]))
    first = post_case(world.operator, key="k1", **hotline_fields(world))
    second = post_case(other, key="k1", **hotline_fields(world))
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["number"] != second.json()["number"]


def test_an_overlong_idempotency_key_is_a_400(world):
    response = post_case(world.operator, key="k" * 101, **hotline_fields(world))
    assert response.status_code == 400
    assert fields_of(response) == {"idempotency_key"}


@pytest.mark.parametrize(("change", "field"), [
    ({"description": ""}, "description"),
    ({"description": None}, "description"),
    ({"channel": "wechat"}, "channel"),
    ({"category": "X9999"}, "category"),
    ({"lat": "north"}, "lat"),
    ({"lng": None}, "lng"),
    ({"lat": 91}, "lat"),
    ({"urgency": "asap"}, "urgency"),
    ({"citizen_email": "not-an-email"}, "citizen_email"),
    ({"lat": None, "lng": None, "region_code": "990101"}, "region_code"),
    ({"photos": ["not a file"]}, "photos.0"),  # (an error inside a list is named by its path)
    ({"self_handled": True}, "self_handled"),
])
def test_bad_hotline_input_is_a_400_naming_the_field(world, change, field):
    fields = {key: value for key, value in hotline_fields(world, **change).items() if value is not None}
    response = post_case(world.operator, **fields)
    assert response.status_code == 400, response.content
    assert fields_of(response) == {field}
    assert Case.objects.count() == 0


def test_an_unknown_category_is_named_in_the_message(world):
    response = post_case(world.operator, **hotline_fields(world, category="X9999"))
    assert response.status_code == 400
    assert "X9999" in response.json()["detail"]


@pytest.mark.parametrize(("change", "field"), [
    ({"photos": [SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")]}, "photos"),
    ({"photos": [photo("anim.gif", "GIF")]}, "photos"),
    ({"photos": []}, "photos"),
    ({"category": ""}, "category"),
])
def test_bad_patrol_input_is_a_400_naming_the_field(world, change, field):
    fields = {key: value for key, value in patrol_fields(world, **change).items() if value != []}
    response = post_case(world.worker, "multipart", **fields)
    assert response.status_code == 400, response.content
    assert fields_of(response) == {field}


def test_a_point_outside_the_service_area_is_a_422(world):
    response = post_case(world.operator, **hotline_fields(world, lat=10.0, lng=10.0))
    assert response.status_code == 422
    assert response.json()["code"] == "unprocessable"


def test_an_operator_outside_the_area_may_not_file_there(world):
    west = make_user("operator_west", (Role.OPERATOR, world.regions["990102"]))
    response = post_case(west, **hotline_fields(world))
    assert response.status_code == 403
    assert Case.objects.count() == 0


def test_a_handler_may_not_file_a_patrol_report(world):
    response = post_case(world.handler, "multipart", **patrol_fields(world))
    assert response.status_code == 403


def test_cases_need_credentials(world, api):
    assert api.get("/api/v1/cases/").status_code == 401
    assert api.post("/api/v1/cases/", hotline_fields(world), format="json").status_code == 401


# --- List: scope -----------------------------------------------------------------------------------------------------
def test_a_dispatcher_of_another_street_does_not_see_the_cases_of_this_one(world):
    here = file_hotline(world)
    lat, lng = grid_center("990101002001001")
    there = file_hotline(world, lat=lat, lng=lng)
    assert numbers(client_for(world.dispatcher_b).get("/api/v1/cases/")) == [there.number]
    assert numbers(client_for(world.dispatcher).get("/api/v1/cases/")) == [here.number]
    assert numbers(client_for(world.district_dispatcher).get("/api/v1/cases/")) == [there.number, here.number]


def test_a_handler_sees_only_the_cases_of_their_department(world):
    ours = act(file_patrol(world), "dispatch", world.dispatcher, department="s1-huanwei")
    act(file_patrol(world), "dispatch", world.dispatcher, department="s1-shizheng")
    file_patrol(world)  # accepted, not dispatched
    assert numbers(client_for(world.handler).get("/api/v1/cases/")) == [ours.number]


def test_a_grid_worker_sees_the_cases_of_their_grid(world):
    mine = file_hotline(world)
    lat, lng = grid_center("990101001001002")
    file_hotline(world, lat=lat, lng=lng)  # the neighbouring grid of the same street
    assert numbers(client_for(world.worker).get("/api/v1/cases/")) == [mine.number]


def test_a_user_without_roles_sees_no_cases(world):
    file_hotline(world)
    assert numbers(client_for(make_user("nobody")).get("/api/v1/cases/")) == []


def test_the_list_is_paginated(world):
    made = [file_hotline(world).number for _ in range(3)]
    response = client_for(world.dispatcher).get("/api/v1/cases/?page_size=2")
    body = response.json()
    assert body["count"] == 3 and body["next"] and numbers(response) == made[::-1][:2]


def test_the_list_costs_the_same_few_queries_however_many_cases(world, django_assert_max_num_queries):
    for index in range(6):
        case = file_patrol(world) if index % 2 else file_hotline(world)
        if index % 3 == 0 and case.state == CaseState.ACCEPTED:
            act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    client = client_for(world.district_dispatcher)
    # roles, count, page, then one query each for grids, streets, districts: nothing per row
    with django_assert_max_num_queries(6):
        assert len(numbers(client.get("/api/v1/cases/"))) == 6


def test_the_detail_costs_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    case = act(file_patrol(world), "dispatch", world.dispatcher, department="s1-huanwei")
    client = client_for(world.dispatcher)
    # roles, case, its grid, street, district, reports, photos, events with actors
    with django_assert_max_num_queries(8):
        assert client.get(f"/api/v1/cases/{case.number}/").status_code == 200


# --- List: filters ---------------------------------------------------------------------------------------------------
def at(day: int, hour: int = 2):
    return time_machine.travel(datetime(2026, 3, day, hour, tzinfo=UTC), tick=False)


@pytest.fixture
def several(world):
    """a: hotline reported (3-01, address 东一路); b: patrol accepted E0102 (3-05); c: hotline urgent, dispatched,
    other grid (3-10); d: hotline on street B escalated to the district (3-12); e: rejected (3-15)."""
    with at(1):
        a = file_hotline(world, address="东一路1号")
    with at(5):
        b = file_patrol(world, category=world.category.__class__.objects.get(code="E0102"))
    with at(10):
        lat, lng = grid_center("990101001001002")
        c = file_hotline(world, lat=lat, lng=lng, urgency="urgent", description="井盖丢失")
        act(c, "accept", world.dispatcher, category="C0101")
        act(c, "dispatch", world.dispatcher, department="s1-huanwei")
    with at(12):
        lat, lng = grid_center("990101002001001")
        d = file_hotline(world, lat=lat, lng=lng)
        act(d, "escalate", world.dispatcher_b, reason="beyond the street")
    with at(15):
        e = file_hotline(world)
        act(e, "reject", world.dispatcher, reason="not a city matter")
    return {"a": a.number, "b": b.number, "c": c.number, "d": d.number, "e": e.number}


@pytest.mark.parametrize(("query", "expected"), [
    ("", "edcba"),
    ("status=reported", "da"),
    ("status=reported,accepted", "dba"),
    ("status=rejected", "e"),
    ("open=true", "dcba"),
    ("open=false", "e"),
    ("level=district", "d"),
    ("level=street", "ecba"),
    ("region=990101002", "d"),
    ("region=990101001001002", "c"),
    ("grid=990101001001002", "c"),
    ("department=s1-huanwei", "c"),
    ("category=E0102", "b"),
    ("category=C0101", "c"),
    ("urgency=urgent", "c"),
    ("channel=patrol", "b"),
    ("channel=hotline", "edca"),
    ("created_from=2026-03-05", "edcb"),
    ("created_to=2026-03-05", "ba"),
    ("created_from=2026-03-05&created_to=2026-03-12", "dcb"),
    ("created_from=2026-03-05T12:00", "edc"),
    ("created_to=2026-03-10T10:00%2B08:00", "cba"),
    ("q=东一路", "a"),
    ("q=井盖", "c"),
    ("status=reported&region=990101001", "a"),
])
def test_each_filter_narrows_the_list(world, several, query, expected):
    listed = numbers(client_for(world.supervisor).get(f"/api/v1/cases/?{query}"))
    assert listed == [several[label] for label in expected]


def test_q_finds_a_case_by_its_number(world, several):
    assert numbers(client_for(world.supervisor).get(f"/api/v1/cases/?q={several['d']}")) == [several["d"]]


def test_a_region_filter_does_not_widen_the_scope(world, several):
    assert numbers(client_for(world.dispatcher_b).get("/api/v1/cases/?region=990101001")) == []


@pytest.mark.parametrize(("query", "field"), [
    ("created_from=yesterday", "created_from"),
    ("created_from=2026-02-30", "created_from"),
    ("created_to=2026-13-01", "created_to"),
    ("status=fixed", "status"),
    ("open=maybe", "open"),
    ("level=village", "level"),
    ("urgency=asap", "urgency"),
    ("channel=fax", "channel"),
])
def test_a_bad_filter_is_a_400_naming_it(world, query, field):
    response = client_for(world.supervisor).get(f"/api/v1/cases/?{query}")
    assert response.status_code == 400
    assert fields_of(response) == {field}


# --- Detail and timeline ---------------------------------------------------------------------------------------------
def test_the_detail_masks_the_callers_phone_everywhere(world):
    case = file_hotline(world, citizen_email="zhang.san@example.com")
    response = client_for(world.dispatcher).get(f"/api/v1/cases/{case.number}/")
    assert response.status_code == 200
    assert PHONE.encode() not in response.content
    assert b"zhang.san" not in response.content and "张三".encode() not in response.content
    reporter = response.json()["reporter"]
    assert reporter == {"channel": "hotline", "name": "张*", "phone": "138****1234", "email": "z***@example.com",
                        "staff": "operator"}


@pytest.mark.parametrize(("phone", "masked"), [
    ("13812341234", "138****1234"),
    ("+8613812341234", "+86*******1234"),
    ("62345678", "******78"),
    ("", ""),
])
def test_phone_numbers_are_masked_by_length(world, phone, masked):
    case = file_hotline(world, citizen_phone=phone)
    body = client_for(world.dispatcher).get(f"/api/v1/cases/{case.number}/").json()
    assert body["reporter"]["phone"] == masked


def test_the_detail_has_counters_timeline_and_the_dispatchers_allowed_actions(world):
    case = file_hotline(world)
    body = client_for(world.dispatcher).get(f"/api/v1/cases/{case.number}/").json()
    assert body["number"] == case.number and body["state"] == "reported" and body["state_label"]
    assert body["counters"] == {"returns": 0, "reworks": 0, "extensions": 0, "extension_pending": False,
                                "reopens": 0, "escalations": 0, "suspensions": 0}
    assert {"accept", "reject", "merge"} <= set(body["allowed_actions"])
    assert "dispatch" not in body["allowed_actions"]
    assert [(e["seq"], e["kind"], e["actor"], e["actor_role"], e["to_state"]) for e in body["timeline"]] == [
        (1, "reported", "operator", "operator", "reported")]


def test_a_handler_may_act_only_once_the_case_is_theirs(world):
    case = act(file_patrol(world), "dispatch", world.dispatcher, department="s1-huanwei")
    handler = client_for(world.handler)
    assert handler.get(f"/api/v1/cases/{case.number}/").json()["allowed_actions"] == ["sign", "return"]
    act(case, "sign", world.handler)
    act(case, "complete", world.handler, note="done", photos=[photo()])
    body = handler.get(f"/api/v1/cases/{case.number}/").json()
    assert body["state"] == "handled" and body["allowed_actions"] == []
    assert handler.get(f"/api/v1/cases/{file_hotline(world).number}/").status_code == 404  # reported: not theirs


def test_the_events_endpoint_is_the_timeline(world):
    case = act(file_patrol(world), "dispatch", world.dispatcher, department="s1-huanwei")
    client = client_for(world.dispatcher)
    events = client.get(f"/api/v1/cases/{case.number}/events/").json()
    assert events == client.get(f"/api/v1/cases/{case.number}/").json()["timeline"]
    assert [e["kind"] for e in events] == ["reported", "accept", "dispatch"]
    assert events[2]["payload"]["department"] == "s1-huanwei" and events[2]["from_state"] == "accepted"


def test_a_case_outside_the_scope_answers_404_like_a_missing_one(world):
    case = file_hotline(world)
    outsider = client_for(world.dispatcher_b)
    for url in (f"/api/v1/cases/{case.number}/", f"/api/v1/cases/{case.number}/events/",
                f"/api/v1/cases/{case.number}/contact/", "/api/v1/cases/2099010100001/"):
        assert outsider.get(url).status_code == 404, url
    response = take(world.dispatcher_b, case.number, "reject", reason="x")
    assert response.status_code == 404
    assert take(world.dispatcher_b, case.number, "accept").json() == take(
        world.dispatcher_b, "2099010100001", "accept").json()
    assert Case.objects.get(pk=case.pk).state == CaseState.REPORTED
    assert ContactView.objects.count() == 0


# --- Actions ---------------------------------------------------------------------------------------------------------
def test_an_action_answers_the_updated_case(world):
    case = file_hotline(world)
    response = take(world.dispatcher, case.number, "accept", category="E0101", urgency="urgent")
    assert response.status_code == 200, response.content
    answer, body = response.json(), detail(world.dispatcher, response)
    assert answer["state"] == "accepted" and answer["state_label"] and "dispatch" in answer["allowed_actions"]
    assert body["state"] == "accepted" and body["category"]["code"] == "E0101" and body["urgency"] == "urgent"
    assert body["timeline"][-1]["kind"] == "accept" and body["timeline"][-1]["seq"] == answer["last_seq"]


def test_each_action_answers_where_the_case_stands_as_a_read_of_it_says(world):
    # The answer is the locked row as the action left it, not read again: after every step (clocks started,
    # finished, paused, resumed, extended, restarted; a level up) it must agree with a fresh GET by the same user.
    number = file_hotline(world).number
    steps = [
        (world.dispatcher, "accept", {"category": "E0101"}),
        (world.dispatcher, "dispatch", {"department": "s1-huanwei"}),
        (world.handler, "sign", {}),
        (world.handler, "request_extension", {"reason": "材料未到"}),
        (world.dispatcher, "approve_extension", {}),
        (world.dispatcher, "suspend", {"reason": "等待配件", "until": (date.today() + timedelta(days=5)).isoformat()}),
        (world.dispatcher, "resume", {}),
        (world.dispatcher, "escalate", {"reason": "久拖未决"}),
        (world.handler, "complete", {"note": "已修复", "photos": [photo()]}),
    ]
    for user, action, inputs in steps:
        response = take(user, number, action, "multipart" if "photos" in inputs else "json", **inputs)
        assert response.status_code == 200, (action, response.content)
        case = detail(user, response)
        assert_status_of(response.json(), case)
    assert [c["finished_at"] is None for c in case["clocks"]].count(True) == 1


def test_an_action_with_photos_is_taken_as_multipart(world):
    case = act(act(file_patrol(world), "dispatch", world.dispatcher, department="s1-huanwei"), "sign", world.handler)
    response = take(world.handler, case.number, "complete", "multipart", note="已清理", photos=[photo(), photo()])
    assert response.status_code == 200, response.content
    body = detail(world.handler, response)
    after = [p for p in body["photos"] if p["kind"] == "after"]
    assert len(after) == 2 and {p["event_seq"] for p in after} == {body["timeline"][-1]["seq"]}


def test_an_action_that_does_not_fit_the_state_is_a_409_listing_the_allowed_ones(world):
    case = file_hotline(world)
    response = take(world.dispatcher, case.number, "dispatch", department="s1-huanwei")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict" and body["state"] == "reported"
    assert {"accept", "reject", "merge"} <= set(body["allowed_actions"])
    assert "accept" in body["detail"]


def test_an_action_outside_the_callers_role_is_a_403(world):
    case = file_hotline(world)  # the worker sees it (their grid) but does not accept reports
    response = take(world.worker, case.number, "accept")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize(("action", "inputs", "field"), [
    ("reject", {}, "reason"),
    ("reject", {"reason": "   "}, "reason"),
    ("merge", {}, "target"),
    ("merge", {"target": "2099010100001"}, "target"),
    ("accept", {"category": "X9999"}, "category"),
    ("accept", {"category": "E0101", "urgency": "asap"}, "urgency"),
])
def test_a_missing_or_bad_input_is_a_400_naming_it(world, action, inputs, field):
    case = file_hotline(world)
    response = take(world.dispatcher, case.number, action, **inputs)
    assert response.status_code == 400, response.content
    assert fields_of(response) == {field}
    assert Case.objects.get(pk=case.pk).state == CaseState.REPORTED


@pytest.mark.parametrize(("inputs", "field"), [
    ({"rating": 6}, "rating"),
    ({"rating": "good"}, "rating"),
    ({}, "rating"),
])
def test_feedback_needs_a_rating_from_1_to_5(world, inputs, field):
    case = file_hotline(world)
    act(case, "accept", world.dispatcher, category="E0101")
    act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    act(case, "sign", world.handler)
    act(case, "complete", world.handler, note="ok", photos=[photo()])
    act(case, "verify", world.worker, photos=[photo()])
    response = take(world.operator, case.number, "feedback", **inputs)
    assert response.status_code == 400
    assert fields_of(response) == {field}


def test_suspend_with_an_impossible_date_names_until(world):
    case = act(act(file_patrol(world), "dispatch", world.dispatcher, department="s1-huanwei"), "sign", world.handler)
    response = take(world.dispatcher, case.number, "suspend", reason="waiting for parts", until="2026-02-30")
    assert response.status_code == 400
    assert fields_of(response) == {"until"}


def test_an_unknown_action_is_a_404(world):
    case = file_hotline(world)
    response = take(world.dispatcher, case.number, "fix")
    assert response.status_code == 404
    assert "accept" in response.json()["detail"]


def test_a_handler_who_returns_a_case_gets_the_case_back_once(world):
    case = act(file_patrol(world), "dispatch", world.dispatcher, department="s1-huanwei")
    response = take(world.handler, case.number, "return", reason="not ours")
    assert response.status_code == 200
    assert response.json()["state"] == "accepted" and response.json()["allowed_actions"] == []
    assert client_for(world.handler).get(f"/api/v1/cases/{case.number}/").status_code == 404
    assert client_for(world.dispatcher).get(f"/api/v1/cases/{case.number}/").json()["counters"]["returns"] == 1


def test_a_repeated_action_with_the_same_idempotency_key_acts_once(world):
    case = file_hotline(world)
    first = take(world.dispatcher, case.number, "accept", key="retry-1", category="E0101")
    again = take(world.dispatcher, case.number, "accept", key="retry-1", category="E0101")
    assert first.status_code == 200
    assert again.status_code == 200 and again.json()["state"] == "accepted"
    assert CaseEvent.objects.filter(case=case, kind="accept").count() == 1


def test_without_a_repeated_key_a_repeated_action_is_a_409(world):
    case = file_hotline(world)
    assert take(world.dispatcher, case.number, "accept", key="k-1", category="E0101").status_code == 200
    assert take(world.dispatcher, case.number, "accept", key="k-2", category="E0101").status_code == 409


# --- Contact details -------------------------------------------------------------------------------------------------
def test_an_operator_sees_the_full_contact_and_the_view_is_logged(world):
    case = file_hotline(world, citizen_email="zs@example.com")
    response = client_for(world.operator).get(f"/api/v1/cases/{case.number}/contact/")
    assert response.status_code == 200
    assert response.json() == {"name": "张三", "phone": PHONE, "email": "zs@example.com"}
    client_for(world.dispatcher).get(f"/api/v1/cases/{case.number}/contact/")
    views = list(ContactView.objects.order_by("id").values_list("user__username", "role", "case__number"))
    assert views == [("operator", "operator", case.number), ("dispatcher", "dispatcher", case.number)]


@pytest.mark.parametrize("who", ["worker", "handler"])
def test_grid_workers_and_handlers_may_not_see_the_contact(world, who):
    case = file_hotline(world)
    act(case, "accept", world.dispatcher, category="E0101")
    act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    client = client_for(getattr(world, who))
    assert client.get(f"/api/v1/cases/{case.number}/").status_code == 200  # they do see the case
    response = client.get(f"/api/v1/cases/{case.number}/contact/")
    assert response.status_code == 403
    assert PHONE.encode() not in response.content
    assert ContactView.objects.count() == 0


# --- My cases --------------------------------------------------------------------------------------------------------
def test_my_cases_are_the_ones_i_filed_newest_first(world):
    first, second = file_patrol(world), file_patrol(world)
    file_hotline(world)
    assert numbers(client_for(world.worker).get("/api/v1/my/cases/")) == [second.number, first.number]
    assert numbers(client_for(world.dispatcher).get("/api/v1/my/cases/")) == []


def test_the_case_endpoints_are_in_the_schema(world):
    paths = client_for(world.dispatcher).get("/api/schema/?format=json").json()["paths"]
    for path in ("/api/v1/cases/", "/api/v1/cases/{number}/", "/api/v1/cases/{number}/events/",
                 "/api/v1/cases/{number}/actions/{action}/", "/api/v1/cases/{number}/contact/", "/api/v1/my/cases/"):
        assert path in paths, path
    assert set(paths["/api/v1/cases/"]) >= {"get", "post"}
