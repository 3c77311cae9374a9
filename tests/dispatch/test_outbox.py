"""The notification outbox: which case events notify whom, and the relay's retries, back-off, parking and
exactly-once delivery at the destination (a local fake gateway, never the internet)."""

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.db import connections, transaction
from django.utils import timezone

from dispatch import outbox
from dispatch.models import InboxItem, OutboxChannel, OutboxMessage, OutboxState
from dispatch.outbox import (
    Recipient,
    notifications_for_event,
    notifications_for_light,
    outbox_enqueue,
    relay_batch,
    retry_delay,
)
from events.actors import Actor
from events.log import event_append
from events.models import Case, CaseEvent
from tests.dispatch.fake_http import FakeReceiver
from tests.events.conftest import act, file_hotline, file_patrol, photo
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def notify(case, kind):
    """The messages case_act wrote, in its own transaction, for the case's latest ``kind`` event."""
    event = CaseEvent.objects.filter(case=case, kind=kind).latest("seq")
    return list(OutboxMessage.objects.filter(case=case, event_seq=event.seq).order_by("id"))


def destinations(rows):
    return sorted((row.channel, row.recipient_user.username if row.recipient_user else row.recipient_address)
                  for row in rows)


def dispatched(world, **hotline):
    case = file_hotline(world, **hotline) if hotline else file_patrol(world)
    if hotline:
        case = act(case, "accept", world.dispatcher, category=world.category)
    return act(case, "dispatch", world.dispatcher, department="s1-huanwei")


# --- Who hears about what ---------------------------------------------------------------------------------------------
def test_dispatch_notifies_every_handler_of_the_department_in_their_inbox(world):
    colleague = make_user("handler2", ("handler", world.dept))
    case = dispatched(world)
    rows = notify(case, "dispatch")
    assert destinations(rows) == [("inbox", "handler"), ("inbox", colleague.username)]
    event = case.events.get(kind="dispatch")
    assert {(r.case_id, r.event_seq, r.kind, r.state) for r in rows} == {(case.pk, event.seq, "dispatch", "pending")}
    assert case.number in rows[0].title


def test_return_notifies_the_dispatchers_of_the_owning_command_center(world):
    case = act(dispatched(world), "return", world.handler, reason="非本单位职责")
    rows = notify(case, "return")
    assert destinations(rows) == [("inbox", "dispatcher")]
    assert rows[0].body == "非本单位职责"


def test_a_second_return_goes_up_a_level_and_tells_the_district_dispatchers(world):
    case = act(dispatched(world), "return", world.handler, reason="一")
    case = act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    case = act(case, "return", world.handler, reason="二")
    assert destinations(notify(case, "return")) == [("inbox", "dispatcher")]  # the level the case was returned at
    assert destinations(notify(case, "escalate")) == [("inbox", "district_dispatcher")]


@pytest.mark.parametrize("kind", ["warning", "overdue"])
def test_sweep_warnings_and_overdue_notices_go_to_the_handlers(world, kind):
    """The clock sweep's events (appended by the system) notify the department in charge."""
    case = dispatched(world)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        event = event_append(case=case, kind=kind, actor=Actor.system("sweep"), role="system",
                             from_state=case.state, to_state=case.state)
        case.save()
        rows = notifications_for_event(case=case, event=event)
    assert destinations(rows) == [("inbox", "handler")] and case.number in rows[0].title


def test_clock_lights_turning_yellow_or_red_notify_without_a_case_event(world):
    case = dispatched(world)
    with transaction.atomic():
        warning = notifications_for_light(case=case, light="yellow", stage="handle")
        overdue = notifications_for_light(case=case, light="red", stage="handle")
        assert notifications_for_light(case=case, light="green") == []
    assert [(r.kind, r.event_seq, r.recipient_user) for r in warning + overdue] == [
        ("warning", None, world.handler), ("overdue", None, world.handler)]
    assert warning[0].payload == {"case": case.number, "event": "warning", "seq": None}


def test_escalate_notifies_the_dispatchers_of_the_new_level(world):
    case = act(file_hotline(world), "escalate", world.dispatcher, reason="超出街道权限")
    assert destinations(notify(case, "escalate")) == [("inbox", "district_dispatcher")]
    case = act(case, "escalate", world.district_dispatcher, reason="需要市级协调")
    assert destinations(notify(case, "escalate")) == [("inbox", "city_dispatcher")]


@pytest.mark.parametrize("kind", ["urge", "supervise"])
def test_urge_and_supervise_notify_the_handlers_of_the_department(world, kind):
    extra = {"type": "key_case", "reply_due": (timezone.now() + timedelta(days=1)).isoformat()} if kind == "supervise" else {}
    case = act(dispatched(world), kind, world.supervisor, note="尽快处理", **extra)
    rows = notify(case, kind)
    assert destinations(rows) == [("inbox", "handler")]
    assert rows[0].body == "尽快处理"


def test_urging_a_case_without_a_department_notifies_its_dispatchers(world):
    case = act(file_hotline(world), "urge", world.supervisor, note="尽快受理")
    assert destinations(notify(case, "urge")) == [("inbox", "dispatcher")]


def test_reject_tells_the_citizen_by_sms_when_they_called(world):
    case = act(file_hotline(world), "reject", world.dispatcher, reason="不属于受理范围")
    rows = notify(case, "reject")
    assert destinations(rows) == [("sms", "13812341234")]
    assert rows[0].body == "不属于受理范围"


def test_the_citizen_is_asked_for_feedback_and_told_of_closure_on_wechat_when_known(world, settings):
    case = dispatched(world, citizen_openid="oWX-citizen-1")
    case = act(case, "sign", world.handler)
    case = act(case, "complete", world.handler, note="修好了", photos=[photo()])
    case = act(case, "verify", world.worker, photos=[photo()])
    assert destinations(notify(case, "verify")) == [("wechat", "oWX-citizen-1")]
    hours = settings.GRIDLOOP_FEEDBACK_WINDOW_HOURS + 1
    with time_machine.travel(timezone.now() + timedelta(hours=hours), tick=False):  # no feedback came
        case = act(case, "close", world.dispatcher)
    assert destinations(notify(case, "close")) == [("wechat", "oWX-citizen-1")]


def test_patrol_cases_have_no_citizen_to_tell_and_other_events_notify_nobody(world):
    case = dispatched(world)
    case = act(case, "sign", world.handler)
    assert notify(case, "sign") == []
    case = act(case, "complete", world.handler, note="已清理", photos=[photo()])
    case = act(case, "verify", world.worker, photos=[photo()])
    assert notify(case, "verify") == []
    assert OutboxMessage.objects.exclude(kind="dispatch").count() == 0


def test_enqueue_outside_a_transaction_is_refused(world):
    with mock.patch.object(connections["default"], "in_atomic_block", False), \
            pytest.raises(RuntimeError, match="inside the transaction"):
        outbox_enqueue(kind="x", case=None, event_seq=None, recipients=[Recipient.inbox(world.handler)], title="t")


def test_enqueue_writes_one_row_per_distinct_destination(world):
    recipients = [Recipient.inbox(world.handler), Recipient.inbox(world.handler),
                  Recipient(OutboxChannel.SMS, address="13800000000")]
    rows = outbox_enqueue(kind="x", case=None, event_seq=None, recipients=recipients, title="t")
    assert len(rows) == 2 and OutboxMessage.objects.count() == 2


def test_a_rolled_back_change_leaves_no_message(world):
    case = dispatched(world)
    event = case.events.get(kind="dispatch")
    before = OutboxMessage.objects.count()
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        notifications_for_event(case=case, event=event)
        1 / 0  # noqa: B018 - the change fails after the messages were written
    assert OutboxMessage.objects.count() == before


# --- Relay: inbox -----------------------------------------------------------------------------------------------------
def test_relay_delivers_inbox_messages_once(world):
    case = dispatched(world)
    [row] = notify(case, "dispatch")
    result = relay_batch()
    assert (result.claimed, result.delivered) == (1, 1)
    row.refresh_from_db()
    assert row.state == OutboxState.DELIVERED and row.delivered_at is not None
    item = InboxItem.objects.get()
    assert (item.user, item.case, item.outbox_id, item.title) == (world.handler, case, row.pk, row.title)
    assert relay_batch().claimed == 0
    # Delivering the same row again (a relay that died before recording it) makes no second item.
    outbox.adapter_for("inbox").deliver(row)
    assert InboxItem.objects.count() == 1


# --- Relay: HTTP channels, retries, back-off, parking -----------------------------------------------------------------
def sms_rows(n):
    with transaction.atomic():
        return [outbox_enqueue(kind="reject", case=None, event_seq=None, title=f"消息{i}", body="正文",
                               recipients=[Recipient(OutboxChannel.SMS, address=f"1380000{i:04d}")])[0]
                for i in range(n)]


def test_sms_is_posted_with_the_outbox_id_and_counted_once(settings):
    with FakeReceiver() as fake:
        settings.GRIDLOOP_SMS_API_BASE = fake.base_url
        rows = sms_rows(3)
        assert relay_batch().delivered == 3
    assert set(fake.delivered) == {str(r.pk) for r in rows}
    path, message_id, body = fake.requests[0]
    assert path == "/send" and body == {"phone": "13800000000", "text": "消息0 正文", "message_id": message_id}


def test_wechat_posts_a_customer_service_text_message(settings, world):
    with FakeReceiver() as fake:
        settings.GRIDLOOP_WECHAT_API_BASE = fake.base_url + "/"
        case = act(file_hotline(world, citizen_openid="oWX-1"), "reject", world.dispatcher, reason="重复")
        [row] = notify(case, "reject")
        assert relay_batch().delivered == 1
    [(path, message_id, body)] = fake.requests
    assert path == "/cgi-bin/message/custom/send" and message_id == str(row.pk)
    assert body["touser"] == "oWX-1" and body["msgtype"] == "text" and "重复" in body["text"]["content"]


def test_failures_back_off_exponentially_then_deliver(settings):
    start = timezone.now()
    with FakeReceiver(fail_first=3) as fake, time_machine.travel(start, tick=False) as clock:
        settings.GRIDLOOP_SMS_API_BASE = fake.base_url
        [row] = sms_rows(1)
        waits = []
        for expected in (30, 60, 120):
            assert relay_batch().failed == 1
            row.refresh_from_db()
            waits.append((row.next_attempt_at - timezone.now()).total_seconds())
            assert row.state == OutboxState.PENDING and "HTTP 503" in row.last_error
            clock.shift(timedelta(seconds=expected - 1))
            assert relay_batch().claimed == 0  # not due yet
            clock.shift(timedelta(seconds=1))
        assert waits == [30, 60, 120]
        assert relay_batch().delivered == 1
    row.refresh_from_db()
    assert (row.state, row.attempts) == (OutboxState.DELIVERED, 3)
    assert len(fake.requests) == 4 and list(fake.delivered) == [str(row.pk)]


def test_back_off_is_capped_at_an_hour():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 7, 8, 20)] == [30, 60, 120, 1920, 3600, 3600]


def test_a_delivery_that_keeps_failing_is_parked_and_an_admin_retry_sends_it_again(settings, admin_client):
    settings.GRIDLOOP_OUTBOX_MAX_ATTEMPTS = 3
    start = timezone.now()
    with FakeReceiver(fail_first=3) as fake, time_machine.travel(start, tick=False) as clock:
        settings.GRIDLOOP_SMS_API_BASE = fake.base_url
        [row] = sms_rows(1)
        for _ in range(3):
            relay_batch()
            clock.shift(timedelta(hours=2))
        row.refresh_from_db()
        assert (row.state, row.attempts) == (OutboxState.PARKED, 3)
        assert relay_batch().claimed == 0  # parked rows are not retried on their own …
        page = admin_client.get("/admin/dispatch/outboxmessage/", {"state__exact": "parked"})
        assert page.status_code == 200 and f">{row.pk}<" in page.content.decode()
        answer = admin_client.post("/admin/dispatch/outboxmessage/",
                                   {"action": "retry_now", "_selected_action": [row.pk]})
        assert answer.status_code == 302
        row.refresh_from_db()
        assert (row.state, row.attempts, row.next_attempt_at) == (OutboxState.PENDING, 0, timezone.now())
        assert relay_batch().delivered == 1  # … but after the admin's retry they are
    assert list(fake.delivered) == [str(row.pk)]


def test_a_disabled_channel_parks_at_once_with_a_clear_error(settings):
    settings.GRIDLOOP_SMS_API_BASE = ""
    [row] = sms_rows(1)
    assert relay_batch().parked == 1
    row.refresh_from_db()
    assert row.state == OutboxState.PARKED and "GRIDLOOP_SMS_API_BASE is empty" in row.last_error


def test_an_unreachable_gateway_is_a_failure_to_retry(settings):
    with FakeReceiver() as fake:
        base = fake.base_url
    settings.GRIDLOOP_SMS_API_BASE = base  # the server is gone: connection refused
    [row] = sms_rows(1)
    assert relay_batch().failed == 1
    row.refresh_from_db()
    assert row.state == OutboxState.PENDING and row.attempts == 1 and "cannot reach" in row.last_error


def test_a_crash_after_sending_resends_and_the_receiver_counts_each_message_once(settings):
    """Row claimed, POST sent, the relay dies before recording it: the next relay (after the lease) re-sends; the
    receiver drops the repeat by X-Gridloop-Message-Id and ends with one message per row."""
    start = timezone.now()
    with FakeReceiver() as fake, time_machine.travel(start, tick=False) as clock:
        settings.GRIDLOOP_SMS_API_BASE = fake.base_url
        rows = sms_rows(5)
        real_mark = outbox._mark_delivered
        calls = []

        def crash_on_third(row, now):
            calls.append(row.pk)
            if len(calls) == 3:
                raise SystemExit("worker killed")  # not an Exception: it escapes the relay like a kill would
            real_mark(row, now)

        with mock.patch.object(outbox, "_mark_delivered", crash_on_third), pytest.raises(SystemExit):
            relay_batch()
        assert len(fake.requests) == 3
        assert relay_batch().claimed == 0  # the dead relay's lease still holds the other rows
        clock.shift(timedelta(seconds=settings.GRIDLOOP_OUTBOX_LEASE_SECONDS + 1))
        assert relay_batch().delivered == 3  # the third row (sent, unrecorded) and the two never sent
    assert OutboxMessage.objects.filter(state=OutboxState.DELIVERED).count() == 5
    assert fake.duplicates == 1 and len(fake.requests) == 6
    assert set(fake.delivered) == {str(r.pk) for r in rows}



def test_the_relay_task_runs_batches_until_nothing_is_due(settings):
    with FakeReceiver() as fake:
        settings.GRIDLOOP_SMS_API_BASE = fake.base_url
        sms_rows(5)
        result = outbox.relay_pending(limit=2)
    assert (result.claimed, result.delivered) == (5, 5) and len(fake.delivered) == 5


def test_a_long_batch_renews_its_lease_so_no_other_relay_takes_its_rows(settings):
    """The relay sends slowly (each message 12 s): it renews the lease of the rows still to send, so a second relay
    finds nothing to claim mid-batch; without renewal the 30 s lease would have run out after the third message."""
    start = timezone.now()
    with FakeReceiver() as fake, time_machine.travel(start, tick=False) as clock:
        settings.GRIDLOOP_SMS_API_BASE = fake.base_url
        sms_rows(6)
        real_deliver = outbox._deliver
        claimed_meanwhile = []

        def slow(row, now):
            clock.shift(timedelta(seconds=12))
            claimed_meanwhile.append(len(outbox._claim(10, timezone.now())))  # a second relay, at this moment
            real_deliver(row, timezone.now())

        with mock.patch.object(outbox, "_deliver", slow):
            assert relay_batch().delivered == 6
    assert claimed_meanwhile == [0] * 6 and len(fake.requests) == 6 and fake.duplicates == 0


def test_a_dead_relays_rows_are_sent_again_within_the_lease(settings):
    assert settings.GRIDLOOP_OUTBOX_LEASE_SECONDS <= 30
    start = timezone.now()
    with FakeReceiver() as fake, time_machine.travel(start, tick=False) as clock:
        settings.GRIDLOOP_SMS_API_BASE = fake.base_url
        sms_rows(3)
        assert len(outbox._claim(10, timezone.now())) == 3  # claimed by a relay that is then killed
        clock.shift(timedelta(seconds=settings.GRIDLOOP_OUTBOX_LEASE_SECONDS + 1))
        assert relay_batch().delivered == 3
