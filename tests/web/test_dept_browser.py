"""The department workbench in Chromium, as a handler works it: the case to sign in its bucket with its time left,
signing, a refusal shown in place, completing with photos previewed before upload; axe-core on every screen and
screenshots (desktop and large text)."""
import re

import pytest
from PIL import Image

from dispatch.models import SupervisionOrder
from events.models import Attachment, AttachmentKind, Case, CaseState
from tests.events.conftest import act, file_patrol
from tests.web.conftest import assert_accessible, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def words(*options: str) -> re.Pattern:
    return re.compile("|".join(re.escape(option) for option in options))


def dispatched(world):
    case = file_patrol(world)
    if Case.objects.get(pk=case.pk).state == CaseState.REPORTED:
        act(case, "accept", world.dispatcher)
    return act(case, "dispatch", world.dispatcher, department=world.dept.code)


def photo_file(tmp_path, name, color):
    path = tmp_path / name
    Image.new("RGB", (64, 48), color).save(path, "PNG")
    return path


def test_a_handler_signs_and_completes_with_a_photo(page, live_server, world, tmp_path):
    case = dispatched(world)
    second = dispatched(world)
    from datetime import timedelta

    from django.utils import timezone
    act(second, "supervise", world.supervisor, note="请于明日前回复处置方案", type="key_case",
        reply_due=(timezone.now() + timedelta(days=1)).isoformat())
    sign_in(page, live_server, world.handler)
    assert page.url == f"{live_server.url}/dept/"
    rows = page.locator("#bucket tbody tr")
    assert rows.count() == 2
    assert rows.first.locator(".light").is_visible()
    assert page.get_by_text("请于明日前回复处置方案").is_visible()
    assert_accessible(page, name="workbench")
    screenshot(page, "dept-desktop")

    page.get_by_role("link", name=case.number).first.click()
    page.wait_for_url(re.compile(f"/dept/case/{case.number}/$"))
    assert_accessible(page, name="dept case to sign")
    page.get_by_role("button", name=words("签收此案卷", "Sign for this case")).click()
    page.wait_for_url(re.compile(f"/dept/case/{case.number}/$"))
    assert Case.objects.get(pk=case.pk).state == CaseState.HANDLING

    # completing without a photo: the service's refusal is shown on the form, nothing changes
    page.get_by_label(words("处置情况", "What was done")).fill("已清理完毕")
    page.get_by_role("button", name=words("报告处置完成", "Report as handled")).click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "photos" in alert.inner_text() or "照片" in alert.inner_text()
    assert Case.objects.get(pk=case.pk).state == CaseState.HANDLING

    page.get_by_label(words("处置后照片", "Photos after handling")).set_input_files(
        [photo_file(tmp_path, "after-1.png", (20, 160, 60)), photo_file(tmp_path, "after-2.png", (20, 60, 160))])
    previews = page.locator("#complete-previews img")
    previews.nth(1).wait_for()
    assert previews.count() == 2
    assert_accessible(page, name="dept case handling")
    screenshot(page, "dept-case", full_page=True)
    page.get_by_role("button", name=words("报告处置完成", "Report as handled")).click()
    page.get_by_role("status").or_(page.locator(".messages")).first.wait_for()
    case = Case.objects.get(pk=case.pk)
    assert case.state == CaseState.HANDLED
    assert Attachment.objects.filter(case=case, kind=AttachmentKind.AFTER).count() == 2


def test_an_order_is_answered_by_keyboard(page, live_server, world):
    case = dispatched(world)
    act(case, "urge", world.supervisor, note="群众反映强烈，请尽快处理")
    sign_in(page, live_server, world.handler)
    page.get_by_label(words("回复案卷", "Reply on case")).fill("今日下午处理")
    page.keyboard.press("Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".messages").filter(has_text=case.number).is_visible()
    assert SupervisionOrder.objects.get().reply == "今日下午处理"


def test_the_workbench_in_large_text_mode(page, live_server, world, large_text):
    dispatched(world)
    large_text(live_server)
    sign_in(page, live_server, world.handler)
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 18
    for link in page.locator(".buckets a").all():
        assert link.bounding_box()["height"] >= 44
    assert_accessible(page, name="workbench large text")
    screenshot(page, "dept-large-text")


def test_another_departments_case_by_url_is_the_403_page(page, live_server, world):
    case = dispatched(world)
    sign_in(page, live_server, world.handler_y)
    response = page.goto(f"{live_server.url}/dept/case/{case.number}/")
    assert response.status == 403
    assert case.description not in page.content()
    assert_accessible(page, name="dept 403")
