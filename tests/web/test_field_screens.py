"""Screens of the field app and the citizen page as people see them — in the default language (Chinese), phone size,
normal, large-text and elder modes — for docs/screenshots/, with axe-core on each. The behaviour is tested in
test_field_browser.py and test_citizen_browser.py (in English, so their locators do not depend on the catalogue);
this file finds things by id and URL only."""
import pytest
from django.core.cache import cache

from tests.events.conftest import act, file_patrol, photo
from tests.web.conftest import assert_accessible, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 390, "height": 844}, "permissions": ["geolocation"],
            "is_mobile": True, "has_touch": True}


def handled(world):
    case = file_patrol(world)
    act(case, "dispatch", world.dispatcher, department=world.dept.code)
    act(case, "sign", world.handler)
    return act(case, "complete", world.handler, note="已清理", photos=[photo(size=(400, 300), color=(40, 120, 60))])


def test_field_app_screens(page, live_server, world, large_text):
    case = handled(world)
    lat, lng = world.point
    page.context.set_geolocation({"latitude": lat + 0.0004, "longitude": lng, "accuracy": 9})
    sign_in(page, live_server, world.worker)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.locator("#report-category option[value='E0101']").wait_for(state="attached")
    page.locator("#position-text", has_text="9").wait_for()
    for view in ("report", "tasks", "mine"):
        page.goto(f"{live_server.url}/field/#{view}")
        page.locator(f"#view-{view}").wait_for()
        page.locator("#field-status").filter(has_text=":").wait_for()
        assert_accessible(page, name=f"field {view} zh")
        screenshot(page, f"field-{view}-phone")
    page.goto(f"{live_server.url}/field/#task/{case.number}")
    page.locator(".field-originals img").first.wait_for()
    page.locator("#check-position").filter(has_text="9").wait_for()
    assert_accessible(page, name="field task zh")
    screenshot(page, "field-check-phone")
    large_text(live_server)
    page.goto(f"{live_server.url}/field/#report")
    page.locator("#report-category option[value='E0101']").wait_for(state="attached")
    assert_accessible(page, name="field report large zh")
    screenshot(page, "field-report-large-text")


def test_citizen_page_screens(page, live_server, world):
    cache.clear()
    lat, lng = world.point
    page.context.set_geolocation({"latitude": lat, "longitude": lng, "accuracy": 12})
    page.goto(f"{live_server.url}/c/")
    assert_accessible(page, name="citizen home zh")
    screenshot(page, "citizen-home-phone")
    page.goto(f"{live_server.url}/c/report/")
    page.locator("#citizen-locate").click()
    page.locator("#citizen-position").filter(has_text="12").wait_for()
    page.locator("#id_category").select_option("E0101")
    page.locator("#id_description").fill("东门口垃圾堆了三天没人清")
    page.locator("#id_phone").fill("13812345678")
    assert_accessible(page, name="citizen report zh")
    screenshot(page, "citizen-report-phone", full_page=True)
    with page.expect_navigation():
        page.locator("#citizen-report button[type=submit]").last.click()
    from events.models import Case

    case = Case.objects.get()
    act(case, "accept", world.dispatcher)
    act(case, "dispatch", world.dispatcher, department=world.dept.code)
    act(case, "sign", world.handler)
    act(case, "complete", world.handler, note="已清理", photos=[photo(size=(400, 300), color=(40, 120, 60))])
    act(case, "verify", world.worker, photos=[photo(size=(400, 300), color=(60, 90, 140))])
    page.goto(f"{live_server.url}/c/case/{case.number}/")
    page.locator("#rate-title").wait_for()
    assert_accessible(page, name="citizen case zh")
    screenshot(page, "citizen-rate-phone", full_page=True)
    page.goto(f"{live_server.url}/c/?elder=1")
    assert_accessible(page, name="citizen home elder zh")
    screenshot(page, "citizen-home-elder")
    page.goto(f"{live_server.url}/c/report/")
    assert_accessible(page, name="citizen report elder zh")
    screenshot(page, "citizen-report-elder")
