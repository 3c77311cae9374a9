"""case_act writes notifications to the outbox in the same transaction; the relay delivers them to the inbox."""

import pytest
from django.utils import timezone, translation

from config.errors import InvalidInput
from dispatch.models import InboxItem, OutboxMessage
from dispatch.outbox import relay_batch
from events.models import InboundReport
from tests.conftest import client_for
from tests.events.conftest import act, file_hotline, file_patrol
from tests.events.states import drive

pytestmark = pytest.mark.django_db


def test_dispatching_a_case_reaches_the_handlers_inbox_through_the_relay(world):
    case = file_patrol(world)
    act(case, "dispatch", world.dispatcher, department=world.dept.code)
    message = OutboxMessage.objects.get(case=case, recipient_user=world.handler)
    assert message.state == "pending"
    relay_batch()
    item = InboxItem.objects.get(user=world.handler)
    assert case.number in (item.title + item.body) or item.case_id == case.pk
    body = client_for(world.handler).get("/api/v1/inbox/").json()
    assert body["count"] == 1


def test_a_refused_action_writes_no_message(world):
    case = file_patrol(world)
    before = OutboxMessage.objects.count()
    with pytest.raises(InvalidInput):
        act(case, "dispatch", world.dispatcher, department="no-such-department")
    assert OutboxMessage.objects.count() == before


def test_the_automatic_level_up_after_two_returns_notifies_the_district(world):
    case = file_patrol(world)
    act(case, "dispatch", world.dispatcher, department=world.dept.code)
    act(case, "return", world.handler, reason="非本单位")
    act(case, "dispatch", world.dispatcher, department=world.dept_y.code)
    act(case, "return", world.handler_y, reason="非本单位")
    assert OutboxMessage.objects.filter(case=case, recipient_user=world.district_dispatcher).exists()


def test_rejecting_a_hotline_report_tells_the_caller_by_sms(world):
    case = file_hotline(world)
    act(case, "reject", world.dispatcher, reason="不属于城市管理范围")
    assert OutboxMessage.objects.filter(case=case, channel="sms", recipient_address="13812341234").exists()


@pytest.mark.parametrize("rating, told", [(1, True), (2, True), (3, False), (5, False)])
def test_a_very_dissatisfied_rating_asks_the_supervisors_over_the_case_to_decide_on_reopening(world, rating, told):
    case = drive(world, "verified")
    act(case, "feedback", world.operator, rating=rating, comment="还是有积水")
    notices = OutboxMessage.objects.filter(case=case, kind="feedback")
    if not told:
        assert not notices.exists()
        return
    assert [m.recipient_user for m in notices] == [world.supervisor]  # the district's supervisor covers the grid
    assert "重启" in notices[0].title and str(rating) in notices[0].title and notices[0].body == "还是有积水"


# --- Languages: staff notices in the site's language, a citizen's in their channel's ------------------------------------
def test_a_citizen_reads_the_notice_in_the_language_of_their_channel(world, settings):
    settings.GRIDLOOP_WECHAT_LANGUAGE = "en"
    case = file_hotline(world)  # the caller: SMS (the site's language, zh-hans)
    InboundReport.objects.create(case=case, channel="wechat", citizen_openid="o-wechat-1", description="路灯不亮",
                                 received_at=timezone.now())
    with translation.override("en"):  # the dispatcher's own language plays no part
        act(case, "reject", world.dispatcher, reason="不属于城市管理范围")
    sms, wechat = (OutboxMessage.objects.get(case=case, kind="reject", channel=channel) for channel in ("sms", "wechat"))
    assert (sms.title, sms.body) == (f"您反映的问题（{case.number}）未予立案", "不属于城市管理范围")
    assert (wechat.title, wechat.body) == (f"Your report ({case.number}) was not accepted", "不属于城市管理范围")


def test_staff_notices_are_written_in_the_sites_language_whoever_acts(world):
    case = file_patrol(world)
    with translation.override("en"):
        act(case, "dispatch", world.dispatcher, department=world.dept.code)
    message = OutboxMessage.objects.get(case=case, recipient_user=world.handler)
    assert message.title == f"新派遣案卷 {case.number}，请签收"
