"""The department workbench without a browser: the buckets (to sign, handling, due soon, overdue, rework) with the time
left, the actions through case_act with their refusals shown in place, the supervision orders and their reply, and the
403 page for another department's case or photo."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from dispatch.models import SupervisionOrder
from dispatch.sweep import sweep
from events.models import Attachment, AttachmentKind, Case, CaseEvent, CaseState
from tests.events.conftest import act, file_patrol, photo

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
SH = ZoneInfo("Asia/Shanghai")
MORNING = datetime(2026, 12, 8, 9, 0, tzinfo=SH)  # a Tuesday, inside the working hours


def dispatched(world, **overrides):
    case = file_patrol(world, **overrides)
    if Case.objects.get(pk=case.pk).state == CaseState.REPORTED:
        act(case, "accept", world.dispatcher)
    return act(case, "dispatch", world.dispatcher, department=world.dept.code)


@pytest.fixture
def bench(client, world):
    client.force_login(world.handler)
    return client


def bucket_html(client, name):
    return client.get(reverse("web:dept"), {"bucket": name}, **EN).content.decode()


def test_the_workbench_is_the_handlers_page_only(client, world):
    client.force_login(world.operator)
    assert client.get(reverse("web:dept")).status_code == 403
    client.force_login(world.handler)
    assert client.get(reverse("web:dept")).status_code == 200


def test_a_dispatched_case_waits_to_be_signed_with_its_time_left(bench, world):
    with time_machine.travel(MORNING, tick=False):
        case = dispatched(world)
        html = bucket_html(bench, "to_sign")
    assert case.number in html and "light-green" in html and "2 h 0 min left" in html and "due 12-08 11:00" in html
    assert case.number not in bucket_html(bench, "handling")


def test_due_soon_and_overdue_follow_the_running_clock(bench, world):
    with time_machine.travel(MORNING, tick=False):
        case = dispatched(world, urgency="urgent")  # 签收 within 30 minutes (wall clock)
        # at the city center a breach only turns the light red (lower levels escalate, with a fresh clock)
        act(case, "escalate", world.dispatcher, reason="跨街道")
        act(case, "escalate", world.district_dispatcher, reason="跨区")
    with time_machine.travel(MORNING + timedelta(minutes=25), tick=False):
        sweep()
        html = bucket_html(bench, "due_soon")
        assert case.number in html and "light-yellow" in html and "5 min left" in html
    with time_machine.travel(MORNING + timedelta(hours=1, minutes=1), tick=False):
        sweep()
        html = bucket_html(bench, "overdue")
        assert case.number in html and "light-red" in html and "overdue by" in html
        assert case.number not in bucket_html(bench, "due_soon")


def test_a_case_sent_back_for_rework_is_in_the_rework_bucket(bench, world):
    case = dispatched(world)
    act(case, "sign", world.handler)
    assert case.number in bucket_html(bench, "handling")
    assert case.number not in bucket_html(bench, "rework")
    act(case, "complete", world.handler, note="已清理", photos=[photo()])
    act(case, "rework", world.worker, reason="还有残留")
    html = bucket_html(bench, "rework")
    assert case.number in html and "rework 1×" in html
    act(case, "complete", world.handler, note="已彻底清理", photos=[photo()])
    assert case.number not in bucket_html(bench, "rework")


def test_sign_then_complete_with_photos(bench, world):
    case = dispatched(world)
    url = reverse("web:dept_act", args=[case.number, "sign"])
    response = bench.post(url, {"idempotency_key": "s1"})
    assert response.status_code == 302 and response["Location"] == reverse("web:dept_case", args=[case.number])
    assert Case.objects.get(pk=case.pk).state == CaseState.HANDLING
    page = bench.get(response["Location"], **EN).content.decode()
    assert "signed" in page and "Report as handled" in page
    response = bench.post(reverse("web:dept_act", args=[case.number, "complete"]),
                          {"note": "已清理完毕", "photos": [photo("a.jpg"), photo("b.png", fmt="PNG")]})
    assert response.status_code == 302
    case = Case.objects.get(pk=case.pk)
    assert case.state == CaseState.HANDLED
    assert Attachment.objects.filter(case=case, kind=AttachmentKind.AFTER).count() == 2
    assert CaseEvent.objects.get(case=case, kind="complete").payload["note"] == "已清理完毕"


@pytest.mark.parametrize(("action", "data", "message"), [
    ("complete", {"note": "已清理"}, "complete needs photos"),
    ("complete", {"note": ""}, "complete needs note"),
    ("return", {"reason": " "}, "return needs reason"),
    ("request_extension", {"reason": ""}, "request_extension needs reason"),
])
def test_a_refusal_is_shown_on_the_actions_form_and_nothing_changes(bench, world, action, data, message):
    case = dispatched(world)
    act(case, "sign", world.handler)
    response = bench.post(reverse("web:dept_act", args=[case.number, action]), data, **EN)
    assert response.status_code == 400
    assert message in response.content.decode()
    case = Case.objects.get(pk=case.pk)
    assert case.state == CaseState.HANDLING and not case.extension_pending
    assert not CaseEvent.objects.filter(case=case, kind=action).exists()


def test_a_photo_that_is_not_an_image_is_refused_by_the_photo_checks(bench, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    case = dispatched(world)
    act(case, "sign", world.handler)
    fake = SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")
    response = bench.post(reverse("web:dept_act", args=[case.number, "complete"]), {"note": "好了", "photos": [fake]},
                          **EN)
    assert response.status_code == 400 and "not a readable JPEG" in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == CaseState.HANDLING and not Attachment.objects.filter(
        kind=AttachmentKind.AFTER).exists()


def test_an_action_not_allowed_now_is_a_conflict_in_place(bench, world):
    case = dispatched(world)
    response = bench.post(reverse("web:dept_act", args=[case.number, "complete"]),
                          {"note": "好了", "photos": [photo()]}, **EN)
    assert response.status_code == 409 and "Allowed now: sign, return" in response.content.decode()


def test_return_and_extension(bench, world):
    case = dispatched(world)
    act(case, "sign", world.handler)
    bench.post(reverse("web:dept_act", args=[case.number, "request_extension"]), {"reason": "需要协调产权单位"})
    assert Case.objects.get(pk=case.pk).extension_pending
    assert "extension asked" in bucket_html(bench, "handling")
    response = bench.post(reverse("web:dept_act", args=[case.number, "return"]), {"reason": "不属于环卫"})
    assert response["Location"] == reverse("web:dept")
    case = Case.objects.get(pk=case.pk)
    assert (case.state, case.department) == (CaseState.ACCEPTED, None)
    assert bench.get(reverse("web:dept_case", args=[case.number])).status_code == 403


def test_another_departments_case_and_photo_by_url_are_the_403_page(client, world):
    case = dispatched(world)
    photo_id = Attachment.objects.filter(case=case).first().pk
    client.force_login(world.handler_y)
    for url in (reverse("web:dept_case", args=[case.number]), reverse("web:dept_photo", args=[photo_id]),
                reverse("web:dept_case", args=["20990101000001"])):
        response = client.get(url, **EN)
        assert response.status_code == 403 and "department" in response.content.decode()
    assert client.post(reverse("web:dept_act", args=[case.number, "sign"])).status_code == 403
    assert Case.objects.get(pk=case.pk).state == CaseState.DISPATCHED
    assert case.number not in bucket_html(client, "to_sign")
    client.force_login(world.handler)
    assert client.get(reverse("web:dept_photo", args=[photo_id])).status_code == 200


def test_an_unknown_action_is_refused(bench, world):
    case = dispatched(world)
    assert bench.post(reverse("web:dept_act", args=[case.number, "cancel"])).status_code == 403
    assert Case.objects.get(pk=case.pk).state == CaseState.DISPATCHED


def test_supervision_orders_to_the_department_are_answered_from_the_workbench(bench, world):
    with time_machine.travel(MORNING, tick=False):
        case = dispatched(world)
        act(case, "supervise", world.supervisor, note="三天内整改到位", type="leader",
            reply_due=(MORNING + timedelta(days=3)).isoformat())
        html = bucket_html(bench, "to_sign")
        assert "三天内整改到位" in html and "reply on time" in html
    with time_machine.travel(MORNING + timedelta(days=3, hours=1), tick=False):
        assert "reply overdue" in bucket_html(bench, "to_sign")
        order = SupervisionOrder.objects.get()
        empty = bench.post(reverse("web:dept_reply", args=[order.pk]), {"reply": " "}, **EN)
        assert empty.status_code == 400 and "write the reply" in empty.content.decode()
        response = bench.post(reverse("web:dept_reply", args=[order.pk]), {"reply": "已安排明日整改"})
        assert response.status_code == 302
    order.refresh_from_db()
    assert order.reply == "已安排明日整改" and order.replied_by == world.handler
    assert CaseEvent.objects.filter(case=case, kind="supervision_reply").count() == 1
    assert "三天内整改到位" not in bucket_html(bench, "to_sign")


def test_an_order_to_another_department_cannot_be_answered(client, world):
    case = dispatched(world)
    act(case, "urge", world.supervisor, note="请尽快")
    order = SupervisionOrder.objects.get()
    client.force_login(world.handler_y)
    assert client.post(reverse("web:dept_reply", args=[order.pk]), {"reply": "好"}).status_code == 403
    order.refresh_from_db()
    assert order.replied_at is None


def test_a_suspended_case_shows_its_clock_paused(bench, world):
    case = dispatched(world)
    act(case, "sign", world.handler)
    act(case, "suspend", world.dispatcher, reason="等待产权单位", until="2027-01-31")
    html = bucket_html(bench, "handling")
    assert case.number in html and "light-paused" in html and "clock paused" in html


def test_every_workbench_form_needs_the_csrf_token(world):
    from django.test import Client

    case = dispatched(world)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.handler)
    assert client.post(reverse("web:dept_act", args=[case.number, "sign"])).status_code == 403
    assert Case.objects.get(pk=case.pk).state == CaseState.DISPATCHED
    page = client.get(reverse("web:dept_case", args=[case.number])).content.decode()
    assert page.count('name="csrfmiddlewaretoken"') >= page.count("<form")
