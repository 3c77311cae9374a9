"""Sign-in for every staff role: landing on the role's home, switching homes, password change, lockout on every
login path, the 403 page for another role's page, and the security headers of the pages."""
import pytest
from django.urls import reverse

from grids.models import Role
from tests.factories import make_user
from tests.web.conftest import PASSWORD, set_password

pytestmark = pytest.mark.django_db


def sign_in(client, user, password=PASSWORD, **extra):
    return client.post(reverse("web:login"), {"username": user.username, "password": password}, **extra)


@pytest.mark.parametrize(("role_attr", "home"), [
    ("dispatcher", "/console/"), ("operator", "/desk/"), ("handler", "/dept/"), ("worker", "/field/"),
    ("supervisor", "/cockpit/"),
])
def test_each_role_lands_on_its_home(client, world, role_attr, home):
    user = set_password(getattr(world, role_attr))
    response = sign_in(client, user)
    assert response.status_code == 302 and response["Location"] == home
    assert client.get(home).status_code == 200


def test_next_is_honoured_and_outside_urls_are_not(client, world):
    set_password(world.dispatcher)
    response = client.post(reverse("web:login") + "?next=/console/?bucket=red",
                           {"username": "dispatcher", "password": PASSWORD, "next": "/console/?bucket=red"})
    assert response["Location"] == "/console/?bucket=red"
    client.logout()
    response = client.post(reverse("web:login"), {"username": "dispatcher", "password": PASSWORD,
                                                  "next": "https://evil.example/"})
    assert response["Location"] == "/console/"


def test_a_person_with_several_roles_switches_homes_from_the_header(client, world):
    user = make_user("both", (Role.DISPATCHER, world.regions["990101001"]), (Role.SUPERVISOR, world.regions["990101"]))
    set_password(user)
    assert sign_in(client, user)["Location"] == "/console/"
    page = client.get("/console/").content.decode()
    assert 'href="/console/" aria-current="page"' in page and 'href="/cockpit/"' in page
    assert client.get("/cockpit/").status_code == 200


def test_another_roles_page_is_a_403_page_not_a_redirect(client, world):
    sign_in(client, set_password(world.handler))
    response = client.get("/console/")
    assert response.status_code == 403
    assert "text/html" in response["Content-Type"] and "/dept/" in response.content.decode()


def test_pages_ask_anonymous_visitors_to_sign_in(client):
    response = client.get("/console/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/console/"
    assert client.get("/").headers["Location"] == "/login/"


def test_a_user_without_a_role_is_told_so(client, db):
    user = make_user("nobody")
    set_password(user)
    assert sign_in(client, user).status_code == 302
    response = client.get("/")
    assert response.status_code == 403


def test_wrong_password_shows_an_error_and_keeps_the_username(client, world):
    set_password(world.dispatcher)
    response = sign_in(client, world.dispatcher, password="wrong", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.content.decode()
    assert "error-summary" in body and 'value="dispatcher"' in body


def test_logout_is_a_post_and_ends_the_session(client, world):
    sign_in(client, set_password(world.dispatcher))
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get("/console/").status_code == 302


def test_password_change_uses_djangos_validators(client, world):
    sign_in(client, set_password(world.dispatcher))
    weak = client.post("/password/", {"old_password": PASSWORD, "new_password1": "123", "new_password2": "123"},
                       HTTP_ACCEPT_LANGUAGE="en")
    assert weak.status_code == 200 and "too short" in weak.content.decode()
    good = client.post("/password/", {"old_password": PASSWORD, "new_password1": "Qz7!river-lamp",
                                      "new_password2": "Qz7!river-lamp"})
    assert good.status_code == 302 and good["Location"] == "/password/done/"
    world.dispatcher.refresh_from_db()
    assert world.dispatcher.check_password("Qz7!river-lamp")


# --- Lockout (django-axes): 5 failures lock a username from an address for 15 minutes, on every login path -------
def test_five_wrong_passwords_lock_the_page_login_even_for_the_right_one(client, world):
    set_password(world.dispatcher)
    for _ in range(5):
        sign_in(client, world.dispatcher, password="wrong")
    locked = sign_in(client, world.dispatcher, HTTP_ACCEPT_LANGUAGE="en")
    assert locked.status_code == 429
    assert "Too many wrong passwords" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lock_is_per_username_and_address(client, world):
    set_password(world.dispatcher)
    set_password(world.operator)
    for _ in range(5):
        sign_in(client, world.dispatcher, password="wrong")
    assert sign_in(client, world.operator).status_code == 302  # another username from the same address
    client.logout()
    assert sign_in(client, world.dispatcher, REMOTE_ADDR="10.9.8.7").status_code == 302  # another address


def test_the_lock_ends_after_the_cool_off(client, world, settings):
    import time_machine
    from django.utils import timezone

    set_password(world.dispatcher)
    for _ in range(5):
        sign_in(client, world.dispatcher, password="wrong")
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timezone.timedelta(seconds=1)):
        assert sign_in(client, world.dispatcher).status_code == 302


def test_an_admin_releases_the_lock(client, world):
    from axes.utils import reset

    set_password(world.dispatcher)
    for _ in range(5):
        sign_in(client, world.dispatcher, password="wrong")
    reset(username="dispatcher")
    assert sign_in(client, world.dispatcher).status_code == 302


def test_the_token_endpoint_locks_out_too(api, world):
    set_password(world.dispatcher)
    answers = [api.post("/api/v1/auth/token/", {"username": "dispatcher", "password": "wrong"}).status_code
               for _ in range(5)]
    assert answers == [400, 400, 400, 400, 429]  # the fifth failure locks
    response = api.post("/api/v1/auth/token/", {"username": "dispatcher", "password": PASSWORD})
    assert response.status_code == 429 and response.json()["code"] == "locked"


def test_the_admin_login_locks_out_too(client, db):
    from grids.models import User

    User.objects.create_superuser("root", "root@example.org", PASSWORD)
    for _ in range(5):
        client.post("/admin/login/", {"username": "root", "password": "wrong"})
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


# --- Headers and preferences ---------------------------------------------------------------------------------------
def test_pages_carry_a_strict_content_security_policy(client, world):
    sign_in(client, set_password(world.dispatcher))
    policy = client.get("/console/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy


def test_large_text_is_a_cookie_that_switches_the_page_class(client, world):
    sign_in(client, set_password(world.dispatcher))
    response = client.post("/prefs/text-size/", {"size": "large", "next": "/console/"})
    assert response["Location"] == "/console/"
    assert 'class="text-large' in client.get("/console/").content.decode()
    assert client.post("/prefs/text-size/", {"size": "large", "next": "https://evil.example/"})["Location"] == "/"
