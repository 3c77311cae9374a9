"""The field app in Chromium on a phone (390×844): a report made offline survives a reload and files exactly one case;
a queued 核查 on a case that moved on shows the conflict; a poor GPS fix asks for the pin; a check records its fix.

The pages run in English here (the context's locale) so the locators do not depend on the catalogue's state."""
import io
import re

import pytest
from PIL import Image

from events.models import Case, CaseEvent, CaseState, InboundReport
from tests.events.conftest import act, file_patrol, photo
from tests.web.conftest import assert_accessible, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 390, "height": 844}, "locale": "en-US",
            "permissions": ["geolocation"], "is_mobile": True, "has_touch": True}


def jpeg(width=2400, height=1800, color=(30, 120, 60)) -> dict:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG", quality=80)
    return {"name": "camera.jpg", "mimeType": "image/jpeg", "buffer": buffer.getvalue()}


def open_app(page, live_server, world, *, accuracy=8, point=None):
    lat, lng = point or world.point
    page.context.set_geolocation({"latitude": lat, "longitude": lng, "accuracy": accuracy})
    sign_in(page, live_server, world.worker)
    assert page.url == f"{live_server.url}/field/"
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now controlled by the service worker (it keeps the shell for offline opening)
    assert page.evaluate("() => navigator.serviceWorker.controller !== null")
    page.locator("#report-category option[value='E0101']").wait_for(state="attached")
    return page


def fill_report(page, *, description="Rubbish dumped by the gate"):
    page.get_by_label("Take a photo").set_input_files([jpeg()])
    page.get_by_role("img", name="Photo 1").wait_for()
    page.get_by_label("Category", exact=True).select_option("E0101")
    page.get_by_label("What is wrong").fill(description)


def test_a_report_made_offline_survives_a_reload_and_files_exactly_one_case(page, live_server, world):
    open_app(page, live_server, world)
    expect_position = page.get_by_text(re.compile(r"accurate to ±8 m"))
    expect_position.wait_for()
    assert_accessible(page, name="field report")

    page.context.set_offline(True)
    fill_report(page)
    page.get_by_role("button", name="Save and send").click()
    page.get_by_role("link", name=re.compile("Outbox")).click()
    page.get_by_text("Waiting to be sent").wait_for()

    page.reload()  # offline: the shell comes from the service worker's cache, the item from IndexedDB
    page.get_by_text("Waiting to be sent").wait_for()
    assert page.get_by_role("status").filter(has_text="Offline").is_visible()
    assert Case.objects.count() == 0
    key = page.evaluate("""() => new Promise((resolve) => {
        const open = indexedDB.open("gridloop-field");
        open.onsuccess = () => { const req = open.result.transaction("outbox").objectStore("outbox").getAll();
                                 req.onsuccess = () => resolve(req.result[0].key); };
    })""")
    screenshot(page, "field-outbox-offline")

    # The first answer is lost on the way back (the server filed the case): the resend carries the same key.
    lost = {"count": 0}

    def lose_first_answer(route):
        response = route.fetch()
        if lost["count"] == 0:
            lost["count"] += 1
            route.abort()
        else:
            route.fulfill(response=response)

    page.context.route("**/api/v1/cases/", lose_first_answer)
    page.context.set_offline(False)
    page.get_by_role("button", name="Send now").click()
    page.get_by_text(re.compile(r"Sent: case \d+")).wait_for(timeout=30000)
    assert Case.objects.count() == 1
    report = InboundReport.objects.get()
    assert report.idempotency_key == key
    case = report.case
    assert case.channel == "patrol" and case.category.code == "E0101"
    attachment = case.attachments.get()
    assert max(attachment.metadata["width"], attachment.metadata["height"]) == 1600  # shrunk on the phone
    assert attachment.metadata["original_name"].startswith("photo-")  # its capture time
    assert_accessible(page, name="field outbox")


def test_a_poor_gps_fix_asks_for_the_pin_on_the_map(page, live_server, world):
    open_app(page, live_server, world, accuracy=180)
    page.get_by_role("alert").filter(has_text="place the pin on the map").wait_for()
    fill_report(page, description="Broken bench")
    page.get_by_role("button", name="Save and send").click()
    assert page.get_by_role("alert").filter(has_text="Place the pin on the map first").is_visible()
    page.get_by_role("button", name="Put the pin at the map centre").click()
    page.get_by_text("Pin placed on the map").wait_for()
    assert page.locator("#pin-map .leaflet-overlay-pane path").count() == 1  # my unit grid's boundary
    screenshot(page, "field-pin-phone")
    page.get_by_role("button", name="Save and send").click()
    page.get_by_role("link", name=re.compile("Outbox")).click()
    page.get_by_text(re.compile(r"Sent: case \d+")).wait_for(timeout=30000)
    case = Case.objects.get()
    lat, lng = world.point
    assert abs(case.lat - lat) < 1e-4 and abs(case.lng - lng) < 1e-4


def handled(world):
    case = file_patrol(world)
    act(case, "dispatch", world.dispatcher, department=world.dept.code)
    act(case, "sign", world.handler)
    return act(case, "complete", world.handler, note="done", photos=[photo()])


def test_a_check_on_site_records_the_distance_and_accuracy(page, live_server, world):
    case = handled(world)
    lat, lng = world.point
    open_app(page, live_server, world, accuracy=12, point=(lat + 0.003, lng))  # ~330 m away
    page.get_by_role("link", name=re.compile("Tasks")).click()
    page.get_by_role("heading", name=f"Check after handling · {case.number}").wait_for()
    assert_accessible(page, name="field tasks")
    page.get_by_role("link", name="Do the check").click()
    page.get_by_role("alert").filter(has_text="go to the place to check it").wait_for()  # far from the case
    assert page.get_by_role("img", name=re.compile("after handling")).count() >= 1  # the handler's photo
    page.get_by_label("Take the photo on site").set_input_files([jpeg()])
    page.get_by_role("img", name="Photo 1").wait_for()
    with page.expect_response(re.compile(r"/field/data\.json")):
        page.evaluate("() => window.dispatchEvent(new Event('online'))")  # the app refreshes its data meanwhile
    page.wait_for_timeout(300)
    assert page.get_by_role("img", name="Photo 1", exact=True).is_visible()  # the check in progress is kept
    assert_accessible(page, name="field check")
    page.get_by_role("button", name="Save and send").click()
    page.get_by_text(re.compile(r"Sent: case \d+")).wait_for(timeout=30000)
    case = Case.objects.get(pk=case.pk)
    assert case.state == CaseState.VERIFIED
    fix = CaseEvent.objects.get(case=case, kind="verify").payload["fix"]
    assert fix["accuracy_m"] == 12
    assert 300 < fix["distance_m"] < 370


def test_a_queued_check_on_a_case_that_moved_on_shows_the_conflict(page, live_server, world):
    case = handled(world)
    open_app(page, live_server, world)
    page.get_by_role("link", name=re.compile("Tasks")).click()
    page.get_by_role("link", name="Do the check").click()
    page.context.set_offline(True)
    page.get_by_label("Take the photo on site").set_input_files([jpeg()])
    page.get_by_role("img", name="Photo 1").wait_for()
    page.get_by_role("button", name="Save and send").click()
    page.get_by_text("Waiting to be sent").wait_for()
    act(case, "rework", world.dispatcher, reason="not clean")  # meanwhile, at the command center
    act(case, "complete", world.handler, note="again", photos=[photo()])  # handled again: 核查 is possible again
    page.context.set_offline(False)
    page.get_by_role("button", name="Send now").click()
    page.get_by_text("Not applied: the case changed").wait_for(timeout=30000)
    assert page.get_by_text(re.compile("sent back for rework")).is_visible()
    screenshot(page, "field-conflict-phone")
    case = Case.objects.get(pk=case.pk)
    assert case.state == CaseState.HANDLED  # the stale check was not applied
    assert not CaseEvent.objects.filter(case=case, kind="verify").exists()


def test_every_view_in_large_text_mode_passes_axe_with_44_px_targets(page, live_server, world, large_text):
    handled(world)
    large_text(live_server)
    open_app(page, live_server, world)
    assert page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)") >= 18
    for view, name in (("#report", "report"), ("#tasks", "tasks"), ("#outbox", "outbox"), ("#mine", "mine")):
        page.goto(f"{live_server.url}/field/{view}")
        page.locator("#field-status", has_text="Tasks and figures as of").wait_for()
        small = page.evaluate("""() => Array.from(document.querySelectorAll(
            'button, a.button, .field-tabs a, select, input[type=text], input[type=search], label.button'))
            .filter((e) => e.offsetParent !== null)
            .map((e) => [e.textContent.trim() || e.id, e.getBoundingClientRect().height])
            .filter(([, h]) => h < 44)""")
        assert small == [], f"{name}: targets under 44 px: {small}"
        assert_accessible(page, name=f"field {name} large text")


def test_the_case_page_and_its_photos_open_offline(page, live_server, world):
    case = handled(world)
    open_app(page, live_server, world)
    page.get_by_role("link", name=re.compile("Tasks")).click()
    page.get_by_role("heading", name=f"Check after handling · {case.number}").wait_for()
    page.wait_for_timeout(1500)  # the service worker keeps the tasks' photos
    page.context.set_offline(True)
    page.goto(f"{live_server.url}/field/#task/{case.number}")
    page.get_by_role("heading", name=f"Check after handling · {case.number}").wait_for()
    assert page.locator("#field-status", has_text="Offline").is_visible()
    images = page.locator(".field-originals img")
    assert images.count() == 2
    images.last.wait_for()
    page.evaluate("() => Promise.all(Array.from(document.querySelectorAll('.field-originals img')).map((i) => "
                  "i.complete ? true : new Promise((done) => { i.onload = i.onerror = done; })))")
    widths = page.evaluate("() => Array.from(document.querySelectorAll('.field-originals img')).map((i) => i.naturalWidth)")
    assert all(width > 0 for width in widths)  # shown from the cache


def test_a_refused_report_keeps_its_photos_and_is_fixed_and_sent_again(page, live_server, world):
    from events.models import Category

    open_app(page, live_server, world)
    page.context.set_offline(True)
    fill_report(page, description="Lamp post leaning")
    page.get_by_role("button", name="Save and send").click()
    Category.objects.filter(code="E0101").update(active=False)  # retired while the report waited
    page.context.set_offline(False)
    page.get_by_role("link", name=re.compile("Outbox")).click()
    page.get_by_role("button", name="Send now").click()
    page.get_by_text("Refused").wait_for(timeout=30000)
    assert page.get_by_text(re.compile("E0101 is no longer in use")).is_visible()
    assert Case.objects.count() == 0
    page.get_by_role("button", name="Fix and send again").click()
    page.get_by_role("img", name="Photo 1").wait_for()  # the photo is still there
    assert page.get_by_label("What is wrong").input_value() == "Lamp post leaning"
    page.get_by_label("Category", exact=True).select_option("E0102")
    page.get_by_role("button", name="Save and send").click()
    page.get_by_role("link", name=re.compile("Outbox")).click()
    page.get_by_text(re.compile(r"Sent: case \d+")).wait_for(timeout=30000)
    assert page.get_by_text("Refused").count() == 0  # the refused item was replaced
    case = Case.objects.get()
    assert case.category.code == "E0102" and case.attachments.count() == 1


def test_a_problem_handled_on_the_spot_goes_with_before_and_after_photos(page, live_server, world):
    open_app(page, live_server, world)
    page.get_by_label("I handled it myself").check()
    page.get_by_label("Photo before handling").set_input_files([jpeg(color=(120, 30, 30))])
    page.get_by_label("Photo after handling").set_input_files([jpeg(color=(30, 30, 120))])
    page.get_by_role("img", name="After").wait_for()
    page.get_by_label("Category", exact=True).select_option("E0101")
    page.get_by_label("What is wrong").fill("Moved a fallen sign off the pavement")
    page.get_by_role("button", name="Save and send").click()
    page.get_by_role("link", name=re.compile("Outbox")).click()
    page.get_by_text(re.compile(r"Sent: case \d+")).wait_for(timeout=30000)
    case = Case.objects.get()
    assert case.self_handled
    assert sorted(case.attachments.values_list("kind", flat=True)) == ["after", "before"]
