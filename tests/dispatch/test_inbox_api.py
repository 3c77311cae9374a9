"""GET /api/v1/inbox/ and POST /api/v1/inbox/{id}/read/: each user sees and marks only their own items."""

import pytest
from django.db import transaction

from dispatch.models import InboxItem
from dispatch.outbox import Recipient, outbox_enqueue, relay_batch
from tests.conftest import client_for
from tests.events.conftest import act, file_patrol

pytestmark = pytest.mark.django_db


def deliver_to(user, *titles, case=None):
    with transaction.atomic():
        for title in titles:
            outbox_enqueue(kind="urge", case=case, event_seq=None, recipients=[Recipient.inbox(user)], title=title,
                           body=f"{title} 正文")
    relay_batch()
    return list(InboxItem.objects.filter(user=user).order_by("id"))


def test_the_inbox_lists_the_callers_items_newest_first(world):
    case = file_patrol(world)
    deliver_to(world.handler, "一", "二", case=case)
    deliver_to(world.handler_y, "别人的")
    response = client_for(world.handler).get("/api/v1/inbox/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [item["title"] for item in body["results"]] == ["二", "一"]
    first = body["results"][0]
    assert first["case"] == case.number and first["read"] is False and first["read_at"] is None
    assert first["body"] == "二 正文"


def test_marking_read_and_filtering_unread(world):
    one, two = deliver_to(world.handler, "一", "二")
    client = client_for(world.handler)
    answer = client.post(f"/api/v1/inbox/{one.pk}/read/")
    assert answer.status_code == 200 and answer.json()["read"] is True
    read_at = answer.json()["read_at"]
    again = client.post(f"/api/v1/inbox/{one.pk}/read/")
    assert again.status_code == 200 and again.json()["read_at"] == read_at  # repeating changes nothing
    unread = client.get("/api/v1/inbox/", {"unread": "true"}).json()
    assert [item["id"] for item in unread["results"]] == [two.pk]
    assert client.get("/api/v1/inbox/", {"unread": "false"}).json()["count"] == 2


def test_another_users_item_is_not_found_and_stays_unread(world):
    [theirs] = deliver_to(world.handler_y, "别人的")
    answer = client_for(world.handler).post(f"/api/v1/inbox/{theirs.pk}/read/")
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    assert client_for(world.handler).post("/api/v1/inbox/999999/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_a_bad_filter_names_the_parameter(world):
    answer = client_for(world.handler).get("/api/v1/inbox/", {"unread": "maybe"})
    assert answer.status_code == 400 and "unread" in answer.json()["fields"]


def test_the_inbox_needs_a_login(api):
    assert api.get("/api/v1/inbox/").status_code in (401, 403)


def test_a_dispatched_case_reaches_the_handlers_inbox_through_the_relay(world):
    case = act(file_patrol(world), "dispatch", world.dispatcher, department="s1-huanwei")  # case_act enqueues
    relay_batch()
    [item] = client_for(world.handler).get("/api/v1/inbox/").json()["results"]
    assert item["case"] == case.number and case.number in item["title"]
    assert client_for(world.dispatcher).get("/api/v1/inbox/").json()["count"] == 0
