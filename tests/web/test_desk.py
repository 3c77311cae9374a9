"""The hotline desk without a browser: filing (once per form, whatever the double submits), joining an open case,
the fragments (place, category, nearby cases, the caller's cases) inside the operator's area, progress inquiries
recorded, masked phone numbers shown only by a logged view, and the 403 page for a case outside the area."""
import re

import pytest
from django.urls import reverse

from events.actors import citizen_key
from events.models import Case, CaseEvent, Channel, ContactView, InboundReport
from grids.models import Role
from tests.events.conftest import act, file_hotline, file_patrol
from tests.factories import grid_center, make_user

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def desk(client, world):
    client.force_login(world.operator)
    return client


@pytest.fixture
def east_operator(world):
    """An operator of the east district only (990101): the west district's cases are outside their area."""
    return make_user("east_operator", (Role.OPERATOR, world.regions["990101"]))


def form(world, **overrides) -> dict:
    lat, lng = world.point
    data = {"citizen_phone": "13900001111", "citizen_name": "李四", "lat": lat, "lng": lng, "address": "东一路 8 号",
            "category": "E0101", "description": "有人在绿地上搭棚子", "idempotency_key": "desk-test-1",
            "action": "file"}
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_the_desk_is_the_operators_page_only(client, world):
    client.force_login(world.handler)
    assert client.get(reverse("web:desk")).status_code == 403
    assert client.get(reverse("web:desk_nearby")).status_code == 403
    client.force_login(world.operator)
    page = client.get(reverse("web:desk"))
    assert page.status_code == 200
    html = page.content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    assert key.startswith("desk-") and key != re.search(
        r'name="idempotency_key" value="([^"]+)"', client.get(reverse("web:desk")).content.decode()).group(1)
    assert "<script>" not in html and " style=" not in html and "onclick" not in html


def test_filing_a_call_makes_one_hotline_case_whatever_the_double_submits(desk, world):
    first = desk.post(reverse("web:desk"), form(world))
    assert first.status_code == 302
    case = Case.objects.get()
    assert first["Location"] == reverse("web:desk_case", args=[case.number]) + "?filed=1"
    again = desk.post(reverse("web:desk"), form(world))
    assert again["Location"] == first["Location"]
    assert Case.objects.count() == 1
    assert (case.channel, case.category.code, case.grid.code, case.reporter_id) == (
        Channel.HOTLINE, "E0101", world.grid, world.operator.pk)
    assert case.citizen_key == citizen_key(phone="13900001111")
    assert case.reports.get().citizen_name == "李四"
    page = desk.get(first["Location"], **EN)
    assert case.number in page.content.decode() and "Next caller" in page.content.decode()


@pytest.mark.django_db(transaction=True)  # as in production: each statement commits on its own (no request transaction)
def test_a_double_submit_that_races_the_first_past_the_key_check_gets_the_first_case(desk, world, monkeypatch):
    first = desk.post(reverse("web:desk"), form(world))
    import events.services as services

    real, calls = services._report_by_idempotency_key, []

    def missed_once(scope, key):  # the second request looked before the first one's report was written
        calls.append(key)
        return [] if len(calls) == 1 else real(scope, key)

    monkeypatch.setattr(services, "_report_by_idempotency_key", missed_once)
    again = desk.post(reverse("web:desk"), form(world))
    assert again.status_code == 302 and again["Location"] == first["Location"] and len(calls) == 2
    assert Case.objects.count() == 1 and InboundReport.objects.count() == 1


def test_filing_by_a_picked_street_without_a_point(desk, world):
    response = desk.post(reverse("web:desk"), form(world, lat="", lng="", region_code="990101001", category=""))
    assert response.status_code == 302
    case = Case.objects.get()
    assert (case.region_code, case.grid, case.lat, case.category) == ("990101001", None, None, None)


def test_filing_by_a_district_alone_goes_to_its_command_center_to_be_located(desk, world):
    response = desk.post(reverse("web:desk"), form(world, lat="", lng="", region_code="990101", address="东区某处"))
    assert response.status_code == 302
    case = Case.objects.get()
    assert (case.region_code, case.level, case.unstructured, case.street) == ("990101", "district", True, None)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"lat": "", "lng": ""}, "Choose the place"),
    ({"description": "  "}, "Write down what the caller reports"),
    ({"lng": ""}, "Give both latitude and longitude"),
    ({"lat": "abc"}, "Enter a number"),
    ({"category": "X9999"}, "No category with code X9999"),
    ({"citizen_phone": "call me"}, "digits only"),
    ({"lat": 45.0, "lng": 100.0}, "outside the service area"),
    ({"lat": "", "lng": "", "region_code": "123456"}, "region_code must be the code of a street"),
])
def test_a_call_that_cannot_be_filed_says_why_and_writes_nothing(desk, world, overrides, message):
    response = desk.post(reverse("web:desk"), form(world, **overrides), **EN)
    assert response.status_code in (400, 422)
    assert message in response.content.decode()
    assert Case.objects.count() == 0 and InboundReport.objects.count() == 0


def test_a_place_outside_the_operators_area_is_refused(client, world, east_operator):
    client.force_login(east_operator)
    lat, lng = grid_center("990102001001001")
    response = client.post(reverse("web:desk"), form(world, lat=lat, lng=lng), **EN)
    assert response.status_code == 403 and "covers this place" in response.content.decode()
    assert Case.objects.count() == 0


def test_the_lookup_button_files_nothing_and_shows_what_the_call_finds(desk, world):
    open_case = file_patrol(world)
    response = desk.post(reverse("web:desk"), form(world, action="lookup", place_q="街道", category_q="sdlj"), **EN)
    assert response.status_code == 200 and Case.objects.count() == 1
    html = response.content.decode()
    assert 'value="990101001"' in html and 'value="E0101"' in html
    assert f'name="join" value="{open_case.number}"' in html


def test_nearby_open_cases_are_shown_with_distance_within_the_area(client, world, east_operator):
    east = file_patrol(world)
    lat, lng = world.point
    client.force_login(east_operator)
    html = client.get(reverse("web:desk_nearby"), {"lat": lat, "lng": lng + 0.0005, "category": "E0101"},
                      **EN).content.decode()
    assert east.number in html and "48 m" in html and f'value="{east.number}"' in html
    assert "Set a point" in client.get(reverse("web:desk_nearby"), **EN).content.decode()
    # a west-district case near the west point is not shown to the east operator
    west_lat, west_lng = grid_center("990102001001001")
    west_worker = make_user("west_worker", (Role.GRID_WORKER, world.regions["990102001001001"]))
    from events.actors import Actor
    from events.services import ReportInput, case_report
    from tests.events.conftest import photo
    west, _ = case_report(actor=Actor.staff(west_worker), data=ReportInput(
        channel=Channel.PATROL, description="垃圾", lat=west_lat, lng=west_lng, category=world.category,
        photos=[photo()]))
    html = client.get(reverse("web:desk_nearby"), {"lat": west_lat, "lng": west_lng}, **EN).content.decode()
    assert west.number not in html and "No open case near this point" in html


def test_place_search_stays_inside_the_operators_area(client, world, east_operator):
    client.force_login(east_operator)
    html = client.get(reverse("web:desk_places"), {"place_q": "街道"}).content.decode()
    assert 'value="990101001"' in html and 'value="990101002"' in html and 'value="990102001"' not in html
    html = client.get(reverse("web:desk_places"), {"place_q": "990102"}, **EN).content.decode()
    assert "No district, street, community or grid" in html and "990102001" not in html


def test_category_search_by_pinyin_initials(desk, world):
    html = desk.get(reverse("web:desk_categories"), {"category_q": "sdlj"}).content.decode()
    assert 'value="E0101"' in html and "私搭乱建" in html
    html = desk.get(reverse("web:desk_categories"), {"category_q": "zzzz"}, **EN).content.decode()
    assert "No category matches" in html


def test_joining_an_open_case_adds_the_call_to_it_once(desk, world):
    case = file_patrol(world)
    response = desk.post(reverse("web:desk"), form(world, action="", join=case.number))
    assert response["Location"] == reverse("web:desk_case", args=[case.number]) + "?joined=1"
    desk.post(reverse("web:desk"), form(world, action="", join=case.number))
    assert Case.objects.count() == 1
    assert CaseEvent.objects.filter(case=case, kind="report_added").count() == 1
    assert InboundReport.objects.filter(case=case, citizen_key=citizen_key(phone="13900001111")).count() == 1


def test_joining_an_ended_case_is_refused_in_place(desk, world):
    case = file_hotline(world, citizen_phone="13700000000")
    act(case, "reject", world.dispatcher, reason="不属实")
    response = desk.post(reverse("web:desk"), form(world, action="", join=case.number), **EN)
    assert response.status_code == 409 and "only an open case can be joined" in response.content.decode()
    assert InboundReport.objects.count() == 1


def test_the_callers_earlier_cases_in_plain_words_and_the_answer_is_recorded(desk, world):
    case = file_hotline(world, citizen_phone="13900001111")
    html = desk.get(reverse("web:desk_caller"), {"citizen_phone": "139-0000-1111"}, **EN).content.decode()
    assert case.number in html and "the command center is checking it" in html
    assert "No earlier case" in desk.get(reverse("web:desk_caller"), {"citizen_phone": "13000000000"},
                                         **EN).content.decode()
    url = reverse("web:desk_inquiry", args=[case.number])
    answered = desk.post(url, {"citizen_phone": "13900001111", "idempotency_key": "q1"}, HTTP_HX_REQUEST="true",
                         **EN)
    assert answered.status_code == 200 and "recorded" in answered.content.decode()
    assert "1 progress inquiry answered today" in answered.content.decode()
    desk.post(url, {"citizen_phone": "13900001111", "idempotency_key": "q1"}, HTTP_HX_REQUEST="true")
    event = CaseEvent.objects.get(case=case, kind="inquiry_answered")
    assert event.actor_id == world.operator.pk and event.payload["caller_is_reporter"] is True
    assert "1 progress inquiry answered today" in desk.get(reverse("web:desk"), **EN).content.decode()


def test_a_case_outside_the_area_by_url_is_the_403_page(client, world, east_operator):
    west_worker = make_user("west_worker", (Role.GRID_WORKER, world.regions["990102001001001"]))
    from events.actors import Actor
    from events.services import ReportInput, case_report
    from tests.events.conftest import photo
    lat, lng = grid_center("990102001001001")
    west, _ = case_report(actor=Actor.staff(west_worker), data=ReportInput(
        channel=Channel.PATROL, description="垃圾", lat=lat, lng=lng, category=world.category, photos=[photo()]))
    client.force_login(east_operator)
    for url in (reverse("web:desk_case", args=[west.number]), reverse("web:desk_case", args=["20990101000001"])):
        response = client.get(url, **EN)
        assert response.status_code == 403 and "in your area" in response.content.decode()
    assert client.post(reverse("web:desk_inquiry", args=[west.number])).status_code == 403
    assert client.post(reverse("web:desk_contact", args=[west.number])).status_code == 403
    assert not CaseEvent.objects.filter(kind="inquiry_answered").exists() and not ContactView.objects.exists()


def test_the_callers_phone_is_masked_and_showing_it_is_logged(desk, world):
    case = file_hotline(world, citizen_phone="13812341234")
    html = desk.get(reverse("web:desk_case", args=[case.number])).content.decode()
    assert "138****1234" in html and "13812341234" not in html
    shown = desk.post(reverse("web:desk_contact", args=[case.number]), HTTP_HX_REQUEST="true")
    assert "13812341234" in shown.content.decode()
    view = ContactView.objects.get()
    assert (view.case_id, view.user_id, view.role) == (case.pk, world.operator.pk, Role.OPERATOR)


def test_the_boundaries_are_the_streets_of_the_area(client, world, east_operator):
    client.force_login(east_operator)
    codes = [f["properties"]["code"] for f in client.get(reverse("web:desk_boundaries")).json()["features"]]
    assert codes == ["990101001", "990101002"]


def test_every_desk_form_needs_the_csrf_token(world):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.operator)
    assert client.post(reverse("web:desk"), form(world)).status_code == 403
    assert Case.objects.count() == 0
    case = file_hotline(world, citizen_phone="13900001111")
    for url in (reverse("web:desk"), reverse("web:desk_case", args=[case.number])):
        page = client.get(url).content.decode()
        assert page.count('name="csrfmiddlewaretoken"') >= page.count("<form")
    assert client.post(reverse("web:desk_inquiry", args=[case.number])).status_code == 403
    assert not CaseEvent.objects.filter(kind="inquiry_answered").exists()
