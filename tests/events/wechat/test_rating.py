"""When a case is verified the citizen is asked (outbox → customer-service message) to rate 1–5; the reply closes the
case through case_act (feedback), and 1–2 flags it for a supervisor's reopen decision, visible in the API."""

import pytest

from dispatch.models import OutboxMessage
from dispatch.outbox import relay_batch
from events.models import Case, CaseState
from tests.conftest import client_for
from tests.events.conftest import act, photo

from .conftest import Citizen
from .fake_wechat import FakeWeChat

pytestmark = pytest.mark.django_db


def verified_case(world, citizen: Citizen, description="井盖丢了") -> Case:
    citizen.text("上报")
    citizen.location(*world.point)
    citizen.text("无")
    citizen.text(description)
    case = Case.objects.order_by("-id").first()
    case = act(case, "accept", world.dispatcher, category="E0101")
    case = act(case, "dispatch", world.dispatcher, department=world.dept.code)
    case = act(case, "sign", world.handler)
    case = act(case, "complete", world.handler, note="已修复", photos=[photo()])
    return act(case, "verify", world.worker, photos=[photo()])


def test_the_citizen_is_asked_to_rate_through_a_customer_service_message(world, citizen, settings):
    case = verified_case(world, citizen)
    row = OutboxMessage.objects.get(kind="verify", case=case)
    assert (row.channel, row.recipient_address) == ("wechat", citizen.openid)
    with FakeWeChat(app_id="wx-test-app", secret="s3cret") as fake:
        settings.GRIDLOOP_WECHAT_API_BASE = fake.base_url
        settings.GRIDLOOP_WECHAT_APP_SECRET = "s3cret"
        relay_batch()
    row.refresh_from_db()
    assert row.state == "delivered"
    [sent] = fake.sent
    assert sent["touser"] == citizen.openid and case.number in sent["text"]["content"]
    assert "number from 1 to 5" in sent["text"]["content"]
    assert "checked on site; please rate" in citizen.text(f"查询 {case.number}")


def test_a_good_rating_closes_the_case(world, citizen):
    case = verified_case(world, citizen)
    reply = citizen.text("5 很满意，谢谢")
    case = Case.objects.get(pk=case.pk)
    assert (case.state, case.rating, case.rating_comment, case.reopen_review) == (CaseState.CLOSED, 5, "很满意，谢谢",
                                                                                 False)
    assert reply == f"Thank you for rating case {case.number}: 5 of 5."
    feedback = case.events.get(kind="feedback")
    assert feedback.actor_kind == "citizen" and feedback.payload["rating"] == 5


@pytest.mark.parametrize("text, rating", [("1", 1), ("2分 没修好", 2)])
def test_a_low_rating_closes_and_flags_the_case_for_a_supervisors_reopen_decision(world, citizen, text, rating):
    case = verified_case(world, citizen)
    assert "supervisor will decide" in citizen.text(text)
    case = Case.objects.get(pk=case.pk)
    assert (case.state, case.rating, case.reopen_review) == (CaseState.CLOSED, rating, True)
    supervisor = client_for(world.supervisor)
    listed = supervisor.get("/api/v1/cases/", {"status": "closed"}).json()["results"]
    assert [(c["number"], c["reopen_review"]) for c in listed] == [(case.number, True)]
    detail = supervisor.get(f"/api/v1/cases/{case.number}/").json()
    assert detail["reopen_review"] is True and "reopen" in detail["allowed_actions"]
    reopened = supervisor.post(f"/api/v1/cases/{case.number}/actions/reopen/", {"reason": "市民不满意"}, format="json")
    assert reopened.status_code == 200 and reopened.json()["state"] == "handling"
    assert supervisor.get(f"/api/v1/cases/{case.number}/").json()["reopen_review"] is False


def test_a_rating_of_three_is_not_flagged(world, citizen):
    case = verified_case(world, citizen)
    citizen.text("3")
    case = Case.objects.get(pk=case.pk)
    assert (case.rating, case.reopen_review) == (3, False)


def test_a_retried_rating_is_recorded_once(world, citizen):
    from .conftest import message_xml

    case = verified_case(world, citizen)
    xml = message_xml(citizen.openid, "text", Content="4")
    replies = {citizen.reply_of(citizen.send_xml(xml)) for _ in range(4)}
    assert len(replies) == 1 and case.events.filter(kind="feedback").count() == 1


def test_with_several_cases_waiting_the_citizen_names_one(world, citizen):
    first = verified_case(world, citizen, "第一件")
    second = verified_case(world, citizen, "第二件")
    reply = citizen.text("4")
    assert "Several of your cases" in reply and first.number in reply and second.number in reply
    assert Case.objects.filter(state=CaseState.CLOSED).count() == 0
    assert "Thank you" in citizen.text(f"评价 {first.number} 4")
    first = Case.objects.get(pk=first.pk)
    assert (first.state, first.rating) == (CaseState.CLOSED, 4)
    assert "Thank you" in citizen.text("2")  # now only the second one waits
    second = Case.objects.get(pk=second.pk)
    assert (second.rating, second.reopen_review) == (2, True)


def test_ratings_without_a_case_waiting_or_for_someone_elses_case(world, citizen):
    case = verified_case(world, citizen)
    stranger = Citizen("oWX-stranger")
    assert "None of your cases" in stranger.text("评价 5")
    assert "not waiting for your rating" in stranger.text(f"评价 {case.number} 1")
    case = Case.objects.get(pk=case.pk)
    assert case.state == CaseState.VERIFIED


def test_a_digit_while_nothing_waits_is_not_taken_as_a_rating(world, citizen):
    citizen.text("上报")
    citizen.location(*world.point)
    citizen.text("无")
    assert "filed as case" in citizen.text("5号楼前垃圾堆积")
    assert Case.objects.get().description == "5号楼前垃圾堆积"
