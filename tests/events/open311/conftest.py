"""A GeoReport v2 client written from the spec alone: it knows the URLs, the parameters, the element names and the
error format — XML is read with a real XML parser (defusedxml's ElementTree), JSON with json."""

import json
from urllib.parse import urlencode

import pytest
from defusedxml import ElementTree
from django.test import Client

from events.open311.services import open311_key_create

BASE = "/open311/v2/"
SPEC = "http://wiki.open311.org/GeoReport_v2"
SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime", "address",
    "address_id", "zipcode", "lat", "long", "media_url",
]
UPDATE_FIELDS = ["update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"]
CITIZEN = {"email": "li.si@example.com", "phone": "13900001111", "first_name": "四", "last_name": "李",
           "device_id": "device-778899", "account_id": "acct-445566"}


@pytest.fixture
def o311(world):
    return Client(enforce_csrf_checks=True)  # as a real client: no CSRF token, ever


@pytest.fixture
def api_key(world):
    _key, raw = open311_key_create(name="城市随手拍 App")
    return raw


def url(resource: str, fmt: str) -> str:
    return f"{BASE}{resource}.{fmt}"


def xml_of(response, status: int = 200):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ElementTree.fromstring(response.content)


def json_of(response, status: int = 200):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(response.content)


def children(element) -> dict:
    """Element → {tag: text} of its direct children (each tag once)."""
    tags = [child.tag for child in element]
    assert len(tags) == len(set(tags)), tags
    return {child.tag: child.text for child in element}


def errors(response, status: int, fmt: str = "xml") -> list[str]:
    """The spec's error document: a list of (code, description); returns the descriptions."""
    if fmt == "xml":
        root = xml_of(response, status)
        assert root.tag == "errors"
        found = []
        for error in root:
            assert error.tag == "error"
            fields = children(error)
            assert set(fields) == {"code", "description"}
            assert fields["code"] == str(status) and fields["description"]
            found.append(fields["description"])
        assert found
        return found
    body = json_of(response, status)
    assert isinstance(body, list) and body
    for error in body:
        assert set(error) == {"code", "description"}
        assert error["code"] == status and error["description"]
    return [error["description"] for error in body]


def post_request(client, fmt="json", *, api_key, headers=None, **fields):
    """POST requests.{fmt}, form-encoded as the spec says."""
    data = {"api_key": api_key, **fields}
    return client.post(url("requests", fmt), urlencode(data, doseq=True),
                       content_type="application/x-www-form-urlencoded; charset=utf-8", headers=headers or {})


def report_fields(world, **overrides) -> dict:
    lat, lng = world.point
    fields = {"service_code": world.category.code, "lat": f"{lat:.6f}", "long": f"{lng:.6f}",
              "description": "小区门口垃圾堆积三天无人清理"}
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


def file_request(client, world, api_key, **overrides) -> str:
    """File a request through the API; returns its service_request_id."""
    body = json_of(post_request(client, api_key=api_key, **report_fields(world, **overrides)), 201)
    return body[0]["service_request_id"]
