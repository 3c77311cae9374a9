"""Writes for the WeChat channel besides the dialogue (conversation.py): photos fetched by MediaId through the media
API and stored through the photo pipeline (events/photos.py) as report photos of their case, and the sweep."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from config.errors import InvalidInput
from dispatch.adapters import ChannelDisabled, DeliveryFailed, MediaUnavailable, WeChatAdapter

from ..actors import Actor
from ..log import event_append
from ..models import AttachmentKind, Case, EventKind, WeChatPhoto, WeChatPhotoState
from ..photos import photo_check
from ..services import _attach

log = logging.getLogger(__name__)
PHOTO_MAX_ATTEMPTS = 6
PHOTO_RETRY_BASE_SECONDS = 60
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


def _photo_failed(photo: WeChatPhoto, error: str, now: datetime, *, final: bool = False) -> str:
    attempts = photo.attempts + 1
    final = final or attempts >= PHOTO_MAX_ATTEMPTS
    state = WeChatPhotoState.FAILED if final else WeChatPhotoState.PENDING
    WeChatPhoto.objects.filter(pk=photo.pk, state=WeChatPhotoState.PENDING).update(
        state=state, attempts=attempts, last_error=error[:2000],
        next_attempt_at=now + timedelta(seconds=PHOTO_RETRY_BASE_SECONDS * 2 ** (attempts - 1)))
    if final:
        log.warning("wechat photo %s of case %s not fetched: %s", photo.media_id, photo.case_id, error)
    return state


def wechat_photo_fetch(*, photo_id: int, now: datetime | None = None) -> str:
    """Download one pending photo through the media API and attach it to its case as a report photo, with a
    ``photo_added`` case event. Returns the photo's state afterwards. The download happens outside any transaction;
    the attachment and the event are written under the case row lock, once (a second run finds it stored)."""
    now = now or timezone.now()
    photo = WeChatPhoto.objects.filter(pk=photo_id).first()
    if photo is None or photo.state != WeChatPhotoState.PENDING:
        return photo.state if photo is not None else ""
    try:
        content, content_type = WeChatAdapter().media_get(photo.media_id, max_bytes=settings.GRIDLOOP_PHOTO_MAX_BYTES)
    except MediaUnavailable as exc:
        return _photo_failed(photo, str(exc), now, final=True)
    except (ChannelDisabled, DeliveryFailed) as exc:
        return _photo_failed(photo, str(exc), now)
    name = f"wechat-{photo.media_id[:24]}.{EXTENSIONS.get(content_type, 'jpg')}"
    try:
        checked = photo_check(SimpleUploadedFile(name, content, content_type=content_type or "image/jpeg"))
    except InvalidInput as exc:
        return _photo_failed(photo, exc.message, now, final=True)
    with transaction.atomic():
        case = Case.objects.select_for_update(of=("self",), no_key=True).get(pk=photo.case_id)
        row = WeChatPhoto.objects.select_for_update().get(pk=photo.pk)
        if row.state != WeChatPhotoState.PENDING:
            return row.state  # another worker stored it meanwhile
        actor = Actor.citizen(case.citizen_key)
        [attachment] = _attach(case, [checked], AttachmentKind.REPORT, actor, now, case.last_seq + 1)
        event_append(case=case, kind=EventKind.PHOTO_ADDED, actor=actor, role="reporter",
                     payload={"channel": "wechat", "photos": [attachment.pk], "media_id": row.media_id}, now=now)
        Case.objects.filter(pk=case.pk).update(last_seq=case.last_seq, last_hash=case.last_hash)
        row.state, row.attachment, row.attempts = WeChatPhotoState.STORED, attachment, row.attempts + 1
        row.last_error = ""
        row.save(update_fields=["state", "attachment", "attempts", "last_error"])
    return WeChatPhotoState.STORED


def wechat_sweep(*, now: datetime | None = None, limit: int = 50) -> dict:
    """File drafts left unfinished past their expiry, and fetch the photos still due (a lost task, a failed try)."""
    from .conversation import conversations_expire, filings_complete

    now = now or timezone.now()
    filed = conversations_expire(now=now, limit=limit) + filings_complete(now=now, limit=limit)
    due = list(WeChatPhoto.objects.filter(state=WeChatPhotoState.PENDING, next_attempt_at__lte=now)
               .order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])
    states = [wechat_photo_fetch(photo_id=pk, now=now) for pk in due]
    return {"filed": filed, "photos_stored": states.count(WeChatPhotoState.STORED),
            "photos_failed": states.count(WeChatPhotoState.FAILED)}
