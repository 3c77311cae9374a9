"""Requests that were 500s (issue 19): NUL bytes, nested JSON, a date at the calendar's end, oversized bodies, too
many fields, unknown paths and the database down — each a clean 4xx/503 in the format of the part of the site asked
(the API's JSON envelope, Open311's error document, an HTML page), with nothing written."""
import json
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

from events.models import Case
from events.open311.services import open311_key_create
from tests.conftest import client_for
from tests.events.sensors.conftest import clock, post_raw, sensors, sign  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def envelope(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["detail"] and body["code"], body
    return body


def open311_error(response, status: int) -> str:
    assert response.status_code == status, response.content
    body = json.loads(response.content)
    assert body[0]["code"] == status
    return body[0]["description"]


@pytest.mark.parametrize("url", [
    "/open311/v2/requests.json?service_code=E01%0001",
    "/open311/v2/services/E01%0001.json",
])
def test_a_nul_byte_in_an_open311_address_is_the_specs_400(world, url):
    assert "NUL" in open311_error(Client().get(url), 400)


def test_a_nul_byte_in_an_open311_form_is_refused_and_nothing_filed(world):
    _key, raw = open311_key_create(name="app")
    response = Client().post("/open311/v2/requests.json", {"api_key": raw, "service_code": "E0101",
                                                           "description": "a\x00b", "lat": 30.005, "long": 120.005})
    assert "NUL" in open311_error(response, 400)
    assert not Case.objects.exists()


def test_a_nul_byte_in_a_case_number_is_a_400(world):
    body = envelope(client_for(world.dispatcher).get("/api/v1/cases/2026%00/"), 400)
    assert "NUL" in body["detail"]


def test_a_nul_character_in_json_is_a_400_naming_it(world, admin_user):
    response = client_for(admin_user).post("/api/v1/routing-rules/", {"region": "99\u0000"}, format="json")
    assert "NUL" in envelope(response, 400)["detail"]


def test_deeply_nested_json_is_a_400_and_no_case(world):
    response = client_for(world.worker).post("/api/v1/cases/", "[" * 5000, content_type="application/json")
    assert "nested" in envelope(response, 400)["detail"]
    assert not Case.objects.exists()


def test_a_deeply_nested_sensor_batch_is_refused_as_malformed(sensors):  # noqa: F811
    body = b"[" * 5000
    response = post_raw(body, sign(body, secret=sensors.water.secret, device_id="W-001"))
    assert response.status_code == 400, response.content


def test_a_date_at_the_end_of_the_calendar_limits_nothing(world):
    from tests.events.conftest import file_patrol

    file_patrol(world)
    response = client_for(world.dispatcher).get("/api/v1/cases/?created_to=9999-12-31&created_from=0001-01-01")
    assert response.status_code == 200 and response.json()["count"] == 1


def test_a_body_declared_too_large_is_refused_before_it_is_read(world, settings):
    settings.GRIDLOOP_MAX_REQUEST_BYTES = 1000
    response = client_for(world.worker).generic("POST", "/api/v1/cases/", b"x" * 10, content_type="application/json",
                                                CONTENT_LENGTH="300000000")
    assert envelope(response, 413)["code"] == "too_large"


def test_too_many_fields_is_a_json_400_under_the_api(world, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    data = "&".join(f"f{i}=1" for i in range(50))
    response = client_for(world.worker).generic("POST", "/api/v1/cases/", data,
                                                content_type="application/x-www-form-urlencoded")
    envelope(response, 400)


def test_an_unknown_api_path_is_a_json_404(world):
    assert envelope(client_for(world.dispatcher).get("/api/v1/nothing-here/"), 404)["code"] == "not_found"


def test_an_unknown_page_is_an_html_404(db):
    response = Client().get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_the_database_down_is_a_503_with_retry_after(world):
    client = client_for(world.dispatcher)
    with mock.patch("events.selectors.cases_list", side_effect=OperationalError("terminating connection")):
        response = client.get("/api/v1/cases/")
    assert envelope(response, 503)["code"] == "unavailable"
    assert response["Retry-After"] == "5"


def test_the_database_down_under_open311_is_the_specs_503(world):
    with mock.patch("events.open311.selectors.services_list", side_effect=OperationalError("gone")):
        response = Client().get("/open311/v2/services.json")
    assert "Idempotency-Key" in open311_error(response, 503)
