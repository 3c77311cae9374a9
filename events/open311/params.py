"""Query parameters of the GeoReport v2 reads, checked into plain values (InvalidInput → 400 naming the parameter).

Per the spec an empty parameter is the same as a missing one. Date-times are W3C (ISO 8601) with a zone, e.g.
``2026-01-01T00:00:00Z`` or ``2026-01-01T08:00:00+08:00``; a date alone or a time without a zone is read in the
local time zone (TIME_ZONE).
"""

import math
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from config.errors import InvalidInput

MAX_SPAN = timedelta(days=90)  # the spec's limit for start_date … end_date, and its default window
DEFAULT_PAGE_SIZE = 1000  # the spec's default volume: "first 1000 requests"
MAX_PAGE_SIZE = 1000
MAX_IDS = 1000
STATUSES = ("open", "closed")


def value(query, name: str) -> str:
    return (query.get(name) or "").strip()


def w3_datetime(query, name: str) -> datetime | None:
    raw = value(query, name)
    if not raw:
        return None
    # An unencoded "+08:00" in a query string arrives as " 08:00".
    text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", raw)
    try:
        moment = parse_datetime(text)
        day = parse_date(text) if moment is None else None
    except ValueError:  # well-formed but impossible, e.g. 2026-02-30
        moment = day = None
    if moment is None and day is not None:
        moment = datetime.combine(day, time.min)
    if moment is None:
        raise InvalidInput(_("%(name)s must be a W3C date-time such as 2026-01-01T00:00:00Z, got %(value)r")
                           % {"name": name, "value": raw[:40]}, field=name)
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def comma_list(query, name: str) -> list[str]:
    """A parameter that may be declared several times, each comma delimited."""
    items = []
    for raw in query.getlist(name) if hasattr(query, "getlist") else [query.get(name) or ""]:
        items += [item.strip() for item in str(raw).split(",") if item.strip()]
    return list(dict.fromkeys(items))


def flag(query, name: str) -> bool:
    raw = value(query, name).lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise InvalidInput(_("%(name)s must be true or false") % {"name": name}, field=name)


def _whole(query, name: str, default: int, low: int, high: int) -> int:
    raw = value(query, name)
    if not raw:
        return default
    number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else None
    if number is None or not low <= number <= high:
        raise InvalidInput(_("%(name)s must be a whole number from %(low)s to %(high)s")
                           % {"name": name, "low": low, "high": f"{high:,}"}, field=name)
    return number


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def page(query) -> Page:
    """``page`` (from 1) and ``page_size`` (1–1,000; default 1,000, the spec's default volume)."""
    return Page(number=_whole(query, "page", 1, 1, 1_000_000),
                size=_whole(query, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE))


def window(query, *, default: bool, now: datetime) -> tuple[datetime | None, datetime | None]:
    """(start, end) from start_date and end_date, at most 90 days apart. One alone spans 90 days from it; neither:
    the last 90 days when ``default``, else no bounds."""
    start, end = w3_datetime(query, "start_date"), w3_datetime(query, "end_date")
    if start is not None and end is not None:
        if end < start:
            raise InvalidInput(_("end_date is before start_date"), field="end_date")
        if end - start > MAX_SPAN:
            raise InvalidInput(_("start_date and end_date may be at most 90 days apart"), field="end_date")
    elif start is not None:
        end = start + MAX_SPAN
    elif end is not None:
        start = end - MAX_SPAN
    elif default:
        start = now - MAX_SPAN
    return start, end


@dataclass(frozen=True)
class RequestsQuery:
    """GET requests: ``ids`` (service_request_id) overrides every other filter."""

    ids: list[str]
    service_codes: list[str]
    statuses: list[str]
    start: datetime | None
    end: datetime | None
    updated_after: datetime | None
    page: Page
    extensions: bool


def requests_query(query, *, now: datetime) -> RequestsQuery:
    ids = comma_list(query, "service_request_id")
    if len(ids) > MAX_IDS:
        raise InvalidInput(_("ask for at most %(n)s service_request_id values at once") % {"n": f"{MAX_IDS:,}"},
                           field="service_request_id")
    statuses = [status.lower() for status in comma_list(query, "status")]
    bad = [status for status in statuses if status not in STATUSES]
    if bad:
        raise InvalidInput(_("status must be open or closed (comma separated), got %(value)r") % {"value": bad[0]},
                           field="status")
    updated_after = w3_datetime(query, "updated_after")
    start, end = window(query, default=updated_after is None, now=now)
    return RequestsQuery(ids=ids, service_codes=comma_list(query, "service_code"), statuses=statuses, start=start,
                         end=end, updated_after=updated_after, page=page(query),
                         extensions=flag(query, "extensions"))


@dataclass(frozen=True)
class UpdatesQuery:
    updated_after: datetime | None
    start: datetime | None
    end: datetime | None
    page: Page


def updates_query(query, *, now: datetime) -> UpdatesQuery:
    """servicerequestupdates: ``updated_after`` (exclusive) and/or start_date/end_date on the update's time;
    with none of them, the last 90 days."""
    updated_after = w3_datetime(query, "updated_after")
    start, end = window(query, default=updated_after is None, now=now)
    return UpdatesQuery(updated_after=updated_after, start=start, end=end, page=page(query))


def degrees(raw: str, name: str, limit: int) -> float:
    """A WGS84 latitude (limit 90) or longitude (limit 180) in decimal degrees."""
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise InvalidInput(_("%(name)s must be a number of degrees from -%(limit)s to %(limit)s (WGS84), got %(value)r")
                           % {"name": name, "limit": limit, "value": raw[:40]}, field=name)
    return number
