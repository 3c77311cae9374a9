"""The citizen page's helpers (/c/): rate limits, the SMS code that confirms a phone, which cases this browser may
see, and the plain words for states and timeline events. Writes go through events.citizen.services.

Rate limits and codes live in Django's cache. The default cache (LocMem) is per process: right for one web process;
with several, configure a shared cache (Redis) so that the limits hold across them."""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from events.models import CaseState

SESSION_CASES = "citizen_cases"  # case numbers this browser opened with a private link or number + phone
SESSION_PHONE = "citizen_phone"  # a phone confirmed by SMS code in this browser
MAX_SESSION_CASES = 50
CODE_TTL_SECONDS = 600
CODE_TRIES = 5
ELDER_COOKIE = "gridloop_elder"

# (bucket, per) → (how many, in seconds)
LIMITS = {
    ("code", "phone"): [(1, 60), (5, 3600)],
    ("code", "ip"): [(10, 3600)],
    ("report", "phone"): [(5, 3600)],
    ("report", "ip"): [(20, 3600)],
    ("lookup", "ip"): [(20, 600)],
}


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def rate_limited(bucket: str, **who: str) -> bool:
    """Count one more ``bucket`` action for each of ``who`` (phone=…, ip=…); True when any limit is exceeded."""
    over = False
    for per, value in who.items():
        if not value:
            continue
        for count, seconds in LIMITS.get((bucket, per), []):
            key = f"citizen:rl:{bucket}:{per}:{seconds}:{_digest(value)}"
            if cache.add(key, 1, seconds):
                used = 1
            else:
                try:
                    used = cache.incr(key)
                except ValueError:  # expired between add and incr
                    cache.add(key, 1, seconds)
                    used = 1
            over = over or used > count
    return over


def sms_configured() -> bool:
    return bool((getattr(settings, "GRIDLOOP_SMS_API_BASE", "") or "").strip())


def _code_key(phone: str) -> str:
    return f"citizen:code:{_digest(phone)}"


def phone_code_send(phone: str) -> None:
    """Make a 6-digit code for the phone and send it by SMS (through the outbox and the SMS adapter)."""
    from dispatch.models import OutboxChannel
    from dispatch.outbox import Recipient, outbox_enqueue

    code = f"{secrets.randbelow(10**6):06d}"
    cache.set(_code_key(phone), {"hash": _digest(f"{phone}:{code}"), "tries": 0}, CODE_TTL_SECONDS)
    with transaction.atomic():
        outbox_enqueue(kind="citizen_code", case=None, event_seq=None,
                       recipients=[Recipient(OutboxChannel.SMS, address=phone)],
                       title=_("Gridloop verification code"),
                       body=_("Your code is %(code)s. It is valid for 10 minutes.") % {"code": code})


def phone_code_check(phone: str, code: str) -> bool:
    """True (once) when ``code`` is the code last sent to ``phone``; a code allows five tries and ten minutes."""
    entry = cache.get(_code_key(phone))
    if not entry or entry["tries"] >= CODE_TRIES:
        return False
    if hmac.compare_digest(entry["hash"], _digest(f"{phone}:{(code or '').strip()}")):
        cache.delete(_code_key(phone))
        return True
    entry["tries"] += 1
    cache.set(_code_key(phone), entry, CODE_TTL_SECONDS)
    return False


def link_send(phone: str, case, url: str) -> None:
    """The private link by SMS too (only to a confirmed phone, when the SMS channel is configured)."""
    from dispatch.models import OutboxChannel
    from dispatch.outbox import Recipient, outbox_enqueue

    with transaction.atomic():
        outbox_enqueue(kind="citizen_link", case=case, event_seq=None,
                       recipients=[Recipient(OutboxChannel.SMS, address=phone)],
                       title=_("Your report %(number)s") % {"number": case.number},
                       body=_("Follow it here: %(url)s") % {"url": url})


def allow_case(request, number: str) -> None:
    numbers = [n for n in request.session.get(SESSION_CASES, []) if n != number]
    request.session[SESSION_CASES] = [number, *numbers][:MAX_SESSION_CASES]


def allowed_numbers(request) -> list[str]:
    return list(request.session.get(SESSION_CASES, []))


def state_words(case) -> str:
    """The case's state in plain words (the WeChat channel's, except for the request to rate, which is a form here)."""
    from events.wechat.conversation import status_words

    if case.state == CaseState.VERIFIED:
        return _("checked on site: please rate the result below")
    return status_words(case)


def event_words(event) -> str:
    kind, payload = event.kind, event.payload or {}
    words = {
        "reported": _("We received your report"),
        "accept": _("Accepted and registered (立案)"),
        "reject": _("Not accepted"),
        "merge": _("Joined with another report of the same problem"),
        "dispatch": _("Sent to the department that handles it"),
        "sign": _("The department started work on it"),
        "suspend": _("Work paused"),
        "resume": _("Work resumed"),
        "complete": _("The department reports it handled"),
        "verify": _("Checked on site: handled"),
        "rework": _("Checked on site: not yet right, sent back to be done again"),
        "feedback": _("You rated the result"),
        "close": _("Closed"),
        "reopen": _("Reopened to be handled again"),
        "cancel": _("Cancelled"),
        "field_check": _("A grid worker checked the place"),
        "escalate": _("Passed up to a higher command center"),
    }.get(kind, kind)
    if kind == "reject" and payload.get("reason"):
        words += _(": %(reason)s") % {"reason": payload["reason"]}
    if kind == "suspend" and payload.get("until"):
        words += _(" until %(date)s") % {"date": payload["until"][:10]}
    if kind == "feedback" and payload.get("rating"):
        words += _(": %(rating)s of 5") % {"rating": payload["rating"]}
    return words
