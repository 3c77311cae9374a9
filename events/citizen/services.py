"""Writes of the citizen page (/c/): a citizen's report (through ``case_report``), its private follow link, and the
citizen's rating (through ``case_act`` feedback, as on WeChat: a 1–2 rating sets the case for a supervisor's review)."""

import hashlib
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import InvalidInput

from ..actors import Actor, citizen_key
from ..models import Case, Category, Channel, CitizenLink
from ..services import ReportInput, case_act, case_report

TOKEN_BYTES = 24  # 192 bits: not guessable, 32 characters in the link


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class CitizenReport:
    description: str
    phone: str
    phone_confirmed: bool
    lat: float | None = None
    lng: float | None = None
    address: str = ""
    category: Category | None = None
    photos: list = None
    intake_region: str = ""  # the command center that places a report sent without a point
    idempotency_key: str = ""


def normalised_phone(phone: str) -> str:
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) != 11 or not digits.startswith("1"):
        raise InvalidInput(_("give a mobile number of 11 digits, e.g. 13812345678"), field="phone")
    return digits


def citizen_report_file(*, report: CitizenReport) -> tuple[Case, str]:
    """File the citizen's report as a case (channel web, the citizen known by the hash of their phone) and make its
    private follow link. Returns (case, token); a repeat of the same form (idempotency key) returns the same case
    with a new link. An unconfirmed phone is kept, and the report says so (raw payload and the link row)."""
    phone = normalised_phone(report.phone)
    actor = Actor.citizen(citizen_key(phone=phone))
    unstructured = report.lat is None and report.lng is None
    data = ReportInput(
        channel=Channel.WEB, description=report.description, lat=report.lat, lng=report.lng,
        address=report.address, category=report.category, citizen_phone=phone, photos=list(report.photos or []),
        raw_payload={"citizen_page": {"phone_confirmed": report.phone_confirmed}},
        idempotency_key=report.idempotency_key[:100], unstructured=unstructured,
        region_code=report.intake_region if unstructured else "",
    )
    try:
        case, _created = case_report(actor=actor, data=data)
    except IntegrityError:  # a concurrent twin of the same form won the race on the report's key
        if transaction.get_connection().in_atomic_block:
            raise
        case, _created = case_report(actor=actor, data=data)
    return case, citizen_link_create(case=case, phone=phone, phone_confirmed=report.phone_confirmed)


def citizen_link_create(*, case: Case, phone: str = "", phone_confirmed: bool = False) -> str:
    """A new private link to the case; only its token's hash is stored. Returns the token."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    CitizenLink.objects.create(case=case, token_hash=token_hash(token), phone=phone[:20],
                               phone_confirmed=phone_confirmed, created_at=timezone.now())
    return token


def citizen_rate(*, case: Case, rating, comment: str = "", idempotency_key: str = "") -> Case:
    """The reporter's rating of the result (回访评价) through ``case_act`` feedback, acting as the citizen who
    reported the case. 1–2 leaves the case for a supervisor to decide on reopening (``reopen_review``)."""
    inputs = {"rating": rating, "comment": (comment or "").strip()[:500]}
    if idempotency_key:
        inputs["idempotency_key"] = idempotency_key[:100]
    return case_act(case=case.number, action="feedback", actor=Actor.citizen(case.citizen_key), inputs=inputs)
