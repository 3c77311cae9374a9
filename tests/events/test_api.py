"""The categories API: every staff user reads the whole list, filtered by active, kind and major class."""

import pytest

from events.models import Category
from events.services import categories_load, category_set_active
from tests.conftest import client_for
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(db):
    categories_load()
    return client_for(make_user("anyone"))


def codes(response):
    assert response.status_code == 200, response.content
    return [item["code"] for item in response.json()]


@pytest.mark.parametrize("url", ["/api/v1/categories/", "/api/v1/categories/C0101/"])
def test_categories_answer_401_without_credentials(db, api, url):
    response = api.get(url)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_any_staff_user_lists_every_category_in_code_order_unpaginated(client):
    listed = codes(client.get("/api/v1/categories/"))
    assert listed == sorted(Category.objects.values_list("code", flat=True))
    assert len(listed) == Category.objects.count() > 50


def test_a_category_has_its_classes_limit_and_department_type(client):
    body = client.get("/api/v1/categories/C0101/").json()
    labels = {key: body.pop(key) for key in list(body) if key.endswith("_label")}
    assert set(labels) == {"kind_label", "default_urgency_label", "limit_unit_label", "department_type_label"}
    assert all(labels.values())  # in the active language
    assert body == {
        "code": "C0101", "kind": "component", "major_code": "01", "major_name": "公用设施", "minor_code": "01",
        "minor_name": "上水井盖", "default_urgency": "normal", "handling_limit": 1, "limit_unit": "work_day",
        "department_type": "水务", "active": True, "manual_accept": False,
    }


def test_an_unknown_category_is_a_404(client):
    response = client.get("/api/v1/categories/X9999/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_categories_filter_by_kind(client):
    events = codes(client.get("/api/v1/categories/", {"kind": "event"}))
    assert events and all(code.startswith("E") for code in events)
    components = codes(client.get("/api/v1/categories/", {"kind": "component"}))
    assert components and all(code.startswith("C") for code in components)
    assert len(events) + len(components) == Category.objects.count()


def test_categories_filter_by_major_class(client):
    listed = codes(client.get("/api/v1/categories/", {"major": "01", "kind": "component"}))
    assert listed == sorted(Category.objects.filter(kind="component", major_code="01").values_list("code", flat=True))
    assert "C0101" in listed and "C0201" not in listed


def test_categories_filter_by_active(client):
    category_set_active(category=Category.objects.get(code="C0101"), active=False)
    assert codes(client.get("/api/v1/categories/", {"active": "false"})) == ["C0101"]
    active = codes(client.get("/api/v1/categories/", {"active": "true"}))
    assert "C0101" not in active and len(active) == Category.objects.count() - 1
    assert "C0101" in codes(client.get("/api/v1/categories/"))


@pytest.mark.parametrize(("field", "value"), [("kind", "thing"), ("major", "1"), ("major", "ab"), ("active", "maybe")])
def test_a_bad_category_filter_is_a_400_naming_it(client, field, value):
    response = client.get("/api/v1/categories/", {field: value})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]
