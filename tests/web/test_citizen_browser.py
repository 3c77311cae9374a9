"""The citizen page in Chromium on a phone (390×844), as a citizen uses it: report with the phone's position, follow
the private link, rate the result 2 (the case is flagged for a supervisor); every page passes axe-core, also in the
elder-friendly mode (60 px targets, line spacing ≥ 1.3). English pages: locators independent of the catalogue."""
import re

import pytest
from django.core.cache import cache

from events.models import Case, CaseState
from tests.events.conftest import act, photo
from tests.web.conftest import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 390, "height": 844}, "locale": "en-US",
            "permissions": ["geolocation"], "is_mobile": True, "has_touch": True}


@pytest.fixture(autouse=True)
def fresh_limits():
    cache.clear()


def to_verified(world, case):
    act(case, "accept", world.dispatcher)
    act(case, "dispatch", world.dispatcher, department=world.dept.code)
    act(case, "sign", world.handler)
    act(case, "complete", world.handler, note="cleaned", photos=[photo()])
    return act(case, "verify", world.worker, photos=[photo()])


def test_a_citizen_reports_follows_the_private_link_and_rates_two(page, live_server, world):
    lat, lng = world.point
    page.context.set_geolocation({"latitude": lat, "longitude": lng, "accuracy": 15})
    page.goto(f"{live_server.url}/c/")
    assert_accessible(page, name="citizen home")
    page.get_by_role("link", name="Report a problem").click()
    page.get_by_role("button", name="Use my location").click()
    page.get_by_text(re.compile(r"Your position is attached \(±15 m\)")).wait_for()
    page.get_by_label("What kind of problem is it?").select_option("E0101")
    page.get_by_label("Describe the problem").fill("Rubbish piled at the east gate for three days")
    page.get_by_label("Your mobile number").fill("13812345678")
    assert_accessible(page, name="citizen report")
    page.get_by_role("button", name="Send the report").click()
    page.get_by_role("heading", name="Your report is in").wait_for()
    case = Case.objects.get()
    assert case.channel == "web" and abs(case.lat - lat) < 1e-6
    link = page.locator(".citizen-link a").get_attribute("href")
    assert_accessible(page, name="citizen case new")

    to_verified(world, case)
    page.goto(f"{live_server.url}{link}")
    page.get_by_role("heading", name="Rate the result").wait_for()
    assert page.get_by_role("img", name=re.compile("Photo of the result")).count() == 2
    page.get_by_label("2 — dissatisfied").check()
    page.get_by_label("Anything to add? (optional)").fill("Still dirty")
    assert_accessible(page, name="citizen rating")
    page.get_by_role("button", name="Send my rating").click()
    page.get_by_text("a supervisor will look at the case").wait_for()
    case = Case.objects.get(pk=case.pk)
    assert case.state == CaseState.CLOSED and case.rating == 2 and case.reopen_review


def test_the_elder_mode_has_60_px_targets_and_passes_axe(page, live_server, world):
    page.goto(f"{live_server.url}/c/?elder=1")
    assert page.evaluate("() => document.documentElement.classList.contains('elder')")
    line = page.evaluate("() => { const s = getComputedStyle(document.body); "
                         "return parseFloat(s.lineHeight) / parseFloat(s.fontSize); }")
    assert line >= 1.3
    heights = page.evaluate("() => Array.from(document.querySelectorAll('main a.button, main button, header button'))"
                            ".map((e) => e.getBoundingClientRect().height)")
    assert heights and min(heights) >= 60
    assert_accessible(page, name="citizen home elder")
    page.get_by_role("link", name="Report a problem").click()
    fields = page.evaluate("() => Array.from(document.querySelectorAll('main input:not([type=hidden]), main select, "
                           "main button:not([hidden])')).map((e) => e.getBoundingClientRect().height)")
    assert min(fields) >= 60
    assert_accessible(page, name="citizen report elder")
    page.get_by_role("button", name="Send the report").click()  # empty: the errors are announced
    assert page.get_by_role("alert").is_visible()
    assert_accessible(page, name="citizen report errors elder")
    page.goto(f"{live_server.url}/c/find/")
    assert_accessible(page, name="citizen find elder")
    page.goto(f"{live_server.url}/c/mine/")
    assert_accessible(page, name="citizen mine elder")
