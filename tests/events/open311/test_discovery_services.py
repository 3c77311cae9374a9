"""Discovery, the service list, service definitions and the errors every resource shares."""

import pytest

from events.models import Category
from events.services import category_set_active
from tests.events.open311.conftest import SERVICE_FIELDS, SPEC, children, errors, json_of, url, xml_of

pytestmark = pytest.mark.django_db


def test_discovery_xml_names_the_v2_endpoint_and_both_formats(o311):
    root = xml_of(o311.get(url("discovery", "xml")))
    assert root.tag == "discovery"
    assert [child.tag for child in root] == ["changeset", "contact", "key_service", "endpoints"]
    endpoints = root.find("endpoints")
    assert [child.tag for child in endpoints] == ["endpoint"]
    endpoint = endpoints.find("endpoint")
    assert [child.tag for child in endpoint] == ["specification", "url", "changeset", "type", "formats"]
    assert endpoint.findtext("specification") == SPEC
    assert endpoint.findtext("url") == "http://testserver/open311/v2"
    assert endpoint.findtext("type") in ("production", "test")
    assert [f.text for f in endpoint.find("formats").findall("format")] == ["text/xml", "application/json"]
    assert root.findtext("key_service")


def test_discovery_json_is_the_same_document(o311, settings):
    settings.GRIDLOOP_OPEN311_CONTACT = "12345 热线 / open311@example.gov.cn"
    body = json_of(o311.get(url("discovery", "json")))
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    assert body["contact"] == "12345 热线 / open311@example.gov.cn"
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == SPEC
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert endpoint["url"].endswith("/open311/v2")


def test_services_xml_lists_every_active_category_with_its_major_class_as_group(o311, world):
    category_set_active(category=Category.objects.get(code="C0102"), active=False)
    root = xml_of(o311.get(url("services", "xml")))
    assert root.tag == "services"
    services = root.findall("service")
    assert len(services) == len(list(root)) == Category.objects.filter(active=True).count()
    by_code = {}
    for service in services:
        fields = children(service)
        assert set(fields) == set(SERVICE_FIELDS)
        by_code[fields["service_code"]] = fields
    assert "C0102" not in by_code
    e0101 = by_code["E0101"]
    assert e0101["service_name"] == world.category.minor_name
    assert e0101["group"] == world.category.major_name == "市容环境"
    assert e0101["metadata"] == "false" and e0101["type"] == "realtime"
    assert world.category.minor_name in e0101["keywords"] and e0101["description"]
    assert by_code["C0101"]["group"] == "公用设施"


def test_services_json_mirrors_the_xml(o311, world):
    body = json_of(o311.get(url("services", "json")))
    assert isinstance(body, list) and len(body) == Category.objects.filter(active=True).count()
    assert all(set(service) == set(SERVICE_FIELDS) for service in body)
    service = next(s for s in body if s["service_code"] == "E0101")
    assert service["metadata"] is False and service["type"] == "realtime" and service["group"] == "市容环境"


def test_service_descriptions_follow_the_language_asked_for(o311, world):
    body = json_of(o311.get(url("services", "json"), headers={"Accept-Language": "en"}))
    service = next(s for s in body if s["service_code"] == "E0101")
    assert "event" in service["keywords"] and "working days" in service["description"]
    body = json_of(o311.get(url("services", "json")))  # Chinese by default
    service = next(s for s in body if s["service_code"] == "E0101")
    assert "事件" in service["keywords"] and "工作日" in service["description"]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_service_definition_has_the_code_and_its_attributes(o311, world, fmt):
    response = o311.get(url("services/E0101", fmt))
    if fmt == "xml":
        root = xml_of(response)
        assert root.tag == "service_definition"
        assert [child.tag for child in root] == ["service_code", "attributes"]
        assert root.findtext("service_code") == "E0101"
        assert root.find("attributes").findall("attribute") == []
    else:
        assert json_of(response) == {"service_code": "E0101", "attributes": []}


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("code", ["X9999", "C0102"])
def test_an_unknown_or_retired_service_is_a_404_in_the_spec_format(o311, world, fmt, code):
    category_set_active(category=Category.objects.get(code="C0102"), active=False)
    [description] = errors(o311.get(url(f"services/{code}", fmt)), 404, fmt)
    assert code in description


def test_an_unknown_format_is_a_400(o311, world):
    [description] = errors(o311.get("/open311/v2/services.csv", headers={"Accept-Language": "en"}), 400)
    assert ".xml or .json" in description


@pytest.mark.parametrize("path", ["nothing.xml", "services", "requests/", "v3/services.json", ""])
@pytest.mark.parametrize("method", ["get", "post"])
def test_an_unknown_resource_is_a_404_in_the_spec_format(o311, world, path, method):
    fmt = "json" if path.endswith(".json") else "xml"
    [description] = errors(getattr(o311, method)(f"/open311/v2/{path}"), 404, fmt)
    assert "discovery" in description


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_an_unknown_jurisdiction_is_a_404_and_a_known_one_answers(o311, world, fmt):
    [description] = errors(o311.get(url("services", fmt), {"jurisdiction_id": "sfgov.org"}), 404, fmt)
    assert "jurisdiction_id" in description
    assert o311.get(url("services", fmt), {"jurisdiction_id": "990100"}).status_code == 200
    assert o311.get(url("services", fmt), {"jurisdiction_id": ""}).status_code == 200  # empty = not given


@pytest.mark.parametrize("method, path", [("post", "services.xml"), ("delete", "requests.json"),
                                          ("put", "discovery.xml"), ("post", "requests/1.xml")])
def test_a_method_a_resource_does_not_take_is_refused_in_the_spec_format(o311, world, method, path):
    response = getattr(o311, method)(f"/open311/v2/{path}")
    fmt = path.rsplit(".", 1)[1]
    [description] = errors(response, 405, fmt)
    assert method.upper() in description
    assert "GET" in response["Allow"]
