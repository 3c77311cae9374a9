"""The OpenAPI schema generates without warnings and the docs page works offline (local static files only)."""

import re

import pytest
import yaml
from django.core.management import call_command

from tests.conftest import client_for
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_the_schema_generates_and_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    for path in ("/api/v1/auth/token/", "/api/v1/regions/", "/api/v1/regions/tree/", "/api/v1/regions/{code}/",
                 "/api/v1/regions/{code}/geojson/", "/api/v1/grids/locate/", "/api/v1/categories/",
                 "/api/v1/categories/{code}/", "/api/v1/departments/", "/api/v1/departments/{code}/", "/api/v1/me/"):
        assert path in schema["paths"], path


def test_the_schema_endpoint_answers_a_logged_in_user():
    response = client_for(make_user("reader")).get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/grids/locate/" in response.content


def test_the_docs_page_uses_only_local_static_files(api):
    api.force_login(make_user("reader"))
    response = api.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    # (not a bare "cdn" anywhere: the page's random CSRF token may contain those letters)
    assert not re.search(r"cdn\.|jsdelivr|unpkg|cdnjs|//cdn", html.lower())
    sources = re.findall(r"""<(?:script|link)\b[^>]*\b(?:src|href)=["']([^"']+)["']""", html)
    assert sources, html
    for source in sources:
        assert source.startswith("/") and not source.startswith("//"), source
    bundle = next(s for s in sources if s.endswith("swagger-ui-bundle.js"))
    assert api.get(bundle).status_code == 200
