"""Sign-in in Chromium, as a person does it: by keyboard, in both text sizes, with axe-core on each page."""
import pytest

from tests.web.conftest import assert_accessible, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_dispatcher_signs_in_by_keyboard_and_lands_on_the_console(page, live_server, world):
    page.goto(f"{live_server.url}/")
    assert page.url.endswith("/login/")
    assert_accessible(page, name="login")
    screenshot(page, "login-desktop")
    sign_in(page, live_server, world.dispatcher)
    assert page.url == f"{live_server.url}/console/"
    assert page.get_by_role("navigation").get_by_role("link", name="指挥台").or_(
        page.get_by_role("navigation").get_by_role("link", name="Command console")).is_visible()
    assert_accessible(page, name="console")


def test_sign_in_page_in_large_text_mode(page, live_server, world, large_text):
    large_text(live_server)
    page.goto(f"{live_server.url}/login/")
    size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert size >= 18
    button = page.get_by_role("button", name="登录").or_(page.get_by_role("button", name="Sign in"))
    assert button.bounding_box()["height"] >= 44
    assert_accessible(page, name="login large text")
    screenshot(page, "login-large-text")


def test_a_wrong_password_is_announced_and_the_page_stays_accessible(page, live_server, world):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("用户名").or_(page.get_by_label("Username")).fill("dispatcher")
    page.get_by_label("密码", exact=True).or_(page.get_by_label("Password", exact=True)).fill("wrong")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("alert").is_visible()
    assert_accessible(page, name="login error")


def test_another_roles_page_shows_the_403_page(page, live_server, world):
    sign_in(page, live_server, world.handler)
    response = page.goto(f"{live_server.url}/console/")
    assert response.status == 403
    assert page.get_by_role("heading", level=1).is_visible()
    assert_accessible(page, name="403")
