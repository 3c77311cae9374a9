"""The admin shows what the official account received and replied, conversations, photos and the access token's
lifetime — read-only, and never the token itself."""

from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import WeChatAccessToken, WeChatConversation, WeChatMessage, WeChatPhoto
from tests.events.conftest import file_hotline

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(world):
    now = timezone.now()
    case = file_hotline(world)
    message = WeChatMessage.objects.create(dedupe_key="msg:1", openid="oWX-1", msg_type="text",
                                           payload={"Content": "井盖丢了"}, reply=f"已受理，编号 {case.number}",
                                           case=case, received_at=now)
    conversation = WeChatConversation.objects.create(openid="oWX-2", step="photos", draft={}, started_at=now,
                                                     updated_at=now, expires_at=now + timedelta(hours=1))
    photo = WeChatPhoto.objects.create(case=case, media_id="m-1", state="failed", attempts=5, next_attempt_at=now,
                                       last_error="40007 invalid media_id")
    token = WeChatAccessToken.objects.create(app_id="wx-app", token="TOKEN-SECRET-123", fetched_at=now,
                                             expires_at=now + timedelta(hours=2))
    return {"wechatmessage": message, "wechatconversation": conversation, "wechatphoto": photo,
            "wechataccesstoken": token}


@pytest.mark.parametrize("model", ["wechatmessage", "wechatconversation", "wechatphoto", "wechataccesstoken"])
def test_an_administrator_reads_the_wechat_rows_but_cannot_change_them(admin_client, rows, model):
    listing = admin_client.get(f"/admin/events/{model}/")
    assert listing.status_code == 200
    detail = admin_client.get(f"/admin/events/{model}/{rows[model].pk}/change/")
    assert detail.status_code == 200
    assert admin_client.get(f"/admin/events/{model}/add/").status_code == 403
    assert b"TOKEN-SECRET-123" not in listing.content + detail.content


def test_a_message_is_found_by_its_case_number(admin_client, rows):
    number = rows["wechatmessage"].case.number
    page = admin_client.get("/admin/events/wechatmessage/", {"q": number})
    assert page.status_code == 200 and b"oWX-1" in page.content
    assert b"oWX-1" not in admin_client.get("/admin/events/wechatmessage/", {"q": "2099010100001"}).content
