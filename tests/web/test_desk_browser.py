"""The hotline desk in Chromium, as an operator works it: by keyboard, with the open cases near the point shown before
filing, the case number to read back, the caller's earlier cases and the inquiry answered; axe-core on every screen
and screenshots of each (desktop and large text)."""
import re

import pytest

from events.models import Case, CaseEvent, Channel
from grids.models import Role
from tests.events.conftest import file_hotline, file_patrol
from tests.factories import grid_center, make_user
from tests.web.conftest import assert_accessible, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def words(*options: str) -> re.Pattern:
    """A name in Chinese or English (the pages are Chinese first; English until the catalogue has the new words)."""
    return re.compile("|".join(re.escape(option) for option in options))


def open_desk(page, live_server, world):
    sign_in(page, live_server, world.operator)
    assert page.url == f"{live_server.url}/desk/"


def test_an_operator_files_a_call_and_sees_a_nearby_duplicate_first(page, live_server, world):
    earlier = file_patrol(world)
    open_desk(page, live_server, world)
    assert_accessible(page, name="desk")
    page.keyboard.type("13900001111")  # the phone field has the focus when the page opens
    page.get_by_label(words("来电人姓名", "Caller's name")).fill("李四")
    page.get_by_label(words("搜索区、街道", "Search a district")).fill("街道")
    page.get_by_role("radio", name=re.compile("街道1001")).check()
    page.get_by_label(words("搜索类别", "Search a category")).fill("sdlj")
    page.get_by_role("radio", name=re.compile("私搭乱建")).check()
    lat, lng = world.point
    page.get_by_label(words("纬度", "Latitude")).fill(f"{lat:.6f}")
    page.get_by_label(words("经度", "Longitude")).fill(f"{lng + 0.0003:.6f}")
    page.keyboard.press("Tab")  # leaving the field is a change: the nearby cases come
    join = page.get_by_role("button", name=re.compile(earlier.number))
    join.wait_for()
    assert page.locator("#nearby-list").get_by_role("cell", name=earlier.number, exact=True).is_visible()
    page.get_by_label(words("问题描述", "What is wrong")).fill("绿地上新搭了一个棚子，不是那堆垃圾")
    assert_accessible(page, name="desk with a nearby case")
    screenshot(page, "desk-desktop", full_page=True)

    page.get_by_role("button", name=words("立案上报", "File the case")).click()
    page.wait_for_url(re.compile(r"/desk/case/\d+/\?filed=1"))
    new = Case.objects.exclude(pk=earlier.pk).get()
    assert (new.channel, new.category.code, new.reporter_id) == (Channel.HOTLINE, "E0101", world.operator.pk)
    number = page.locator(".desk-number")
    assert number.inner_text() == new.number
    assert float(number.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 36
    assert_accessible(page, name="desk filed")
    screenshot(page, "desk-filed")
    page.get_by_role("link", name=words("下一位来电", "Next caller")).click()
    page.wait_for_url(f"{live_server.url}/desk/")
    assert page.get_by_label(words("来电电话", "Caller's phone")).input_value() == ""
    assert Case.objects.count() == 2


def test_the_operator_joins_the_open_case_instead_of_filing_a_duplicate(page, live_server, world):
    earlier = file_patrol(world)
    open_desk(page, live_server, world)
    page.get_by_label(words("来电电话", "Caller's phone")).fill("13900001111")
    lat, lng = world.point
    page.get_by_label(words("纬度", "Latitude")).fill(f"{lat:.6f}")
    page.get_by_label(words("经度", "Longitude")).fill(f"{lng:.6f}")
    page.get_by_label(words("问题描述", "What is wrong")).fill("门口的垃圾还没人管")  # the change brings the nearby list
    page.get_by_role("button", name=re.compile(earlier.number)).click()
    page.wait_for_url(re.compile(r"\?joined=1"))
    assert page.locator(".desk-number").inner_text() == earlier.number
    assert Case.objects.count() == 1
    assert CaseEvent.objects.filter(case=earlier, kind="report_added", actor=world.operator).count() == 1


def test_a_click_on_the_map_sets_the_point(page, live_server, world):
    open_desk(page, live_server, world)
    page.locator(".leaflet-overlay-pane path").first.wait_for()
    page.locator("#desk-map").click()
    assert page.get_by_label(words("纬度", "Latitude")).input_value() != ""
    assert page.get_by_label(words("经度", "Longitude")).input_value() != ""
    page.locator(".leaflet-marker-icon").wait_for()
    page.locator("#nearby-list").get_by_text(re.compile("附近没有|No open case")).wait_for()


def test_the_callers_earlier_case_and_the_answer_recorded(page, live_server, world):
    case = file_hotline(world, citizen_phone="13900001111")
    open_desk(page, live_server, world)
    page.keyboard.type("13900001111")
    answer = page.get_by_role("button", name=re.compile(case.number))
    answer.wait_for()
    assert page.locator("#caller-cases").get_by_text(re.compile("指挥中心正在核实|command center is checking")).is_visible()
    answer.focus()
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text=case.number).wait_for()
    assert page.locator("#answered-today").inner_text().startswith(("今日已答复 1", "1 progress"))
    assert CaseEvent.objects.filter(case=case, kind="inquiry_answered", actor=world.operator).count() == 1
    assert_accessible(page, name="desk caller's cases")


def test_the_desk_in_large_text_mode(page, live_server, world, large_text):
    file_hotline(world, citizen_phone="13900001111")
    large_text(live_server)
    open_desk(page, live_server, world)
    page.keyboard.type("13900001111")
    page.locator("#caller-cases li").first.wait_for()
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 18
    for name in (words("立案上报", "File the case"), words("查找", "Look up")):
        assert page.get_by_role("button", name=name).bounding_box()["height"] >= 44
    assert_accessible(page, name="desk large text")
    screenshot(page, "desk-large-text", full_page=True)


def test_a_case_outside_the_operators_area_by_url_is_the_403_page(page, live_server, world):
    east = make_user("east_operator", (Role.OPERATOR, world.regions["990101"]))
    west_worker = make_user("west_worker", (Role.GRID_WORKER, world.regions["990102001001001"]))
    lat, lng = grid_center("990102001001001")
    from events.actors import Actor
    from events.services import ReportInput, case_report
    from tests.events.conftest import photo
    west, _ = case_report(actor=Actor.staff(west_worker), data=ReportInput(
        channel=Channel.PATROL, description="垃圾", lat=lat, lng=lng, category=world.category, photos=[photo()]))
    sign_in(page, live_server, east)
    response = page.goto(f"{live_server.url}/desk/case/{west.number}/")
    assert response.status == 403
    assert west.description not in page.content()
    assert_accessible(page, name="desk 403")
