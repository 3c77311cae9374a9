"""The citizen's side of the official account: a short guided report, queries and the rating (writes).

    message_receive(message)   one inbound message → the reply text ("" = acknowledge without a message)

Every message is stored first (``WeChatMessage``, unique by MsgId, events by FromUserName + CreateTime) in the same
transaction as what it causes, with the reply it got: a retry of a message WeChat got no answer to within 5 s
inserts nothing, files nothing, and gets the first reply again. On PostgreSQL a retry that arrives while the first
delivery is still being processed waits on the unique index and then answers the same.

The report dialogue (``WeChatConversation``, one per openid, in the database so it survives restarts)::

    "上报" or the REPORT menu → location (a location message, or the place in words)
                              → photos (image messages, then "好了"/"无")
                              → description (text) → filed: the case number

A location or a photo sent outside a dialogue starts one with it. Free text outside a dialogue that is no command is
filed at once as an *unstructured* report (no location, no category) that the intake command center completes when
accepting it; so is a draft left unfinished past ``GRIDLOOP_WECHAT_CONVERSATION_MINUTES`` (by the sweep, or when the
citizen writes again). Nothing a citizen sends is dropped. Cases are made only by ``events.services.case_report``
(channel wechat, a citizen actor) and ratings go through ``events.services.case_act`` (feedback).
"""

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import DomainError, InvalidInput, Unprocessable
from grids.models import Level, Region
from grids.selectors import locate

from ..actors import Actor, citizen_key
from ..models import (
    Case,
    CaseState,
    Channel,
    WeChatConversation,
    WeChatMessage,
    WeChatPhoto,
    WeChatStep,
)
from ..photos import MAX_PHOTOS
from ..services import ReportInput, case_act, case_report
from . import selectors

log = logging.getLogger(__name__)

# Menu buttons (CLICK events) the account's custom menu may carry: their EventKey values.
MENU_REPORT, MENU_QUERY, MENU_MINE = "REPORT", "QUERY", "MY_CASES"
START_WORDS = {"上报", "我要上报", "反映问题", "我要反映", "随手拍", "举报"}
DONE_WORDS = {"好了", "好", "好的", "完成", "发完了", "没有", "无", "没有照片", "跳过", "ok"}
CANCEL_WORDS = {"取消", "退出", "不报了"}
MINE_WORDS = {"我的", "我的上报", "我的案卷", "我的问题"}
HELP_WORDS = {"帮助", "help", "?", "？", "菜单"}
QUERY_RE = re.compile(r"^(?:查询|查|进度)\s*[:：]?\s*(\d{8,20})?\s*$")
RATING_RE = re.compile(r"^(?P<explicit>评价\s*[:：]?\s*)?(?:(?P<number>\d{13,20})\s*)?(?P<score>[1-5])\s*分?"
                       r"(?:$|[\s,，。.!！:：]+(?P<comment>.*)$)", re.S)
TRIM = " \t\r\n，,。.！!"


def _words(text: str) -> str:
    return text.strip().strip(TRIM).lower()


# --- Entry point ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filing:
    """A draft to file as a case: ``trigger`` makes the filing idempotent (the report's idempotency key)."""

    openid: str
    draft: dict
    trigger: str
    expired: bool = False

    def as_dict(self) -> dict:
        return {"openid": self.openid, "draft": self.draft, "trigger": self.trigger, "expired": self.expired}


def message_receive(message) -> str:
    """Handle one inbound message (events.wechat.protocol.Inbound) exactly once; returns the reply text.

    Three steps, so that filing a case does not hold the day's case-number counter for the whole message:
    (1) in one transaction the message is recorded and the dialogue moves on; a draft to file is kept on the
    message row (``filing``); (2) the case is filed through ``case_report`` in its own transaction, idempotent by
    the message's key (a unique constraint on the report); (3) the reply and the case are recorded on the row.
    A retry finds the row: with its reply, it gets that reply; with a filing still pending (the first delivery is
    still at it, or died), it completes the same filing — which finds the case already filed, or files it once."""
    key = message.dedupe_key
    now = timezone.now()
    earlier = _expired_draft_file(message.openid, now)
    prefix = (_("Your unfinished report was filed as case %(number)s.") % {"number": earlier.number}
              if earlier is not None else "")
    try:
        with transaction.atomic():
            row = WeChatMessage.objects.create(dedupe_key=key, openid=message.openid,
                                               msg_type=message.msg_type[:20], payload=message.fields,
                                               received_at=now)
            try:
                with transaction.atomic():
                    reply, filings = _handle(message, now)
            except DomainError as exc:  # kept as received (WeChatMessage), with an apology
                log.warning("wechat message %s from %s not handled: %s", key, message.openid, exc.message)
                reply, filings = _("Sorry, this message could not be handled; please try again later."), []
            row.reply = "" if filings else "\n".join(part for part in (prefix, reply) if part)
            row.filing = ({"prefix": prefix, "reply": reply, "filings": [f.as_dict() for f in filings]}
                          if filings else {})
            row.case = earlier
            row.save(update_fields=["reply", "filing", "case"])
    except IntegrityError:  # a retry: the unique key names the first delivery's row
        row = WeChatMessage.objects.filter(dedupe_key=key).first()
        if row is None:
            raise
    if not row.filing:
        return row.reply  # done (this delivery, or the first one that a retry repeats)
    return filing_complete(row)


def filing_complete(row: WeChatMessage) -> str:
    """File the drafts the message left (idempotently) and record the reply; returns it."""
    pending = row.filing
    parts, main = [pending["prefix"]] if pending.get("prefix") else [], None
    try:
        for item in pending["filings"]:
            case = _report_file(item["openid"], item["draft"], trigger=item["trigger"])
            if item.get("expired"):
                parts.append(_("Your unfinished report was filed as case %(number)s.") % {"number": case.number})
            else:
                parts.append(filed_text(case))
                main = case
    except DomainError as exc:  # e.g. no intake center configured: the draft stays on the row for the sweep
        log.warning("wechat message %s: filing failed, kept for the sweep: %s", row.dedupe_key, exc.message)
        return _("Sorry, this message could not be handled; please try again later.")
    if pending.get("reply"):
        parts.append(pending["reply"])
    reply = "\n".join(parts)
    WeChatMessage.objects.filter(pk=row.pk).update(reply=reply, filing={}, case=main or case)
    return reply


def filings_complete(*, now: datetime | None = None, limit: int = 100) -> int:
    """Complete filings a message left pending for over a minute (its request died, or filing failed): the sweep."""
    now = now or timezone.now()
    rows = WeChatMessage.objects.filter(filing__has_key="filings", received_at__lte=now - timedelta(minutes=1))
    done = 0
    for row in rows.order_by("id")[:limit]:
        filing_complete(row)
        done += not WeChatMessage.objects.filter(pk=row.pk, filing__has_key="filings").exists()
    return done


def _handle(message, now: datetime) -> tuple[str, list[Filing]]:
    openid = message.openid
    conversation = WeChatConversation.objects.select_for_update().filter(openid=openid).first()
    filings = []
    if conversation is not None and conversation.expires_at <= now:
        if _has_content(conversation.draft):
            _intake_code()  # a configuration problem shows now, while the draft is still in the conversation
            filings.append(Filing(openid, conversation.draft, _expired_trigger(conversation), expired=True))
        conversation.delete()
        conversation = None
    reply, filing = _route(message, conversation, now)
    if filing is not None:
        filings.append(filing)
    return reply, filings


def _expired_draft_file(openid: str, now: datetime) -> Case | None:
    """A draft left unfinished past its expiry is filed (outside the message's transaction) before the new message is
    handled; None when there is none (or it cannot be filed now: then the dialogue step reports the problem)."""
    conversation = WeChatConversation.objects.filter(openid=openid, expires_at__lte=now).first()
    if conversation is None:
        return None
    case = None
    if _has_content(conversation.draft):
        try:
            case = _report_file(openid, conversation.draft, trigger=_expired_trigger(conversation))
        except DomainError:
            return None
    WeChatConversation.objects.filter(pk=conversation.pk, updated_at=conversation.updated_at).delete()
    return case


def _expired_trigger(conversation: WeChatConversation) -> str:
    return f"expired:{conversation.pk}:{conversation.started_at.timestamp()}"


def _route(message, conversation, now) -> tuple[str, Case | None]:
    kind = message.msg_type
    if kind == "event":
        return _event(message, conversation, now)
    if kind == "voice":
        text = message.get("Recognition")
        if text:
            return _text(message, text, conversation, now)
        return _unstructured(message, _("(voice message, no text recognised)"), conversation, now)
    if kind == "text":
        return _text(message, message.get("Content"), conversation, now)
    if kind == "image":
        return _image(message, conversation, now)
    if kind == "location":
        return _location(message, conversation, now)
    return _("Sorry, this kind of message cannot be handled here. Send text, a photo or a location."), None


def _event(message, conversation, now) -> tuple[str, Case | None]:
    event = message.event
    if event == "subscribe":
        return help_text(), None
    if event == "click":
        key = message.get("EventKey").strip().upper()
        if key == MENU_REPORT:
            return _start(message, conversation, now), None
        if key == MENU_QUERY:
            return _latest_status(message.openid), None
        if key == MENU_MINE:
            return _mine(message.openid), None
        return help_text(), None
    return "", None  # unsubscribe, LOCATION reports, VIEW … : acknowledged, kept in the message log


# --- Text commands ----------------------------------------------------------------------------------------------------
def _text(message, text: str, conversation, now) -> tuple[str, Case | None]:
    text = (text or "").strip()
    words = _words(text)
    key = citizen_key(openid=message.openid)
    if not text:
        return help_text(), None
    if words in CANCEL_WORDS:
        if conversation is None:
            return help_text(), None
        conversation.delete()
        return _("Your report was cancelled; nothing was filed."), None
    if words in START_WORDS:
        return _start(message, conversation, now), None
    if words in MINE_WORDS:
        return _mine(message.openid), None
    if words in HELP_WORDS:
        return help_text(), None
    query = QUERY_RE.match(text)
    if query:
        return _query(key, query.group(1)), None
    rating = RATING_RE.match(text)
    if rating and (rating.group("explicit") or selectors.citizen_cases_awaiting_rating(key=key)):
        return _rate(message, key, rating), None
    if conversation is not None:
        return _text_in_conversation(message, text, conversation, now)
    return _unstructured(message, text, None, now)


def help_text() -> str:
    return _("Welcome. Send “上报” to report a problem in the city (location, photos, description), "
             "“查询 case number” to follow a case, “我的” to see your reports.")


def _query(key: str, number: str | None) -> str:
    if not number:
        latest = selectors.citizen_cases(key=key, limit=1)
        example = latest[0].number if latest else timezone.localdate().strftime("%Y%m%d") + "00001"
        return _("Send “查询” followed by the case number, e.g. 查询 %(example)s.") % {"example": example}
    case = selectors.citizen_case(key=key, number=number)
    if case is None:
        return _("No case %(number)s among your reports.") % {"number": number}
    return _("Case %(number)s: %(status)s") % {"number": case.number, "status": status_words(case)}


def _latest_status(openid: str) -> str:
    cases = selectors.citizen_cases(key=citizen_key(openid=openid), limit=1)
    if not cases:
        return _("You have not reported anything yet. Send “上报” to report a problem.")
    case = cases[0]
    return (_("Case %(number)s: %(status)s") % {"number": case.number, "status": status_words(case)} + "\n"
            + _("Send “我的” to see all your reports."))


def _mine(openid: str) -> str:
    cases = selectors.citizen_cases(key=citizen_key(openid=openid), limit=10)
    if not cases:
        return _("You have not reported anything yet. Send “上报” to report a problem.")
    lines = [_("Your reports (latest first):")]
    for case in cases:
        lines.append(_("%(number)s (%(date)s): %(status)s") % {
            "number": case.number, "date": timezone.localtime(case.created_at).strftime("%m-%d"),
            "status": status_words(case)})
    return "\n".join(lines)


def status_words(case: Case) -> str:
    """The case's state in plain words for the citizen."""
    department = case.department.name if case.department_id else _("the responsible department")
    state = case.state
    if state == CaseState.REPORTED:
        return _("received, waiting to be accepted")
    if state == CaseState.ACCEPTED:
        return _("accepted, being assigned to the department that will handle it")
    if state == CaseState.DISPATCHED:
        return _("sent to %(department)s") % {"department": department}
    if state == CaseState.HANDLING:
        return _("being handled by %(department)s") % {"department": department}
    if state == CaseState.SUSPENDED:
        until = timezone.localtime(case.suspended_until).strftime("%Y-%m-%d") if case.suspended_until else "—"
        return _("handling paused until %(date)s") % {"date": until}
    if state == CaseState.HANDLED:
        return _("handled, waiting for an on-site check")
    if state == CaseState.VERIFIED:
        return _("checked on site; please rate the result: reply with a number from 1 to 5")
    if state == CaseState.CLOSED:
        words = _("closed (%(reason)s)") % {"reason": case.get_close_reason_display() or _("resolved")}
        if case.rating:
            words += _(", your rating: %(rating)s of 5") % {"rating": case.rating}
        return words
    if state == CaseState.REJECTED:
        reason = selectors.last_event_reason(case, "reject")
        return _("not accepted: %(reason)s") % {"reason": reason} if reason else _("not accepted")
    if state == CaseState.MERGED:
        target = case.merged_into
        if target is None:
            return _("merged with another case")
        return _("merged into case %(number)s, which is handled for both: %(status)s") % {
            "number": target.number, "status": status_words(target)}
    if state == CaseState.CANCELLED:
        return _("cancelled")
    return str(case.get_state_display())


# --- Rating -----------------------------------------------------------------------------------------------------------
def _rate(message, key: str, match) -> str:
    waiting = selectors.citizen_cases_awaiting_rating(key=key)
    number, score = match.group("number"), int(match.group("score"))
    if number:
        case = next((c for c in waiting if c.number == number), None)
        if case is None:
            return _("Case %(number)s is not waiting for your rating.") % {"number": number}
    elif len(waiting) == 1:
        case = waiting[0]
    elif not waiting:
        return _("None of your cases is waiting for a rating now.")
    else:
        numbers = "、".join(c.number for c in waiting[:5])
        return _("Several of your cases are waiting for a rating: %(numbers)s. Reply “评价 case number score”, "
                 "e.g. 评价 %(example)s 5.") % {"numbers": numbers, "example": waiting[0].number}
    comment = (match.group("comment") or "").strip()[:500]
    case = case_act(case=case.number, action="feedback", actor=Actor.citizen(key),
                    inputs={"rating": score, "comment": comment, "idempotency_key": message.dedupe_key})
    if case.reopen_review:
        return _("Thank you for rating case %(number)s: %(rating)s of 5. A supervisor will decide whether it must "
                 "be handled again.") % {"number": case.number, "rating": score}
    return _("Thank you for rating case %(number)s: %(rating)s of 5.") % {"number": case.number, "rating": score}


# --- The report dialogue ----------------------------------------------------------------------------------------------
def _expiry(now: datetime) -> datetime:
    return now + timedelta(minutes=settings.GRIDLOOP_WECHAT_CONVERSATION_MINUTES)


def _conversation(openid: str, conversation, now: datetime, step: str) -> WeChatConversation:
    if conversation is None:
        conversation = WeChatConversation(openid=openid, draft={"media": [], "messages": [], "notes": []},
                                          started_at=now)
    conversation.step, conversation.updated_at, conversation.expires_at = step, now, _expiry(now)
    return conversation


def _remember(conversation: WeChatConversation, message) -> None:
    conversation.draft.setdefault("messages", []).append(message.dedupe_key)


def ask_location() -> str:
    return _("Let's report a problem. Step 1 of 3: where is it? Send your location (tap “+”, then Location) or "
             "describe the place in words (street, building, landmark). Send “取消” to stop.")


def ask_photos() -> str:
    return _("Step 2 of 3: send one or more photos of the problem, then send “好了”. No photo? Send “无”.")


def ask_description() -> str:
    return _("Step 3 of 3: describe the problem in a few words (what is wrong, since when).")


def _start(message, conversation, now) -> str:
    if conversation is not None and _has_content(conversation.draft):
        return _("You are already reporting a problem.") + "\n" + _ask_for(conversation.step)
    conversation = _conversation(message.openid, conversation, now, WeChatStep.LOCATION)
    _remember(conversation, message)
    conversation.save()
    return ask_location()


def _ask_for(step: str) -> str:
    return {WeChatStep.LOCATION: ask_location, WeChatStep.PHOTOS: ask_photos,
            WeChatStep.DESCRIPTION: ask_description}[step]()


def _has_content(draft: dict) -> bool:
    return bool(draft.get("lat") is not None or draft.get("place_text") or draft.get("media")
                or draft.get("description") or draft.get("notes"))


def _location(message, conversation, now) -> tuple[str, Case | None]:
    point = message.coordinates()
    if point is None:
        return _("This location could not be read. Send it again, or describe the place in words."), None
    step = conversation.step if conversation is not None else WeChatStep.PHOTOS
    if step == WeChatStep.LOCATION:
        step = WeChatStep.PHOTOS
    if locate(*point) is None:
        if conversation is not None:
            _remember(conversation, message)
            conversation.updated_at, conversation.expires_at = now, _expiry(now)
            conversation.save()
        return _("This place is outside our service area. Send another location, or describe the place in words."), None
    conversation = _conversation(message.openid, conversation, now, step)
    label = message.get("Label")[:300]
    conversation.draft.update(lat=point[0], lng=point[1], label=label)
    _remember(conversation, message)
    conversation.save()
    place = label or f"{point[0]:.5f}, {point[1]:.5f}"
    return _("Location received: %(place)s.") % {"place": place} + "\n" + _ask_for(step), None


def _image(message, conversation, now) -> tuple[str, Case | None]:
    media_id = message.get("MediaId")[:128]
    if not media_id:
        return _("This photo could not be read. Please send it again."), None
    step = conversation.step if conversation is not None else WeChatStep.LOCATION
    conversation = _conversation(message.openid, conversation, now, step)
    media = conversation.draft.setdefault("media", [])
    _remember(conversation, message)
    if len(media) >= MAX_PHOTOS:
        conversation.draft.setdefault("extra_media", []).append(media_id)  # kept with the report, not attached
        conversation.save()
        return _("At most %(n)s photos can be attached to one report; this one is kept with your messages.") % {
            "n": MAX_PHOTOS}, None
    media.append({"media_id": media_id, "pic_url": message.get("PicUrl")[:500]})
    conversation.save()
    if step == WeChatStep.LOCATION:
        return _("Photo received.") + " " + _("Now, where is it? Send your location or describe the place in "
                                                   "words."), None
    if step == WeChatStep.DESCRIPTION:
        return _("Photo received.") + " " + ask_description(), None
    return _("Photo %(n)s received. Send more, or “好了” when done.") % {"n": len(media)}, None


def _text_in_conversation(message, text: str, conversation, now) -> tuple[str, Case | None]:
    _remember(conversation, message)
    words = _words(text)
    step = conversation.step
    if step == WeChatStep.LOCATION:
        region = selectors.region_named_in(text, within=_intake_prefix())
        conversation.draft.update(place_text=text[:300], region_code=region.code if region else "")
        _conversation(message.openid, conversation, now, WeChatStep.PHOTOS).save()
        return _("Place noted: %(place)s.") % {"place": text[:100]} + "\n" + ask_photos(), None
    if step == WeChatStep.PHOTOS and words in DONE_WORDS:
        _conversation(message.openid, conversation, now, WeChatStep.DESCRIPTION).save()
        return ask_description(), None
    if words in DONE_WORDS and not conversation.draft.get("description"):
        return ask_description(), None
    # The description (or, at the photo step, text instead of "好了"): the report is complete.
    conversation.draft["description"] = text
    if conversation.draft.get("lat") is None and not conversation.draft.get("region_code"):
        _intake_code()  # it will be unstructured: a configuration problem shows now, the draft kept
    filing = Filing(message.openid, conversation.draft, message.dedupe_key)
    conversation.delete()
    return "", filing


def filed_text(case: Case) -> str:
    if case.unstructured:
        return _("Thank you. Your message is filed as case %(number)s; staff will confirm the place and the kind "
                 "of problem. Next time send “上报” to report step by step with location and photos.") % {
            "number": case.number}
    return _("Thank you. Your report is filed as case %(number)s. Send “查询 %(number)s” to follow it, or “我的” "
             "to see all your reports.") % {"number": case.number}


def _unstructured(message, text: str, conversation, now) -> tuple[str, Case | None]:
    """Free text (or an unreadable voice message) outside a dialogue: filed at once, for a dispatcher to complete."""
    draft = {"description": text, "messages": [message.dedupe_key], "media": [], "notes": []}
    if message.msg_type == "voice":
        draft["voice_media_id"] = message.get("MediaId")[:128]
    _intake_code()
    return "", Filing(message.openid, draft, message.dedupe_key)


# --- Filing -----------------------------------------------------------------------------------------------------------
def _intake_code() -> str:
    """The command center that takes reports without a location (setting, else the only city)."""
    code = (getattr(settings, "GRIDLOOP_WECHAT_INTAKE_REGION", "") or "").strip()
    if code:
        return code
    cities = list(Region.objects.filter(level=Level.CITY).values_list("code", flat=True)[:2])
    if len(cities) != 1:
        raise InvalidInput(_("set GRIDLOOP_WECHAT_INTAKE_REGION: the command center for WeChat reports without a "
                             "location"), field="region_code")
    return cities[0]


def _intake_prefix() -> str:
    try:
        code = _intake_code()
    except InvalidInput:
        return ""
    return code[:4] if len(code) == 6 and code[4:6] == "00" else code


def _description(draft: dict) -> str:
    parts = [str(draft.get("description") or "").strip()]
    if draft.get("place_text"):
        parts.append(_("Place: %(place)s") % {"place": draft["place_text"]})
    if not parts[0]:
        parts[0] = _("(no description given)")
    return "\n".join(part for part in parts if part)[:4000]


def _report_file(openid: str, draft: dict, *, trigger: str) -> Case:
    """File the draft through case_report: located (lat/lng, or a street/community named in the text) when possible,
    else unstructured at the intake center. Photos are queued for fetching."""
    actor = Actor.citizen(citizen_key(openid=openid))
    lat, lng = draft.get("lat"), draft.get("lng")
    region_code = draft.get("region_code") or ""
    raw = {"wechat": {key: draft[key] for key in ("messages", "media", "extra_media", "label", "place_text",
                                                   "voice_media_id", "lat", "lng") if draft.get(key) is not None}}
    data = ReportInput(channel=Channel.WECHAT, description=_description(draft), lat=lat, lng=lng,
                       address=(draft.get("label") or draft.get("place_text") or "")[:300],
                       region_code=region_code, citizen_openid=openid, raw_payload=raw,
                       idempotency_key=f"wechat:{trigger}"[:100])
    if lat is None and not region_code:
        data.unstructured, data.region_code = True, _intake_code()
    try:
        case = _case_report_once(actor, data)
    except (InvalidInput, Unprocessable):
        if data.unstructured:
            raise
        # The place could not be used after all (e.g. boundaries changed since): a dispatcher places it.
        data.lat = data.lng = None
        data.unstructured, data.region_code = True, _intake_code()
        case = _case_report_once(actor, data)
    photo_ids, media = [], (draft.get("media") or [])[:MAX_PHOTOS]
    if not media:
        return case
    with transaction.atomic():
        for item in media:
            photo, created = WeChatPhoto.objects.get_or_create(
                case=case, media_id=item["media_id"],
                defaults={"pic_url": item.get("pic_url", ""), "next_attempt_at": timezone.now()})
            if created:
                photo_ids.append(photo.pk)
        if photo_ids:
            transaction.on_commit(lambda: photos_enqueue(photo_ids))
    return case


def _case_report_once(actor: Actor, data: ReportInput) -> Case:
    """case_report, idempotent by ``data.idempotency_key`` (a concurrent twin that lost the race on the report's
    unique key gets the winner's case from case_report)."""
    case, _created = case_report(actor=actor, data=data)
    return case


def photos_enqueue(photo_ids: list[int]) -> None:
    """Queue the media downloads (after commit). A broker that is down loses nothing: the sweep retries pending rows."""
    from .tasks import wechat_fetch_photo

    for photo_id in photo_ids:
        try:
            wechat_fetch_photo.delay(photo_id)
        except Exception:  # noqa: BLE001 - the reply must not fail; the row stays pending for the sweep
            log.warning("wechat photo %s: could not queue the download; the sweep will retry", photo_id,
                        exc_info=True)
            return


def conversations_expire(*, now: datetime | None = None, limit: int = 100) -> int:
    """File the drafts left unfinished past their expiry (the sweep). Returns how many were filed."""
    now = now or timezone.now()
    filed = 0
    for conversation_id in list(WeChatConversation.objects.filter(expires_at__lte=now)
                                .order_by("expires_at").values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            conversation = WeChatConversation.objects.select_for_update().filter(
                pk=conversation_id, expires_at__lte=now).first()
            if conversation is None:
                continue  # the citizen wrote again meanwhile
            if _has_content(conversation.draft):
                _report_file(conversation.openid, conversation.draft, trigger=_expired_trigger(conversation))
                filed += 1
            conversation.delete()
    return filed

