"""POST requests: api_key, every parameter the spec names, idempotency, tokens — each bad input a spec error and
nothing stored."""

import pytest

from events.actors import citizen_key
from events.models import ActorKind, Case, CaseState, Category, Channel, InboundReport
from events.open311.services import open311_key_create, open311_key_set_active
from events.services import category_set_active
from tests.events.conftest import photo
from tests.events.open311.conftest import (
    CITIZEN,
    children,
    errors,
    file_request,
    json_of,
    post_request,
    report_fields,
    url,
    xml_of,
)

pytestmark = pytest.mark.django_db


def test_post_xml_files_a_case_through_case_report_and_answers_its_number(o311, world, api_key):
    fields = report_fields(world, address_string="幸福路 12 号", media_url="https://img.example.com/a.jpg",
                           **CITIZEN, **{"attribute[size]": "large", "attribute[kinds][]": ["bags", "boxes"]})
    root = xml_of(post_request(o311, "xml", api_key=api_key, **fields), 201)
    assert root.tag == "service_requests"
    [request] = root.findall("request")
    answer = children(request)
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    case = Case.objects.get(number=answer["service_request_id"])
    assert answer["account_id"] == "acct-445566" and answer["service_notice"]
    assert case.channel == Channel.OPEN311 and case.state == CaseState.REPORTED
    assert case.category == world.category and case.grid.code == world.grid and case.address == "幸福路 12 号"
    assert case.description == "小区门口垃圾堆积三天无人清理"
    assert case.citizen_key == citizen_key(phone="13900001111")  # the phone, as every channel keys citizens
    [event] = case.events.all()
    assert event.kind == "reported" and event.actor_kind == ActorKind.CITIZEN and event.actor_ref == case.citizen_key
    report = InboundReport.objects.get(case=case)
    assert (report.citizen_email, report.citizen_phone, report.citizen_name) == ("li.si@example.com", "13900001111",
                                                                                "李四")
    assert report.raw_payload["attributes"] == {"size": "large", "kinds": ["bags", "boxes"]}
    assert report.raw_payload["media_url"] == "https://img.example.com/a.jpg"
    assert report.raw_payload["device_id"] == "device-778899" and report.raw_payload["service_code"] == "E0101"
    raw = str(report.raw_payload)
    assert "li.si@example.com" not in raw and "13900001111" not in raw and "李" not in raw  # contact: own columns


def test_post_json_answers_a_list_of_one_request(o311, world, api_key):
    body = json_of(post_request(o311, "json", api_key=api_key, **report_fields(world)), 201)
    assert isinstance(body, list) and len(body) == 1
    assert set(body[0]) == {"service_request_id", "service_notice", "account_id"}
    assert body[0]["account_id"] is None
    case = Case.objects.get(number=body[0]["service_request_id"])
    assert case.citizen_key == ""  # nobody named: an anonymous report


def test_an_email_alone_identifies_the_citizen(o311, world, api_key):
    number = file_request(o311, world, api_key, email="Wang.Wu@Example.com")
    assert Case.objects.get(number=number).citizen_key == citizen_key(email="wang.wu@example.com")


def test_an_empty_description_becomes_the_service_name(o311, world, api_key):
    number = file_request(o311, world, api_key, description="")
    assert Case.objects.get(number=number).description == world.category.minor_name


def test_address_id_places_the_request_on_a_grid_community_or_street(o311, world, api_key):
    number = file_request(o311, world, api_key, lat=None, long=None, address_id="990101002001002")
    case = Case.objects.get(number=number)
    assert case.grid.code == "990101002001002" and case.lat is None
    number = file_request(o311, world, api_key, lat=None, long=None, address_id="990101001")
    assert Case.objects.get(number=number).region_code == "990101001"


def test_a_photo_sent_as_media_is_kept_with_the_case(o311, world, api_key):
    response = o311.post(url("requests", "json"), {"api_key": api_key, **report_fields(world), "media": photo()})
    case = Case.objects.get(number=json_of(response, 201)[0]["service_request_id"])
    assert case.attachments.count() == 1


# --- api_key -----------------------------------------------------------------------------------------------------------
@pytest.fixture
def inactive_key(world):
    key, raw = open311_key_create(name="old app")
    open311_key_set_active(key=key, active=False)
    return raw


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("which, words", [("missing", "missing"), ("unknown", "invalid"), ("inactive", "deactivated")])
def test_a_missing_unknown_or_deactivated_api_key_is_a_403_and_files_nothing(o311, world, inactive_key, fmt, which,
                                                                              words):
    key = {"missing": "", "unknown": "not-a-key-" + "x" * 30, "inactive": inactive_key}[which]
    [description] = errors(post_request(o311, fmt, api_key=key, headers={"Accept-Language": "en"}, **report_fields(world)), 403, fmt)
    assert words in description and "api_key" in description
    assert not Case.objects.exists()


def test_a_key_deactivated_after_use_is_refused_from_then_on(o311, world):
    key, raw = open311_key_create(name="app")
    file_request(o311, world, raw)
    open311_key_set_active(key=key, active=False)
    errors(post_request(o311, api_key=raw, **report_fields(world)), 403, "json")
    assert Case.objects.count() == 1


def test_a_key_limited_to_some_services_files_only_those(o311, world):
    _key, raw = open311_key_create(name="井盖 app", services=[Category.objects.get(code="C0101")])
    file_request(o311, world, raw, service_code="C0101")
    [description] = errors(post_request(o311, "json", api_key=raw, **report_fields(world)), 403, "json")
    assert "E0101" in description
    assert Case.objects.count() == 1


def test_the_key_may_come_in_the_query_string(o311, world, api_key):
    response = o311.post(url("requests", "json") + f"?api_key={api_key}",
                         "&".join(f"{k}={v}" for k, v in report_fields(world).items()).encode(),
                         content_type="application/x-www-form-urlencoded")
    json_of(response, 201)


# --- bad parameters: 400 naming the parameter, nothing stored ------------------------------------------------------------
BAD = [
    ({"service_code": None}, "service_code"),
    ({"lat": None}, "lat and long"),
    ({"long": None}, "lat and long"),
    ({"lat": "north"}, "lat"),
    ({"lat": "91"}, "lat"),
    ({"long": "-181"}, "long"),
    ({"lat": "nan"}, "lat"),
    ({"long": "inf"}, "long"),
    ({"lat": "31.5", "long": "121.5"}, "outside the service area"),
    ({"lat": None, "long": None}, "location"),
    ({"lat": None, "long": None, "address_id": "990101"}, "address_id"),
    ({"lat": None, "long": None, "address_id": "12345"}, "address_id"),
    ({"description": "长" * 4001}, "description"),
    ({"email": "not-an-email"}, "email"),
    ({"phone": "call me maybe"}, "phone"),
    ({"media_url": "javascript:alert(1)"}, "media_url"),
    ({"attribute": "x"}, "attribute"),
    ({"attribute[size]": "x" * 1001}, "attribute"),
    ({**{f"attribute[a{n}]": "1" for n in range(51)}}, "attribute"),
    ({"jurisdiction_id": "990102"}, "jurisdiction_id"),
    ({"first_name": "x" * 30, "last_name": "y" * 30}, "first_name"),
]


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("overrides, words", BAD)
def test_each_bad_parameter_is_a_400_in_the_spec_format_and_nothing_is_filed(o311, world, api_key, fmt, overrides,
                                                                          words):
    category_set_active(category=Category.objects.get(code="C0102"), active=False)
    response = post_request(o311, fmt, api_key=api_key, headers={"Accept-Language": "en"}, **report_fields(world, **overrides))
    [description] = errors(response, 400, fmt)
    assert words in description
    assert not Case.objects.exists() and not InboundReport.objects.exists()


@pytest.mark.parametrize("code", ["X9999", "C0102"])  # unknown, retired
def test_an_unknown_service_code_is_the_specs_404_and_nothing_is_filed(o311, world, api_key, code):
    category_set_active(category=Category.objects.get(code="C0102"), active=False)
    response = post_request(o311, "json", api_key=api_key, headers={"Accept-Language": "en"},
                            **report_fields(world, service_code=code))
    [description] = errors(response, 404, "json")
    assert "service_code" in description and "not found" in description
    assert not Case.objects.exists() and not InboundReport.objects.exists()


def test_an_address_string_alone_is_filed_unstructured_for_the_intake_center(o311, world, api_key):
    response = post_request(o311, "json", api_key=api_key,
                            **report_fields(world, lat=None, long=None, address_string="幸福路 12 号"))
    assert response.status_code == 201, response.content
    case = Case.objects.get()
    assert case.unstructured and case.lat is None and case.region_code == "990100"
    assert case.address == "幸福路 12 号"


def test_an_unknown_jurisdiction_is_a_404(o311, world, api_key):
    errors(post_request(o311, "json", api_key=api_key, **report_fields(world, jurisdiction_id="sfgov.org")), 404,
           "json")
    assert not Case.objects.exists()


def test_a_known_jurisdiction_covering_the_place_files(o311, world, api_key):
    file_request(o311, world, api_key, jurisdiction_id="990101")


def test_json_bodies_are_refused_the_spec_posts_forms(o311, world, api_key):
    response = o311.post(url("requests", "json"), {"api_key": api_key, **report_fields(world)},
                         content_type="application/json", headers={"Accept-Language": "en"})
    [description] = errors(response, 400, "json")
    assert "form-encoded" in description


def test_error_descriptions_follow_the_language_asked_for(o311, world, api_key):
    response = o311.post(url("requests", "json"), "api_key=&service_code=E0101",
                         content_type="application/x-www-form-urlencoded", headers={"Accept-Language": "en"})
    [description] = errors(response, 403, "json")
    assert description.startswith("api_key is missing")


# --- idempotency ------------------------------------------------------------------------------------------------------
def test_a_repeated_idempotency_key_answers_the_first_request_and_files_once(o311, world, api_key):
    fields = report_fields(world, **CITIZEN)
    first = post_request(o311, api_key=api_key, headers={"Idempotency-Key": "req-0001"}, **fields)
    again = post_request(o311, api_key=api_key, headers={"Idempotency-Key": "req-0001"}, **fields)
    assert json_of(first, 201) == json_of(again, 200)
    assert Case.objects.count() == 1
    other = post_request(o311, api_key=api_key, headers={"Idempotency-Key": "req-0002"}, **fields)
    assert json_of(other, 201)[0]["service_request_id"] != json_of(first, 201)[0]["service_request_id"]


def test_idempotency_keys_of_different_api_keys_never_meet(o311, world, api_key):
    _key, other_key = open311_key_create(name="another app")
    first = json_of(post_request(o311, api_key=api_key, headers={"Idempotency-Key": "1"}, **report_fields(world)), 201)
    second = json_of(post_request(o311, api_key=other_key, headers={"Idempotency-Key": "1"}, **report_fields(world)),
                     201)
    assert first[0]["service_request_id"] != second[0]["service_request_id"]
    assert Case.objects.count() == 2


def test_an_overlong_idempotency_key_is_a_400(o311, world, api_key):
    response = post_request(o311, api_key=api_key, headers={"Idempotency-Key": "k" * 101}, **report_fields(world))
    assert "Idempotency-Key" in errors(response, 400, "json")[0]
    assert not Case.objects.exists()


# --- tokens (batch mode) ------------------------------------------------------------------------------------------------
@pytest.fixture
def batch(settings):
    settings.GRIDLOOP_OPEN311_SERVICE_TYPE = "batch"


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_in_batch_mode_post_answers_a_token_that_gives_the_request_id(o311, world, api_key, batch, fmt):
    assert json_of(o311.get(url("services", "json")))[0]["type"] == "batch"
    body = json_of(post_request(o311, api_key=api_key, **report_fields(world)), 201)
    assert set(body[0]) == {"token", "service_notice", "account_id"}  # no service_request_id with a token
    token = body[0]["token"]
    number = Case.objects.get().number
    response = o311.get(url(f"tokens/{token}", fmt))
    if fmt == "xml":
        root = xml_of(response)
        assert root.tag == "service_requests"
        [request] = root.findall("request")
        assert children(request) == {"service_request_id": number, "token": token}
    else:
        assert json_of(response) == [{"service_request_id": number, "token": token}]


def test_a_repeated_batch_post_answers_the_same_token(o311, world, api_key, batch):
    first = post_request(o311, api_key=api_key, headers={"Idempotency-Key": "t"}, **report_fields(world))
    again = post_request(o311, api_key=api_key, headers={"Idempotency-Key": "t"}, **report_fields(world))
    assert json_of(first, 201)[0]["token"] == json_of(again, 200)[0]["token"]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_an_unknown_or_forged_token_is_a_404(o311, world, api_key, batch, fmt):
    token = json_of(post_request(o311, api_key=api_key, **report_fields(world)), 201)[0]["token"]
    report_id, mac = token.split("-")
    for forged in (f"{int(report_id) + 1}-{mac}", f"{report_id}-{'0' * len(mac)}", "12345", "abc-def", "²-x"):
        errors(o311.get(url(f"tokens/{forged}", fmt)), 404, fmt)


def test_an_outside_point_is_named_in_the_error(o311, world, api_key):
    response = post_request(o311, "json", api_key=api_key, **report_fields(world, lat="31.5", long="121.5"))
    [description] = errors(response, 400, "json")
    assert "31.5" in description and "121.5" in description
