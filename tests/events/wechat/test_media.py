"""Photos fetched by MediaId through the media API (a fake WeChat on 127.0.0.1) into the photo pipeline, and the
access token: fetched once, shared, refreshed before it expires and at once on 40001/42001."""

import io
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from PIL import Image

from dispatch.adapters import DeliveryFailed, WeChatAdapter
from dispatch.models import OutboxMessage
from dispatch.outbox import Recipient, outbox_enqueue, relay_batch
from events.integrity import chain_verify
from events.models import Attachment, Case, WeChatAccessToken, WeChatPhoto
from events.wechat import conversation
from events.wechat.services import PHOTO_MAX_ATTEMPTS, wechat_photo_fetch, wechat_sweep

from .conftest import Citizen
from .fake_wechat import FakeWeChat

pytestmark = pytest.mark.django_db
SECRET = "wx-test-secret"


def jpeg(color=(10, 200, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), color).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def wechat(settings):
    with FakeWeChat(app_id="wx-test-app", secret=SECRET) as fake:
        settings.GRIDLOOP_WECHAT_API_BASE = fake.base_url
        settings.GRIDLOOP_WECHAT_APP_SECRET = SECRET
        yield fake


def filed_with_photos(world, *media_ids) -> Case:
    citizen = Citizen("oWX-photos")
    citizen.text("上报")
    citizen.location(*world.point)
    for media_id in media_ids:
        citizen.image(media_id)
    citizen.text("好了")
    citizen.text("路面坑洼")
    return Case.objects.get()


def test_photos_are_fetched_by_media_id_and_stored_as_report_photos(world, wechat):
    wechat.media.update({"m-1": (jpeg(), "image/jpeg"), "m-2": (jpeg((1, 2, 3)), "image/jpeg")})
    case = filed_with_photos(world, "m-1", "m-2")
    for photo in WeChatPhoto.objects.all():
        assert wechat_photo_fetch(photo_id=photo.pk) == "stored"
    attachments = Attachment.objects.filter(case=case)
    assert attachments.count() == 2 and {a.kind for a in attachments} == {"report"}
    assert {a.metadata["width"] for a in attachments} == {16}
    events = list(case.events.filter(kind="photo_added").order_by("seq"))
    assert [e.payload["media_id"] for e in events] == ["m-1", "m-2"] and events[0].actor_kind == "citizen"
    assert [a.event_seq for a in attachments.order_by("id")] == [e.seq for e in events]
    assert wechat.token_requests == 1  # one token for both downloads
    media_calls = [q for method, path, q in wechat.requests if path == "/cgi-bin/media/get"]
    assert [q["media_id"] for q in media_calls] == [["m-1"], ["m-2"]] and media_calls[0]["access_token"] == ["TOKEN-1"]
    # a second run of the same task does nothing more
    assert wechat_photo_fetch(photo_id=WeChatPhoto.objects.first().pk) == "stored"
    assert Attachment.objects.filter(case=case).count() == 2
    assert chain_verify(Case.objects.get(pk=case.pk)) is None  # the hash chain stays intact with the appended events


def test_the_photo_task_is_queued_after_commit_and_a_broker_failure_loses_nothing(world, monkeypatch,
                                                                                  django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr("events.wechat.tasks.wechat_fetch_photo.delay", lambda pk: queued.append(pk))
    with django_capture_on_commit_callbacks(execute=True):
        filed_with_photos(world, "m-1")
    assert queued == [WeChatPhoto.objects.get().pk]

    def broker_down(pk):
        raise ConnectionError("broker down")

    monkeypatch.setattr("events.wechat.tasks.wechat_fetch_photo.delay", broker_down)
    conversation.photos_enqueue([WeChatPhoto.objects.get().pk])  # logged, not raised: the sweep retries
    assert WeChatPhoto.objects.get().state == "pending"


def test_an_expired_or_unknown_media_id_fails_for_good(world, wechat):
    case = filed_with_photos(world, "m-gone")
    photo = WeChatPhoto.objects.get(case=case)
    assert wechat_photo_fetch(photo_id=photo.pk) == "failed"
    photo.refresh_from_db()
    assert "40007" in photo.last_error and not Attachment.objects.exists()


def test_something_that_is_not_a_photo_fails_for_good(world, wechat):
    wechat.media["m-gif"] = (b"GIF89a" + b"\x00" * 20, "image/gif")
    filed_with_photos(world, "m-gif")
    assert wechat_photo_fetch(photo_id=WeChatPhoto.objects.get().pk) == "failed"
    assert "不是可读取的" in WeChatPhoto.objects.get().last_error  # (the task writes in the site's language)


def test_a_photo_larger_than_the_limit_fails_for_good(world, wechat, settings):
    settings.GRIDLOOP_PHOTO_MAX_BYTES = 100
    wechat.media["m-big"] = (jpeg() * 3, "image/jpeg")
    filed_with_photos(world, "m-big")
    assert wechat_photo_fetch(photo_id=WeChatPhoto.objects.get().pk) == "failed"


def test_an_unreachable_media_api_is_retried_by_the_sweep_with_back_off_then_given_up(world, settings):
    settings.GRIDLOOP_WECHAT_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    settings.GRIDLOOP_WECHAT_APP_SECRET = ""
    settings.GRIDLOOP_OUTBOX_HTTP_TIMEOUT_SECONDS = 1
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        filed_with_photos(world, "m-1")
        photo = WeChatPhoto.objects.get()
        assert wechat_photo_fetch(photo_id=photo.pk) == "pending"
        photo.refresh_from_db()
        assert photo.attempts == 1 and photo.next_attempt_at == start + timedelta(seconds=60)
        assert wechat_sweep()["photos_stored"] == 0 and WeChatPhoto.objects.get().attempts == 1  # not due yet
        for _ in range(PHOTO_MAX_ATTEMPTS - 1):
            clock.shift(timedelta(hours=2))
            wechat_sweep()
    photo.refresh_from_db()
    assert (photo.state, photo.attempts) == ("failed", PHOTO_MAX_ATTEMPTS) and "cannot reach" in photo.last_error


def test_the_sweep_fetches_photos_whose_task_was_lost(world, wechat):
    wechat.media["m-1"] = (jpeg(), "image/jpeg")
    filed_with_photos(world, "m-1")
    assert wechat_sweep()["photos_stored"] == 1
    assert WeChatPhoto.objects.get().state == "stored"


# --- The access token ---------------------------------------------------------------------------------------------
def test_the_token_is_cached_in_the_database_until_shortly_before_it_expires(world, wechat):
    adapter = WeChatAdapter()
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        assert adapter.access_token() == "TOKEN-1"
        assert WeChatAdapter().access_token() == "TOKEN-1"  # another process (adapter) shares the row
        row = WeChatAccessToken.objects.get()
        assert row.expires_at == start + timedelta(seconds=7200 - 300)
        clock.shift(timedelta(seconds=7200 - 301))
        assert adapter.access_token() == "TOKEN-1"
        clock.shift(timedelta(seconds=2))
        assert adapter.access_token() == "TOKEN-2"
    assert wechat.token_requests == 2
    token_calls = [q for method, path, q in wechat.requests if path == "/cgi-bin/token"]
    assert token_calls[0] == {"grant_type": ["client_credential"], "appid": ["wx-test-app"], "secret": [SECRET]}


def test_a_refused_token_is_refreshed_once_for_media_and_for_messages(world, wechat):
    wechat.media["m-1"] = (jpeg(), "image/jpeg")
    case = filed_with_photos(world, "m-1")
    assert WeChatAdapter().access_token() == "TOKEN-1"
    wechat.revoke_tokens()  # e.g. fetched elsewhere, or revoked: WeChat answers 40001
    assert wechat_photo_fetch(photo_id=WeChatPhoto.objects.get().pk) == "stored"
    assert WeChatAccessToken.objects.get().token == "TOKEN-2"
    wechat.revoke_tokens()  # customer-service message: 42001 (expired)
    with transaction.atomic():
        [row] = outbox_enqueue(kind="close", case=case, event_seq=None, title="已办结",
                               recipients=[Recipient("wechat", address="oWX-photos")])
    relay_batch()
    row = OutboxMessage.objects.get(pk=row.pk)
    assert row.state == "delivered" and wechat.sent[-1]["touser"] == "oWX-photos"
    assert wechat.token_requests == 3
    sends = [q for method, path, q in wechat.requests if path == "/cgi-bin/message/custom/send"]
    assert [q["access_token"] for q in sends] == [["TOKEN-2"], ["TOKEN-3"]]


def test_bad_credentials_fail_the_delivery_with_a_clear_error_and_no_secret_in_it(world, wechat, settings):
    settings.GRIDLOOP_WECHAT_APP_SECRET = "wrong-secret"
    with pytest.raises(DeliveryFailed) as failure:
        WeChatAdapter().access_token()
    assert "40125" in str(failure.value) and "wrong-secret" not in str(failure.value)
    assert not WeChatAccessToken.objects.exclude(token="").exists()


def test_without_credentials_no_token_is_asked_for(world, wechat, settings):
    settings.GRIDLOOP_WECHAT_APP_SECRET = ""
    assert WeChatAdapter().access_token() == "" and wechat.token_requests == 0
