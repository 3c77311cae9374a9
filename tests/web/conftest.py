"""Fixtures for the pages: the case-test world, signed-in test clients, and the browser (Playwright driving Debian's
Chromium at /usr/bin/chromium) with helpers to sign in, check accessibility (axe-core) and take screenshots.

Browser tests are marked ``browser``. They are skipped when Chromium is missing, except in CI
(``GRIDLOOP_TEST_BROWSER_REQUIRED=1``, set by .ci/run), where a missing browser fails them.
"""
import os
import shutil
from pathlib import Path

import pytest

from tests.events.conftest import file_patrol, photo, world  # noqa: F401  (fixtures and builders shared with pages)

# Playwright's sync API runs an event loop in the test thread (and keeps it for the session): the tests still read the
# database directly. (tests/test_settings.py keeps it out of the `check --deploy` it runs.)
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = os.environ.get("GRIDLOOP_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "pw-for-tests-1"
SIZES = {"phone": (390, 844), "desktop": (1366, 900), "big": (1920, 1080)}


def pytest_collection_modifyitems(config, items):
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return
    if os.environ.get("GRIDLOOP_TEST_BROWSER_REQUIRED") == "1":
        return  # they fail at launch, naming the missing browser
    skip = pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM} (apt-get install -y chromium fonts-noto-cjk)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM}


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1366, "height": 900}, "locale": "zh-CN",
            "timezone_id": "Asia/Shanghai"}


def set_password(user, password: str = PASSWORD):
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def sign_in(page, live_server, user, *, password: str = PASSWORD, next_path: str = ""):
    """Sign in through the real form, by keyboard, as the person would."""
    set_password(user, password)
    page.goto(f"{live_server.url}/login/" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("用户名").or_(page.get_by_label("Username")).fill(user.username)
    page.get_by_label("密码", exact=True).or_(page.get_by_label("Password", exact=True)).fill(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    return page


def assert_accessible(page, *, name: str = ""):
    """axe-core: no serious or critical violation on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not bad, f"{name or page.url}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}" for v in bad)


def screenshot(page, name: str, *, full_page: bool = False):
    """Keep a screenshot of the screen in docs/screenshots/ (refreshed by every run of the browser tests)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


@pytest.fixture
def large_text(page):
    """Switch the page's context to the large-text mode (the cookie the header's button sets)."""

    def switch(live_server):
        page.context.add_cookies([{"name": "gridloop_text", "value": "large", "url": live_server.url}])

    return switch
