"""催办 and 督办: orders made by the urge/supervise actions, the department's reply, the light, and who may reply."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from config.errors import Conflict, InvalidInput, NotFound
from dispatch.models import OutboxMessage, SupervisionOrder
from dispatch.supervision import supervision_orders_visible, supervision_reply
from events.integrity import chain_verify
from events.models import Case
from tests.events.conftest import act, file_patrol

pytestmark = pytest.mark.django_db


def handling_case(world):
    case = file_patrol(world)
    act(case, "dispatch", world.dispatcher, department=world.dept.code)
    return act(case, "sign", world.handler)


def test_a_supervision_order_has_a_type_a_due_time_and_reaches_the_department(world):
    case = handling_case(world)
    due = timezone.now() + timedelta(days=2)
    case = act(case, "supervise", world.supervisor, note="三天内整改到位", type="leader", reply_due=due.isoformat())
    order = SupervisionOrder.objects.get(case=case)
    assert (order.kind, order.type, order.department) == ("supervise", "leader", world.dept)
    assert case.events.get(kind="supervise").payload["order"] == order.pk
    assert OutboxMessage.objects.filter(case=case, kind="supervise", recipient_user=world.handler).exists()
    assert list(supervision_orders_visible(world.handler, open_only=True)) == [order]
    assert list(supervision_orders_visible(world.handler_y, open_only=True)) == []


@pytest.mark.parametrize(("inputs", "field"), [
    ({"type": "whenever", "reply_due": "2099-01-01T00:00:00+08:00"}, "type"),
    ({"type": "leader", "reply_due": "not a time"}, "reply_due"),
    ({"type": "leader", "reply_due": "2020-01-01T00:00:00+08:00"}, "reply_due"),
])
def test_bad_supervision_inputs_are_named_and_nothing_is_written(world, inputs, field):
    case = handling_case(world)
    events = case.events.count()
    with pytest.raises(InvalidInput) as refused:
        act(case, "supervise", world.supervisor, note="督办", **inputs)
    assert refused.value.field == field
    assert SupervisionOrder.objects.count() == 0 and case.events.count() == events


def test_the_light_turns_yellow_at_80_percent_and_red_when_the_reply_is_late(world):
    case = handling_case(world)
    now = timezone.now()
    act(case, "supervise", world.supervisor, note="督办", type="overdue", reply_due=(now + timedelta(hours=10)).isoformat())
    order = SupervisionOrder.objects.get()
    assert order.light(now + timedelta(hours=7)) == "green"
    assert order.light(now + timedelta(hours=8, minutes=30)) == "yellow"
    assert order.light(now + timedelta(hours=11)) == "red"


def test_the_department_replies_once_the_reply_is_logged_and_the_supervisor_told(world):
    case = handling_case(world)
    act(case, "urge", world.supervisor, note="请尽快处理")
    order = SupervisionOrder.objects.get()
    with pytest.raises(NotFound):
        supervision_reply(order_id=order.pk, user=world.handler_y, text="不是我们")
    with pytest.raises(InvalidInput):
        supervision_reply(order_id=order.pk, user=world.handler, text="  ")
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        supervision_reply(order_id=order.pk, user=world.handler, text="已安排人员，今天完成")
    with pytest.raises(Conflict):
        supervision_reply(order_id=order.pk, user=world.handler, text="again")
    order.refresh_from_db()
    assert order.replied_by == world.handler and order.light(timezone.now()) == "done"
    assert case.events.order_by("-seq").first().kind == "supervision_reply"
    assert OutboxMessage.objects.filter(kind="supervision_reply", recipient_user=world.supervisor).exists()
    assert chain_verify(Case.objects.get(pk=case.pk)) is None


def test_the_api_lists_open_orders_for_the_department_and_takes_the_reply(world):
    from tests.conftest import client_for

    case = handling_case(world)
    act(case, "urge", world.supervisor, note="请尽快处理")
    handler = client_for(world.handler)
    listed = handler.get("/api/v1/supervision-orders/", {"open": "true"}).json()
    assert listed["count"] == 1 and listed["results"][0]["light"] == "green"
    order_id = listed["results"][0]["id"]
    assert client_for(world.handler_y).post(f"/api/v1/supervision-orders/{order_id}/reply/",
                                            {"reply": "x"}, format="json").status_code == 404  # as a missing one
    reply = handler.post(f"/api/v1/supervision-orders/{order_id}/reply/", {"reply": "已处理"}, format="json")
    assert reply.status_code == 200 and reply.json()["light"] == "done"
    assert handler.post(f"/api/v1/supervision-orders/{order_id}/reply/", {"reply": "again"},
                        format="json").status_code == 409
    assert handler.get("/api/v1/supervision-orders/", {"open": "true"}).json()["count"] == 0
    assert client_for(world.handler).post("/api/v1/supervision-orders/999999/reply/", {"reply": "x"},
                                          format="json").status_code == 404
