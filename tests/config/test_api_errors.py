"""The error envelope keeps to its documented shape (config/api.py): ``fields`` maps a field path to a list of
messages, also for errors inside a list (``photos.0``); and the supervision order list is documented as the page it
returns."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_an_error_inside_a_list_field_is_named_by_its_path(world):
    response = client_for(world.worker).post(
        "/api/v1/cases/", {"channel": "patrol", "description": "垃圾堆放", "photos": ["not a file", "neither"]},
        format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400, response.content
    fields = response.json()["fields"]
    assert all(isinstance(messages, list) and all(isinstance(m, str) for m in messages) for messages in fields.values())
    assert "photos.0" in fields and "not a file" in fields["photos.0"][0]


def test_the_supervision_order_list_is_documented_as_a_page():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    ok = schema["paths"]["/api/v1/supervision-orders/"]["get"]["responses"]["200"]["content"]["application/json"]
    page = schema["components"]["schemas"][ok["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"count", "next", "previous", "results"} <= set(page["properties"])
