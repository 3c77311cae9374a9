"""Reads of the citizen page (/c/): a case by its private link or by number + phone, and what a citizen may see of it
— the state in plain words, the timeline without staff names or internal notes, the result photos."""

from ..actors import citizen_key
from ..models import Attachment, AttachmentKind, Case, CaseEvent, CitizenLink
from ..wechat import selectors as wechat_selectors
from .services import normalised_phone, token_hash

# The events a citizen sees, and nothing of their payloads but a rejection's reason and a suspension's date.
CITIZEN_EVENT_KINDS = ("reported", "accept", "reject", "merge", "dispatch", "sign", "suspend", "resume", "complete",
                       "verify", "rework", "feedback", "close", "reopen", "cancel", "field_check", "escalate")
RESULT_PHOTO_KINDS = (AttachmentKind.AFTER, AttachmentKind.CHECK)


def case_by_token(token: str) -> Case | None:
    if not token or len(token) > 100:
        return None
    link = (CitizenLink.objects.filter(token_hash=token_hash(token))
            .select_related("case", "case__department", "case__category", "case__merged_into").first())
    return link.case if link is not None else None


def case_by_number_and_phone(*, number: str, phone: str) -> Case | None:
    """The case with this number if it was reported with this phone, else None (the same answer for a wrong number
    and a wrong phone)."""
    try:
        phone = normalised_phone(phone)
    except Exception:  # noqa: BLE001 - a malformed phone finds nothing, like a wrong one
        return None
    return wechat_selectors.citizen_case(key=citizen_key(phone=phone), number=(number or "").strip()[:20])


def cases_of_phone(phone: str, *, limit: int = 20) -> list[Case]:
    return wechat_selectors.citizen_cases(key=citizen_key(phone=phone), limit=limit)


def case_citizen_get(number: str) -> Case | None:
    return (Case.objects.filter(number=number).select_related("department", "category", "merged_into").first())


def citizen_timeline(case: Case) -> list[CaseEvent]:
    return list(CaseEvent.objects.filter(case=case, kind__in=CITIZEN_EVENT_KINDS).order_by("seq")
                .only("seq", "kind", "to_state", "payload", "occurred_at"))


def result_photos(case: Case) -> list[Attachment]:
    return list(Attachment.objects.filter(case=case, kind__in=RESULT_PHOTO_KINDS).order_by("id"))


def citizen_photo(*, pk: int, case_numbers: list[str]) -> Attachment | None:
    """A result photo of one of the cases the citizen may see now."""
    return (Attachment.objects.filter(pk=pk, kind__in=RESULT_PHOTO_KINDS, case__number__in=case_numbers)
            .first()) if case_numbers else None
