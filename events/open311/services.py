"""Writes for Open311: API keys (made once and shown once, stored as a SHA-256) and POST requests, which become
cases through ``events.services.case_report`` — channel ``open311``, a citizen actor known by the hash of their phone
or email, the spec's parameters checked first so every bad one is a 400 naming it in the spec's own words."""

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import InvalidInput, NotFound, PermissionDenied, Unprocessable
from grids.models import Level, Region
from grids.selectors import locate

from ..actors import Actor, citizen_key
from ..models import Case, Category, Channel, Open311ApiKey
from ..services import ReportInput, case_report
from . import selectors, tokens
from .params import degrees

MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_LENGTH = 1000
MAX_IDEMPOTENCY_KEY = 100
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,100})\](\[\])?$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{2,19}$")
_CJK = re.compile(r"[\u3400-\u9fff]")


# --- API keys -------------------------------------------------------------------------------------------------------------
def open311_key_secret() -> tuple[str, str, str]:
    """A new key: (the key itself, its first 8 characters for recognising it, its SHA-256 to store)."""
    raw = secrets.token_urlsafe(32)
    return raw, raw[:8], selectors.key_hash(raw)


def open311_key_create(*, name: str, created_by=None, services: list[Category] | None = None, active: bool = True,
                       now: datetime | None = None) -> tuple[Open311ApiKey, str]:
    """Make an API key. Returns (the stored key, the key itself): show the key to the admin now — only its hash is
    kept, so it can never be shown again."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput(_("give the key a name of 1–100 characters (e.g. the app that will use it)"), field="name")
    raw, prefix, digest = open311_key_secret()
    with transaction.atomic():
        key = Open311ApiKey.objects.create(name=name, key_prefix=prefix, key_hash=digest, active=active,
                                           created_by=created_by, created_at=now or timezone.now())
        if services:
            key.services.set(services)
    return key, raw


@transaction.atomic
def open311_key_set_active(*, key: Open311ApiKey, active: bool) -> Open311ApiKey:
    """Deactivate (or reactivate) a key: a deactivated key is refused with 403 from the next request on."""
    key.active = active
    key.save(update_fields=["active"])
    return key


def _api_key(raw: str) -> Open311ApiKey:
    if not raw:
        raise PermissionDenied(_("api_key is missing: send the key an administrator gave you as api_key"))
    key = selectors.api_key_get(raw)
    if key is None:
        raise PermissionDenied(_("invalid api_key received: this key is not known here"))
    if not key.active:
        raise PermissionDenied(_("this api_key has been deactivated: ask the administrator for a new one"))
    return key


# --- POST requests ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Submitted:
    case: Case
    created: bool
    token: str
    account_id: str | None


def _text(form, name: str, limit: int) -> str:
    text = (form.get(name) or "").strip()
    if len(text) > limit:
        raise InvalidInput(_("%(name)s may be at most %(limit)s characters") % {"name": name, "limit": f"{limit:,}"},
                           field=name)
    return text


def _service(form, key: Open311ApiKey) -> Category:
    code = _text(form, "service_code", 20)
    if not code:
        raise InvalidInput(_("service_code is required: one of the codes listed by services.xml"),
                           field="service_code")
    category = selectors.service_get(code)
    if category is None:  # GeoReport v2, POST Service Request: 404 "service_code or jurisdiction_id was not found"
        raise NotFound(_("service_code %(code)r was not found; see services.xml") % {"code": code},
                       field="service_code")
    allowed = list(key.services.all())
    if allowed and category not in allowed:
        raise PermissionDenied(_("this api_key may not file requests for service_code %(code)s") % {"code": code})
    return category


def _location(form, jurisdiction: Region | None) -> tuple[float | None, float | None, str]:
    """(lat, lng, region_code) of the request, checked against the service area and the jurisdiction. The spec asks
    for "lat & long or address_string or address_id": an address_string alone is filed unstructured (region_code
    of the jurisdiction, else of the only city) for the intake command center to place, as WeChat free text is."""
    lat_raw, lng_raw = _text(form, "lat", 40), _text(form, "long", 40)
    address_id = _text(form, "address_id", 20)
    if lat_raw or lng_raw:
        if not (lat_raw and lng_raw):
            raise InvalidInput(_("send both lat and long (WGS84 decimal degrees), or neither"),
                               field="long" if lat_raw else "lat")
        lat, lng = degrees(lat_raw, "lat", 90), degrees(lng_raw, "long", 180)
        entry = locate(lat, lng)
        if entry is None:
            raise InvalidInput(_("lat %(lat)s, long %(long)s is outside the service area: no unit grid of this city "
                                 "contains the point") % {"lat": lat_raw, "long": lng_raw}, field="lat")
        code = entry.code
    elif address_id:
        region = Region.objects.defer("boundary").filter(code=address_id).first()
        if region is None or region.level not in (Level.STREET, Level.COMMUNITY, Level.GRID):
            raise InvalidInput(_("address_id must be the code of a unit grid, community or street of this city, "
                                 "got %(value)r") % {"value": address_id}, field="address_id")
        lat = lng = None
        code = region.code
    elif _text(form, "address_string", 1000):
        lat = lng = None
        code = jurisdiction.code if jurisdiction is not None else _only_city_code()
    else:
        raise InvalidInput(_("a location is required: lat and long, address_id or address_string"), field="lat")
    if jurisdiction is not None and not code.startswith(jurisdiction.subtree_prefix):
        raise InvalidInput(_("this place is outside jurisdiction_id %(code)s") % {"code": jurisdiction.code},
                           field="jurisdiction_id")
    return lat, lng, ("" if lat is not None else code)


def _only_city_code() -> str:
    cities = list(Region.objects.filter(level=Level.CITY).values_list("code", flat=True)[:2])
    if len(cities) != 1:
        raise InvalidInput(_("with only an address_string, send jurisdiction_id: the city the request is for"),
                           field="jurisdiction_id")
    return cities[0]


def _name(first: str, last: str) -> str:
    """"张" + "三" → "张三" (Chinese: family name first, no space); "John" + "Smith" → "John Smith"."""
    if _CJK.search(first + last):
        return last + first
    return " ".join(part for part in (first, last) if part)


def _contact(form) -> dict:
    email, phone = _text(form, "email", 254), _text(form, "phone", 20)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInput(_("email is not a valid email address"), field="email") from None
    if phone and not _PHONE.match(phone):
        raise InvalidInput(_("phone must be a phone number: digits, optionally with +, spaces, dashes or brackets"),
                           field="phone")
    name = _name(_text(form, "first_name", 50), _text(form, "last_name", 50))
    if len(name) > 50:
        raise InvalidInput(_("first_name and last_name together may be at most 50 characters"), field="last_name")
    return {"citizen_email": email, "citizen_phone": phone, "citizen_name": name}


def _attributes(form) -> dict:
    """attribute[code]=value and, for lists, attribute[code][]=value repeated."""
    found = {}
    for name in form:
        match = _ATTRIBUTE.match(name)
        if match is None:
            if name.startswith("attribute"):
                raise InvalidInput(_("attributes are sent as attribute[code]=value (code: 1–100 characters), got "
                                     "%(name)r") % {"name": name[:120]}, field="attribute")
            continue
        values = [value.strip() for value in form.getlist(name)]
        if any(len(value) > MAX_ATTRIBUTE_LENGTH for value in values):
            raise InvalidInput(_("attribute[%(code)s] may be at most %(limit)s characters")
                               % {"code": match[1], "limit": f"{MAX_ATTRIBUTE_LENGTH:,}"}, field="attribute")
        found[match[1]] = values if match[2] or len(values) > 1 else values[0]
    if len(found) > MAX_ATTRIBUTES:
        raise InvalidInput(_("at most %(n)s attributes per request") % {"n": MAX_ATTRIBUTES}, field="attribute")
    return found


def _media_url(form) -> str:
    url = _text(form, "media_url", 1000)
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise InvalidInput(_("media_url must be an http or https URL"), field="media_url") from None
    return url


def open311_request_submit(*, api_key: str, form, files=None, idempotency_key: str = "",
                           jurisdiction: Region | None = None) -> Submitted:
    """File a GeoReport v2 service request (``form``: the POSTed parameters) and open a case for it.

    The key is checked first (403); then every parameter (400 naming it): service_code (an active category the key
    may file), the location (lat/long inside the service area, or address_id = a grid, community or street code;
    inside ``jurisdiction``), the citizen's contact (stored on the report, never published), description (≤ 4,000;
    empty: the service's name), media_url, attribute[…]. The attributes, media_url, address_string, device_id and
    account_id are kept in the report's raw payload. A repeat of an ``Idempotency-Key`` by the same key and citizen
    returns the first case (``created`` false) without filing again.
    """
    key = _api_key(api_key)
    category = _service(form, key)
    lat, lng, region_code = _location(form, jurisdiction)
    contact = _contact(form)
    description = _text(form, "description", 4000) or category.minor_name
    address = _text(form, "address_string", 1000)
    raw_payload = {
        "api_key_id": key.pk,
        "service_code": category.code,
        "lat": _text(form, "lat", 40), "long": _text(form, "long", 40),
        "address_string": address,
        "address_id": _text(form, "address_id", 20),
        "media_url": _media_url(form),
        "attributes": _attributes(form),
        "device_id": _text(form, "device_id", 100),
        "account_id": _text(form, "account_id", 100),
        "jurisdiction_id": jurisdiction.code if jurisdiction is not None else "",
    }
    raw_payload = {name: value for name, value in raw_payload.items() if value not in ("", {}, None)}
    idempotency_key = (idempotency_key or "").strip()
    if len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(_("Idempotency-Key may be at most %(n)s characters") % {"n": MAX_IDEMPOTENCY_KEY},
                           field="idempotency_key")
    data = ReportInput(
        channel=Channel.OPEN311, description=description, lat=lat, lng=lng, address=address[:300],
        region_code=region_code, unstructured=lat is None and not raw_payload.get("address_id"), category=category,
        photos=files.getlist("media") if files is not None else [],
        raw_payload=raw_payload,
        # Scoped to the API key: two apps may well use the same Idempotency-Key for different requests.
        idempotency_key=f"open311:{key.pk}:{selectors.key_hash(idempotency_key)[:40]}" if idempotency_key else "",
        **contact,
    )
    actor = Actor.citizen(citizen_key(phone=contact["citizen_phone"], email=contact["citizen_email"]))
    try:
        try:
            case, created = case_report(actor=actor, data=data)
        except IntegrityError:
            if not data.idempotency_key:
                raise
            # A retry raced the first attempt and lost on the idempotency key's unique index (the first one
            # committed in between): asking again answers the first attempt's case.
            case, created = case_report(actor=actor, data=data)
    except Unprocessable as exc:  # the spec knows only 400 for a request it cannot fulfil
        raise InvalidInput(exc.message, field=exc.field) from exc
    report = case.reports.filter(channel=Channel.OPEN311).order_by("id").only("id", "raw_payload").first()
    return Submitted(case=case, created=created, token=tokens.token_for(report.pk),
                     account_id=report.raw_payload.get("account_id") or None)
