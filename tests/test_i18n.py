"""Chinese first (zh-hans), English available; times stored in UTC, shown in Asia/Shanghai."""

import pytest
from django.conf import settings
from django.utils import timezone, translation

from events.models import CaseState
from grids.models import Role
from tests.conftest import client_for
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_api_messages_are_chinese_by_default_and_english_on_request(city):
    client = client_for(make_user("d", (Role.DISPATCHER, city["990101001"])))
    zh = client.get("/api/v1/grids/locate/", {"lat": 10, "lng": 10})
    assert zh.status_code == 404 and "不在服务区域内" in zh.json()["detail"]
    en = client.get("/api/v1/grids/locate/", {"lat": 10, "lng": 10}, HTTP_ACCEPT_LANGUAGE="en")
    assert "outside the service area" in en.json()["detail"]


def test_state_labels_are_translated():
    with translation.override("zh-hans"):
        assert str(CaseState.HANDLED.label) == "处置完成，待核查"
    with translation.override("en"):
        assert str(CaseState.HANDLED.label) == "handled, awaiting check"


def test_admin_is_in_chinese(admin_client):
    page = admin_client.get("/admin/events/case/")
    assert page.status_code == 200
    assert "案卷" in page.content.decode()


def test_storage_is_utc_and_display_is_shanghai():
    assert settings.USE_TZ and settings.TIME_ZONE == "Asia/Shanghai"
    assert timezone.now().utcoffset().total_seconds() == 0
    assert timezone.localtime(timezone.now()).utcoffset().total_seconds() == 8 * 3600


def test_the_sign_in_page_is_chinese_first_with_links(client):
    assert client.get("/")["Location"] == "/login/"
    body = client.get("/login/").content.decode()
    assert "用户名" in body and "/api/docs/" in body and "/healthz/" in body
    assert "Username" in client.get("/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
