"""Our objects in GeoReport v2 shapes: a category as a service, a case as a service request, a case event as one of
mySociety's request updates. No shape carries a citizen's name, phone, email, device or account.

Texts are in the active language (Chinese by default, English on request via Accept-Language); date-times are W3C
in the local time zone, to the second.
"""

from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from events.models import KIND_LETTER, Case, CaseEvent, CaseState, Category

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"

# mySociety's detailed statuses for the update feed (the case state after the update; some actions say more).
FEED_STATUS = {
    CaseState.REPORTED: "OPEN",
    CaseState.ACCEPTED: "INVESTIGATING",
    CaseState.DISPATCHED: "ACTION_SCHEDULED",
    CaseState.HANDLING: "IN_PROGRESS",
    CaseState.SUSPENDED: "ACTION_SCHEDULED",
    CaseState.HANDLED: "IN_PROGRESS",
    CaseState.VERIFIED: "FIXED",
    CaseState.CLOSED: "FIXED",
    CaseState.REJECTED: "NO_FURTHER_ACTION",
    CaseState.MERGED: "DUPLICATE",
    CaseState.CANCELLED: "CANCELLED",
}
FEED_STATUS_OF_ACTION = {"return": "INTERNAL_REFERRAL", "reopen": "REOPEN"}


def w3(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return timezone.localtime(moment).isoformat(timespec="seconds")


def service_type() -> str:
    return "batch" if settings.GRIDLOOP_OPEN311_SERVICE_TYPE == "batch" else "realtime"


# --- Services -------------------------------------------------------------------------------------------------------------
def service_notice(category: Category | None) -> str | None:
    if category is None:
        return None
    return _("Usually handled within %(limit)s %(unit)s after dispatch.") % {
        "limit": category.handling_limit, "unit": category.get_limit_unit_display()}


def service_repr(category: Category) -> dict:
    kind = category.get_kind_display()
    return {
        "service_code": category.code,
        "service_name": category.minor_name,
        "description": _("%(kind)s · %(group)s · %(name)s. %(notice)s") % {
            "kind": kind, "group": category.major_name, "name": category.minor_name,
            "notice": service_notice(category)},
        "metadata": False,
        "type": service_type(),
        "keywords": ", ".join([category.minor_name, category.major_name, kind]),
        "group": category.major_name,
    }


def service_definition_repr(category: Category) -> dict:
    """No service needs extra fields (``metadata`` is false): attribute[code]=value pairs sent anyway are kept with
    the report as received."""
    return {"service_code": category.code, "attributes": []}


# --- Requests -------------------------------------------------------------------------------------------------------------
def status_notes(case: Case) -> str:
    """The detailed state in plain words; a closed case says why it ended (never just "fixed")."""
    if case.state == CaseState.MERGED and case.merged_into_id:
        return _("merged into case %(number)s (a report of the same problem)") % {"number": case.merged_into.number}
    if case.state == CaseState.CLOSED and case.close_reason:
        return _("%(state)s: %(reason)s") % {"state": case.get_state_display(),
                                              "reason": case.get_close_reason_display()}
    return str(case.get_state_display())


def _address(case: Case) -> str | None:
    """The address given, else the places we know, most specific first (grid, street, district)."""
    if case.address:
        return case.address
    names = [region.name for region in (case.grid, case.street, case.district) if region is not None]
    return ", ".join(names) or None


def _media_url(case: Case) -> str | None:
    for report in getattr(case, "open311_reports", []):
        if report.raw_payload.get("media_url"):
            return report.raw_payload["media_url"]
    return None


def _expected(case: Case) -> str | None:
    clocks = getattr(case, "handle_clocks", None)
    return w3(clocks[0].deadline) if clocks else None


def request_repr(case: Case, *, extensions: bool = False) -> dict:
    """A case (with the prefetches of ``selectors.with_refs``) as a GeoReport v2 service request."""
    category = case.category
    data = {
        "service_request_id": case.number,
        "status": "open" if case.is_open else "closed",
        "status_notes": status_notes(case),
        "service_name": category.minor_name if category else None,
        "service_code": category.code if category else None,
        "description": case.description,
        "agency_responsible": case.department.name if case.department_id else None,
        "service_notice": service_notice(category),
        "requested_datetime": w3(case.created_at),
        "updated_datetime": w3(case.updated_at),
        "expected_datetime": _expected(case),
        "address": _address(case),
        "address_id": case.grid.code if case.grid_id else case.region_code,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lng,
        "media_url": _media_url(case),
    }
    if extensions:
        data["extended_attributes"] = {
            "detailed_status": case.state,
            "detailed_status_name": str(case.get_state_display()),
            "close_reason": case.close_reason or None,
            "merged_into": case.merged_into.number if case.merged_into_id else None,
            "grid_code": case.grid.code if case.grid_id else None,
            "region_code": case.region_code,
            "channel": case.channel,
            "category_group": KIND_LETTER[category.kind] + category.major_code if category else None,
            "category_group_name": category.major_name if category else None,
            "urgency": case.urgency,
        }
    return data


# --- Updates (mySociety servicerequestupdates) -------------------------------------------------------------------------
def _update_words(event: CaseEvent) -> str:
    if event.kind == "return":
        return _("returned by the department; to be dispatched again")
    if event.kind == "reopen":
        return _("reopened after the reporter's feedback")
    if event.kind == "merge" and event.payload.get("target"):
        return _("merged into case %(number)s (a report of the same problem)") % {"number": event.payload["target"]}
    if event.kind == "dispatch":
        return _("dispatched to the department responsible")
    return str(CaseState(event.to_state).label)


def update_repr(event: CaseEvent) -> dict:
    """One state change of a case as a request update; ``external_status_code`` is our state."""
    return {
        "update_id": f"{event.case.number}-{event.seq}",
        "service_request_id": event.case.number,
        "status": FEED_STATUS_OF_ACTION.get(event.kind) or FEED_STATUS[event.to_state],
        "updated_datetime": w3(event.occurred_at),
        "description": _update_words(event),
        "media_url": None,
        "external_status_code": event.to_state,
    }
