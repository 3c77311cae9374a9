"""The console in Chromium, as a dispatcher works it: by keyboard only from new to dispatched, bulk dispatch with
one refusal, merge from the map, a case filed meanwhile through the API showing up by itself, an out-of-area URL,
axe-core on every state and the screenshots (desktop and large text)."""
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dispatch.models import RoutingRule, StageClock
from events.models import Case
from tests.events.conftest import act, file_hotline, file_patrol
from tests.factories import grid_center
from tests.web.conftest import assert_accessible, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def detail_of(page, number):
    return page.locator(f'#detail [data-case="{number}"]')


def test_a_dispatcher_works_a_case_from_new_to_dispatched_by_keyboard_only(page, live_server, world):
    RoutingRule.objects.create(category=world.category, region=world.regions["990101001"], department=world.dept)
    first = file_hotline(world, category=world.category, description="井盖丢失")
    lat, lng = grid_center("990101001001002")  # the street's other grid: not a duplicate of the first
    second = file_hotline(world, category=world.category, description="路灯不亮", lat=lat, lng=lng)
    StageClock.objects.filter(case=first, finished_at=None).update(deadline=timezone.now() + timedelta(minutes=30))
    sign_in(page, live_server, world.dispatcher)
    expect(page.locator("#worklist tbody tr")).to_have_count(2)
    assert_accessible(page, name="console")
    page.keyboard.press("Enter")  # the first row (most urgent) is selected on arrival
    expect(detail_of(page, first.number)).to_be_visible()
    page.keyboard.press("a")  # accept: no inputs, sent at once; the next case opens
    expect(detail_of(page, second.number)).to_be_visible()
    assert Case.objects.get(pk=first.pk).state == "accepted"
    expect(page.locator(f'#worklist tr[data-number="{second.number}"]')).to_have_class("is-selected")
    order = page.locator("#worklist tbody tr").evaluate_all("rows => rows.map(row => row.dataset.number)")
    steps = order.index(first.number) - order.index(second.number)  # back to the accepted case, wherever it sorts
    for _ in range(abs(steps)):
        page.keyboard.press("j" if steps > 0 else "k")
    page.keyboard.press("Enter")
    expect(detail_of(page, first.number)).to_be_visible()
    expect(page.locator(".suggestion")).to_contain_text(world.dept.name)
    page.keyboard.press("d")  # dispatch: the suggested department is preselected and focused
    expect(page.get_by_label("部门").or_(page.get_by_label("Department")).last).to_be_focused()
    assert_accessible(page, name="console detail with the dispatch form")
    screenshot(page, "console-desktop")
    page.keyboard.press("Enter")
    expect(detail_of(page, second.number)).to_be_visible()
    case = Case.objects.get(pk=first.pk)
    assert case.state == "dispatched" and case.department_id == world.dept.pk


def test_bulk_dispatch_shows_each_result_with_one_refusal(page, live_server, world):
    ready = [file_patrol(world), file_patrol(world, description="又一处")]  # accepted on filing
    new = file_hotline(world, category=world.category)  # not accepted yet: dispatch is refused
    sign_in(page, live_server, world.dispatcher)
    for case in (*ready, new):
        page.get_by_label(f"Select {case.number}").or_(page.get_by_label(f"选择 {case.number}")).check()
    page.locator("#bulk-action").select_option("dispatch")
    page.locator("#bulk-department").select_option(world.dept.code)
    page.locator("#bulk-form button[type=submit]").click()
    results = page.locator("#bulk-results")
    expect(results.locator(".result-done")).to_have_count(2)
    expect(results.locator(".result-refused")).to_have_count(1)
    expect(results.locator(".result-refused")).to_contain_text(new.number)
    expect(results.locator(".result-refused")).to_contain_text(re.compile("cannot dispatch|无法.*dispatch"))
    assert set(Case.objects.filter(pk__in=[c.pk for c in ready]).values_list("state", flat=True)) == {"dispatched"}
    assert Case.objects.get(pk=new.pk).state == "reported"
    assert_accessible(page, name="console bulk results")


def test_merge_from_the_map(page, live_server, world):
    keep = file_hotline(world, category=world.category, description="垃圾满溢")
    act(keep, "accept", world.dispatcher)
    repeat = file_hotline(world, category=world.category, description="垃圾满溢（重复）")
    sign_in(page, live_server, world.dispatcher, next_path=f"/console/case/{repeat.number}/")
    expect(detail_of(page, repeat.number)).to_be_visible()
    pin = page.locator(f'.map-pin-extra[data-number="{keep.number}"]')
    expect(pin).to_be_visible()
    pin.click()
    popup = page.locator(".leaflet-popup")
    expect(popup).to_contain_text(keep.number)
    popup.get_by_role("button", name=keep.number).click()
    expect(page.locator("#detail")).to_contain_text(repeat.number)
    expect(page.locator("#detail [role=status]")).to_be_visible()
    merged = Case.objects.get(pk=repeat.pk)
    for _ in range(50):  # the status region may show before the merge's response has landed on a busy machine
        if merged.state == "merged":
            break
        page.wait_for_timeout(100)
        merged.refresh_from_db()
    assert merged.state == "merged" and merged.merged_into_id == keep.pk


def test_auto_refresh_shows_a_case_filed_meanwhile_through_the_api(page, live_server, world):
    from rest_framework.test import APIClient

    first = file_hotline(world, category=world.category)
    page.clock.install()
    sign_in(page, live_server, world.dispatcher)
    page.get_by_label("关键词").or_(page.get_by_label("Keyword")).first.is_visible()
    expect(page.locator("#worklist tbody tr[data-number]")).to_have_count(1)
    page.locator(f'tr[data-number="{first.number}"] input[type=checkbox]').check()  # kept across the refresh
    api = APIClient()
    api.force_authenticate(world.operator)
    response = api.post("/api/v1/cases/", {"channel": "hotline", "description": "噪音扰民", "lat": world.point[0],
                                           "lng": world.point[1], "category": "E0101",
                                           "citizen_phone": "13900001111"}, format="json")
    assert response.status_code == 201, response.content
    number = response.json()["number"]
    page.clock.fast_forward(11_000)
    row = page.locator(f'#worklist tr[data-number="{number}"]')
    expect(row).to_be_visible()
    expect(row).to_have_class("is-new")
    expect(page.locator(f'tr[data-number="{first.number}"] input[type=checkbox]')).to_be_checked()


def test_a_case_outside_my_area_is_a_403_page(page, live_server, world):
    lat, lng = grid_center("990101002001001")
    other = file_hotline(world, category=world.category, description="别处的案子", lat=lat, lng=lng)
    sign_in(page, live_server, world.dispatcher)
    response = page.goto(f"{live_server.url}/console/case/{other.number}/")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_text("别处的案子")).to_have_count(0)
    assert_accessible(page, name="console 403")


def test_console_in_large_text_mode(page, live_server, world, large_text):
    RoutingRule.objects.create(category=world.category, region=world.regions["990101001"], department=world.dept)
    case = file_hotline(world, category=world.category, description="井盖丢失")
    file_patrol(world)
    large_text(live_server)
    sign_in(page, live_server, world.dispatcher, next_path=f"/console/case/{case.number}/")
    expect(detail_of(page, case.number)).to_be_visible()
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 18
    assert_accessible(page, name="console large text")
    screenshot(page, "console-large-text")
    page.keyboard.press("?")
    expect(page.locator("#keys-dialog")).to_be_visible()
    assert_accessible(page, name="console keys")
