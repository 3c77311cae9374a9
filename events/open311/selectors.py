"""Reads for Open311. Every read of cases is within the public scope: the cases of the channels listed in
``GRIDLOOP_OPEN311_PUBLIC_CHANNELS`` (read at call time), inside the jurisdiction asked for (a region's subtree).
A case outside the scope answers exactly like one that does not exist."""

import hashlib

from django.conf import settings
from django.db.models import F, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from config.errors import InvalidInput
from dispatch.models import Stage, StageClock
from grids.models import Region

from ..models import OPEN_STATES, Case, CaseEvent, Category, Channel, InboundReport, Open311ApiKey
from . import tokens
from .params import RequestsQuery, UpdatesQuery


def jurisdiction_get(code: str) -> Region | None:
    return Region.objects.defer("boundary").filter(code=code).first()


def _public_q(jurisdiction: Region | None, prefix: str = "") -> Q:
    q = Q(**{f"{prefix}channel__in": list(settings.GRIDLOOP_OPEN311_PUBLIC_CHANNELS)})
    if jurisdiction is not None:
        q &= Q(**{f"{prefix}region_code__startswith": jurisdiction.subtree_prefix})
    return q


def with_refs(cases: QuerySet[Case]) -> QuerySet[Case]:
    """What a request shows, in a fixed number of queries per page: category and department joined; the regions,
    the merge target, the Open311 reports' raw payloads (media_url) and the handle clocks prefetched. The reports
    are read without their contact columns."""
    regions = Region.objects.only("id", "code", "name", "level")
    return cases.select_related("category", "department").prefetch_related(
        Prefetch("grid", queryset=regions), Prefetch("street", queryset=regions),
        Prefetch("district", queryset=regions),
        Prefetch("merged_into", queryset=Case.objects.only("id", "number")),
        Prefetch("reports", to_attr="open311_reports",
                 queryset=InboundReport.objects.filter(channel=Channel.OPEN311).only("id", "case_id", "raw_payload")
                 .order_by("id")),
        Prefetch("clocks", to_attr="handle_clocks",
                 queryset=StageClock.objects.filter(stage=Stage.HANDLE).order_by("-started_at", "-id")),
    )


# --- Services ---------------------------------------------------------------------------------------------------------
def services_list() -> QuerySet[Category]:
    return Category.objects.filter(active=True).order_by("code")


def service_get(code: str) -> Category | None:
    return Category.objects.filter(code=code, active=True).first()


# --- Requests ---------------------------------------------------------------------------------------------------------
def requests_page(*, jurisdiction: Region | None, query: RequestsQuery) -> tuple[list[Case], bool]:
    """(the page of requests, whether another page follows).

    ``service_request_id`` overrides every other filter. Otherwise: service_code, status, start/end on the
    requested time, and ``updated_after`` (exclusive) on the last update. Newest request first; with
    ``updated_after`` oldest update first, so a client can page through and continue from the last one it saw.
    """
    cases = Case.objects.filter(_public_q(jurisdiction))
    order = ("-created_at", "-number")
    if query.ids:
        cases = cases.filter(number__in=query.ids)
    else:
        if query.service_codes:
            known = set(Category.objects.filter(code__in=query.service_codes).values_list("code", flat=True))
            unknown = [code for code in query.service_codes if code not in known]
            if unknown:
                raise InvalidInput(_("there is no service with service_code %(code)r; see services.xml")
                                   % {"code": unknown[0]}, field="service_code")
            cases = cases.filter(category__code__in=query.service_codes)
        if set(query.statuses) == {"open"}:
            cases = cases.filter(state__in=OPEN_STATES)
        elif set(query.statuses) == {"closed"}:
            cases = cases.exclude(state__in=OPEN_STATES)
        if query.start is not None:
            cases = cases.filter(created_at__gte=query.start)
        if query.end is not None:
            cases = cases.filter(created_at__lte=query.end)
        if query.updated_after is not None:
            # Every change of a case appends to its event log: the log's time index narrows the search to the
            # cases touched since then, instead of scanning every case's updated_at.
            touched = CaseEvent.objects.filter(occurred_at__gt=query.updated_after).values("case_id")
            cases = cases.filter(pk__in=touched, updated_at__gt=query.updated_after)
            order = ("updated_at", "number")
    page = query.page
    rows = list(with_refs(cases.order_by(*order))[page.offset:page.offset + page.size + 1])
    return rows[:page.size], len(rows) > page.size


def request_get(*, number: str, jurisdiction: Region | None) -> Case | None:
    return with_refs(Case.objects.filter(_public_q(jurisdiction), number=number)).first()


def token_case_number(token: str) -> str | None:
    """The service_request_id a token stands for, or None for a token that is not ours."""
    report_id = tokens.token_report_id(token)
    if report_id is None:
        return None
    return (InboundReport.objects.filter(pk=report_id, channel=Channel.OPEN311)
            .values_list("case__number", flat=True).first())


# --- Update feed (mySociety servicerequestupdates) ---------------------------------------------------------------------
def updates_page(*, jurisdiction: Region | None, query: UpdatesQuery) -> tuple[list[CaseEvent], bool]:
    """The state changes of public cases from the case event log (events that keep the state — urges, escalations,
    extensions — are internal), oldest first."""
    events = CaseEvent.objects.filter(_public_q(jurisdiction, prefix="case__")).exclude(to_state=F("from_state"))
    if query.updated_after is not None:
        events = events.filter(occurred_at__gt=query.updated_after)
    if query.start is not None:
        events = events.filter(occurred_at__gte=query.start)
    if query.end is not None:
        events = events.filter(occurred_at__lte=query.end)
    events = events.select_related("case").only(
        "id", "seq", "kind", "from_state", "to_state", "payload", "occurred_at", "case__id", "case__number")
    page = query.page
    rows = list(events.order_by("occurred_at", "id")[page.offset:page.offset + page.size + 1])
    return rows[:page.size], len(rows) > page.size


# --- API keys -------------------------------------------------------------------------------------------------------------
def key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def api_key_get(raw: str) -> Open311ApiKey | None:
    """The key whose hash matches (active or not), with its allowed services."""
    if not raw or len(raw) > 200:
        return None
    return Open311ApiKey.objects.prefetch_related("services").filter(key_hash=key_hash(raw)).first()
