"""The cockpit in Chromium: a district supervisor drills from a department's row to its overdue cases and sends 督办
to three of them; the department replies; the cockpit shows the replies; each number equals the API's figure; the
region cannot be tampered with; big-screen mode fits 1920×1080 without scrollbars; axe-core on every screen.

The department's reply goes through the supervision API as the handler (the department workbench page is built in
parallel and not on main yet).
"""
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatch.models import SupervisionOrder
from tests.conftest import client_for
from tests.web.conftest import assert_accessible, screenshot, sign_in
from tests.web.test_cockpit import overdue_cases

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SH = ZoneInfo("Asia/Shanghai")


def window():
    today = datetime.now(SH).date()
    return {"from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()}


def cockpit_url(live_server, **params):
    query = "&".join(f"{k}={v}" for k, v in {"region": "990101", **window(), **params}.items())
    return f"{live_server.url}/cockpit/?{query}"


def shown(value, kind):
    if value is None:
        return "—"
    return f"{value * 100:.1f}%" if kind == "rate" else f"{value:,}"


def test_a_district_supervisor_drills_down_and_sends_supervision_orders_that_get_replies(page, live_server, world):
    cases = overdue_cases(world, 4)
    sign_in(page, live_server, world.supervisor)
    assert page.url == f"{live_server.url}/cockpit/"
    page.goto(cockpit_url(live_server))
    assert_accessible(page, name="cockpit")
    screenshot(page, "cockpit-desktop", full_page=True)

    # the department's row → its overdue cases
    league = page.get_by_role("region", name=re.compile("Department league table|部门"))
    league.get_by_role("link", name=re.compile(re.escape(world.dept.name))).click()
    page.wait_for_load_state()
    assert "list=overdue_now" in page.url and f"department={world.dept.code}" in page.url
    rows = page.locator("#wheel-cases tbody tr")
    assert rows.count() == 4
    assert_accessible(page, name="cockpit cases")

    chosen = sorted(c.number for c in cases)[:3]
    for number in chosen:
        page.get_by_label(number).check()
    page.get_by_role("radio", name=re.compile("督办")).check()
    page.get_by_role("combobox", name=re.compile("Type of order|督办")).select_option("overdue")
    page.get_by_role("combobox", name=re.compile("Template|模板")).select_option(label="超期督办")
    note = page.get_by_role("textbox", name=re.compile("Note|要求|说明"))
    assert "超过处置时限" in note.input_value()
    screenshot(page, "cockpit-wheel")
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("Send to the selected cases|发送")).click()
    assert page.get_by_role("status").get_by_text(re.compile("督办.*3|3.*督办")).first.is_visible()
    orders = list(SupervisionOrder.objects.filter(kind="supervise").order_by("case__number"))
    assert [o.case.number for o in orders] == chosen
    assert all(o.type == "overdue" and "超过处置时限" in o.requirement for o in orders)

    # the orders are on the cockpit at once, with their lights
    page.goto(cockpit_url(live_server))
    panel = page.get_by_role("region", name=re.compile("^(Supervision orders|督办)"))
    for number in chosen:
        assert panel.get_by_role("row", name=re.compile(number)).is_visible()

    # the department replies (supervision API as the handler) …
    handler = client_for(world.handler)
    for order in orders:
        response = handler.post(f"/api/v1/supervision-orders/{order.pk}/reply/",
                                {"reply": f"{order.case.number} 已清理完毕"}, format="json")
        assert response.status_code == 200
    # … and the cockpit shows the replies
    page.reload()
    panel = page.get_by_role("region", name=re.compile("^(Supervision orders|督办)"))
    for number in chosen:
        assert panel.get_by_text(f"{number} 已清理完毕").is_visible()
    assert_accessible(page, name="cockpit after replies")


def test_each_number_on_the_cockpit_equals_the_apis_figure(page, live_server, world):
    overdue_cases(world, 3)
    sign_in(page, live_server, world.supervisor)
    page.goto(cockpit_url(live_server))
    api = page.request.get(f"{live_server.url}/api/v1/metrics/indicators/",
                           params={**window(), "region": "990101", "group_by": "district"}).json()
    checked = 0
    for code, figure in api["total"]["indicators"].items():
        node = page.locator(f'[data-figure="{code}"]')
        if not node.count():
            continue
        kind = "rate" if figure.get("denominator_counter") else "count"
        assert node.inner_text().strip() == shown(figure["value"], kind), code
        if kind == "rate":
            assert page.locator(f'[data-numerator="{code}"]').inner_text() == str(figure["numerator"])
            assert page.locator(f'[data-denominator="{code}"]').inner_text() == str(figure["denominator"])
        checked += 1
    assert checked == 7  # 立案数 and the six rates; 超期数 comes from the clocks:
    assert page.locator('[data-figure="overdue_now"]').inner_text() == "3"
    # a number's link lists exactly its cases
    page.locator('[data-figure="accepted"]').click()
    page.wait_for_load_state()
    api_cases = page.request.get(f"{live_server.url}/api/v1/metrics/cases/",
                                 params={**window(), "region": "990101", "counter": "accepted"}).json()
    assert page.locator("#wheel-cases tbody tr").count() == api_cases["count"] == 3


def test_a_district_supervisor_cannot_open_another_district_by_editing_the_url(page, live_server, world):
    sign_in(page, live_server, world.supervisor)
    for path in ("/cockpit/?region=990102", "/cockpit/cases/?counter=reported&region=990102",
                 "/cockpit/cases/?list=overdue_now&region=990100", "/cockpit/big/?region=990102"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 403, path
    assert_accessible(page, name="cockpit 403")


def test_big_screen_fits_1920_by_1080_without_scrollbars(page, live_server, world):
    overdue_cases(world, 3)
    page.set_viewport_size({"width": 1920, "height": 1080})
    sign_in(page, live_server, world.supervisor)
    page.goto(f"{live_server.url}/cockpit/big/?region=990101&from={window()['from']}&to={window()['to']}")
    page.wait_for_selector("#cockpit-map .leaflet-interactive")
    sizes = page.evaluate("""() => ({sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth,
        sh: document.documentElement.scrollHeight, ch: document.documentElement.clientHeight,
        bg: getComputedStyle(document.body).backgroundColor, font: parseFloat(getComputedStyle(document.querySelector('.big-value')).fontSize)})""")
    assert sizes["sw"] <= sizes["cw"] == 1920 and sizes["sh"] <= sizes["ch"] == 1080, sizes
    assert sizes["font"] >= 48  # key figures readable from 5 m
    assert_accessible(page, name="cockpit big screen")
    screenshot(page, "cockpit-big-screen")


def test_the_daily_briefing_page_prints_and_downloads(page, live_server, world):
    overdue_cases(world, 2)
    sign_in(page, live_server, world.supervisor)
    page.goto(f"{live_server.url}/cockpit/?region=990101")
    page.get_by_role("link", name=re.compile("Daily briefing|一日一研商")).click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text().startswith(("Daily briefing", "一日一研商"))
    assert_accessible(page, name="cockpit briefing")
    screenshot(page, "cockpit-briefing")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Download PDF|下载 PDF")).click()
    path = download.value.path()
    with open(path, "rb") as pdf:
        assert pdf.read(4) == b"%PDF"
    page.emulate_media(media="print")
    assert not page.get_by_role("link", name=re.compile("Back to the cockpit|返回驾驶舱")).is_visible()
