"""API tokens (issue 19): a lifetime that slides with use, logout, one token per device listed and revocable by its
user and an administrator, and revocation by a password change or a deactivation."""
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from grids.models import ApiToken, Role
from tests.factories import make_user

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tokens-1"


@pytest.fixture
def user(city):
    user = make_user("tok", (Role.DISPATCHER, city["990101001"]))
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(device="", password=PASSWORD):
    return APIClient().post("/api/v1/auth/token/", {"username": "tok", "password": password, "device": device},
                            format="json")


def as_token(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}", HTTP_ACCEPT_LANGUAGE="en")
    return client


def test_only_the_hash_of_a_token_is_stored(user):
    token = sign_in("phone").json()["token"]
    row = ApiToken.objects.get()
    assert token not in (row.key_hash, row.password_mark) and len(row.key_hash) == 64


def test_a_token_expires_after_the_lifetime_without_use_and_use_slides_it(user, settings):
    settings.GRIDLOOP_API_TOKEN_TTL_HOURS = 12
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        body = sign_in("phone").json()
        token = body["token"]
        assert body["expires_at"].startswith((start + timedelta(hours=12)).isoformat()[:16]) or body["expires_at"]
        clock.shift(timedelta(hours=11))
        assert as_token(token).get("/api/v1/me/").status_code == 200  # used: 12 h more from now
        clock.shift(timedelta(hours=11))
        assert as_token(token).get("/api/v1/me/").status_code == 200
        clock.shift(timedelta(hours=12, minutes=1))
        response = as_token(token).get("/api/v1/me/")
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_logout_ends_the_token_by_post_or_delete(user):
    first, second = sign_in("a").json()["token"], sign_in("b").json()["token"]
    assert as_token(first).post("/api/v1/auth/logout/").status_code == 204
    assert as_token(first).get("/api/v1/me/").status_code == 401
    assert as_token(second).delete("/api/v1/auth/token/").status_code == 204
    assert as_token(second).get("/api/v1/me/").status_code == 401
    assert APIClient().delete("/api/v1/auth/token/").status_code == 401


def test_a_user_lists_their_devices_and_logs_one_out(user):
    phone, laptop = sign_in("phone").json()["token"], sign_in("laptop").json()["token"]
    listed = as_token(laptop).get("/api/v1/auth/tokens/").json()
    assert {(t["device"], t["current"]) for t in listed} == {("phone", False), ("laptop", True)}
    phone_id = next(t["id"] for t in listed if t["device"] == "phone")
    assert as_token(laptop).delete(f"/api/v1/auth/tokens/{phone_id}/").status_code == 204
    assert as_token(phone).get("/api/v1/me/").status_code == 401
    assert as_token(laptop).get("/api/v1/me/").status_code == 200


def test_a_user_cannot_log_out_someone_elses_token(user, city):
    other = make_user("other", (Role.DISPATCHER, city["990101001"]))
    other.set_password(PASSWORD)
    other.save()
    theirs = APIClient().post("/api/v1/auth/token/", {"username": "other", "password": PASSWORD}, format="json")
    their_id = ApiToken.objects.get(user=other).pk
    mine = sign_in("phone").json()["token"]
    assert as_token(mine).delete(f"/api/v1/auth/tokens/{their_id}/").status_code == 404
    assert as_token(theirs.json()["token"]).get("/api/v1/me/").status_code == 200


def test_a_password_change_ends_every_token_of_the_user(user):
    tokens = [sign_in(device).json()["token"] for device in ("phone", "laptop")]
    user.set_password("a-brand-new-pw-2")
    user.save()
    for token in tokens:
        response = as_token(token).get("/api/v1/me/")
        assert response.status_code == 401 and "password was changed" in response.json()["detail"]
    assert sign_in("phone", password="a-brand-new-pw-2").status_code == 200


def test_deactivation_ends_the_tokens(user):
    token = sign_in().json()["token"]
    user.is_active = False
    user.save()
    assert as_token(token).get("/api/v1/me/").status_code == 401


def test_an_administrator_revokes_a_token_in_the_admin(user, admin_client):
    token = sign_in("phone").json()["token"]
    row = ApiToken.objects.get()
    page = admin_client.get("/admin/grids/apitoken/")
    assert page.status_code == 200 and "phone" in page.content.decode() and token not in page.content.decode()
    response = admin_client.post(f"/admin/grids/apitoken/{row.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert as_token(token).get("/api/v1/me/").status_code == 401
