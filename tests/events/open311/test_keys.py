"""API keys: made by an admin (admin or command), shown once, stored only as a hash, deactivated not deleted."""

import hashlib
import re
from io import StringIO

import pytest
from django.contrib import messages
from django.core.management import CommandError, call_command

from config.errors import InvalidInput
from events.models import Case, Open311ApiKey
from events.open311.services import open311_key_create
from grids.models import User
from tests.events.open311.conftest import errors, file_request, post_request, report_fields

pytestmark = pytest.mark.django_db


def make_key(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_open311_key", *args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue()


def test_the_command_prints_the_key_once_and_stores_only_its_hash(o311, world):
    raw, notice = make_key("城市随手拍")
    assert "cannot be shown again" in notice and raw not in notice
    key = Open311ApiKey.objects.get()
    assert key.name == "城市随手拍" and key.active and key.created_by is None
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest() and key.key_prefix == raw[:8]
    assert raw not in str(list(Open311ApiKey.objects.values()))
    file_request(o311, world, raw)


def test_the_command_limits_services_and_records_who_made_it(o311, world):
    User.objects.create_user(username="root-admin", password="x")
    raw, _ = make_key("井盖 app", "--services", "C0101, C0102", "--created-by", "root-admin")
    key = Open311ApiKey.objects.get()
    assert sorted(key.services.values_list("code", flat=True)) == ["C0101", "C0102"]
    assert key.created_by.username == "root-admin"
    errors(post_request(o311, "json", api_key=raw, **report_fields(world)), 403, "json")


@pytest.mark.parametrize("args, words", [
    (["app", "--services", "C0101,X9999"], "X9999"),
    (["app", "--created-by", "nobody"], "nobody"),
    (["   "], "name|名称"),  # the command speaks the default language (zh-hans)
])
def test_the_command_refuses_bad_input_and_makes_nothing(world, args, words):
    with pytest.raises(CommandError, match=words):
        make_key(*args)
    assert not Open311ApiKey.objects.exists()


def test_a_key_needs_a_name(world):
    with pytest.raises(InvalidInput):
        open311_key_create(name="x" * 101)


@pytest.fixture
def admin_client(client, world):
    client.force_login(User.objects.create_superuser(username="boss", password="x"))
    return client


def test_an_admin_makes_a_key_and_sees_it_once(admin_client, o311, world):
    response = admin_client.post("/admin/events/open311apikey/add/", {"name": "区政务 App", "active": "on"},
                                 follow=True)
    assert response.status_code == 200
    key = Open311ApiKey.objects.get()
    assert key.created_by.username == "boss"
    [shown] = [str(m) for m in response.context["messages"] if m.level == messages.WARNING]
    raw = re.search(re.escape(key.key_prefix) + r"[A-Za-z0-9_-]*", shown)[0]  # urlsafe base64, any language
    assert hashlib.sha256(raw.encode()).hexdigest() == key.key_hash
    file_request(o311, world, raw)
    page = admin_client.get(f"/admin/events/open311apikey/{key.pk}/change/").content.decode()
    assert raw not in page and key.key_prefix in page
    assert admin_client.get("/admin/events/open311apikey/").status_code == 200


def test_an_admin_deactivates_keys_and_they_are_refused(admin_client, o311, world):
    key, raw = open311_key_create(name="old app")
    response = admin_client.post("/admin/events/open311apikey/",
                                 {"action": "deactivate", "_selected_action": [key.pk]}, follow=True)
    assert response.status_code == 200
    key.refresh_from_db()
    assert not key.active
    errors(post_request(o311, "xml", api_key=raw, **report_fields(world)), 403)
    assert not Case.objects.exists()
    assert admin_client.get(f"/admin/events/open311apikey/{key.pk}/delete/").status_code == 403
