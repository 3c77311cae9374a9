"""The hotline desk (12345 operators): file a caller's report, see the open cases near the place first (to join one
instead of opening a duplicate), find the caller's earlier cases and answer "where is my case?" (each answer is
recorded), and read the new case number back.

Every fragment (place and category search, nearby cases, the caller's cases) reads within the operator's area; a case
outside it, by URL, is the 403 page.
"""
from datetime import datetime, time

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.errors import DomainError
from dispatch.selectors import running_clocks
from events.access import cases_visible_q
from events.actors import Actor, citizen_key
from events.duplicates import duplicate_candidates
from events.models import Channel
from events.selectors import (
    case_detail_get,
    cases_of_citizen,
    categories_search,
    category_get,
    inquiries_answered_count,
)
from events.serializers import mask_name, mask_phone
from events.services import ReportInput, case_contact_view, case_inquiry_answer, case_report, case_report_add
from grids.models import Level, Region, Role
from grids.selectors import covers, region_scope_q, regions_search

from ..access import role_required
from ..desk import CallForm, event_words, new_idempotency_key, plain_state
from ..time_left import time_left

PLACE_FIELDS = {"lat": "lat", "lng": "lat", "region_code": "place_q", "unstructured": "place_q"}


def _today_start() -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def _place_results(user, text: str, chosen: str) -> list[Region]:
    found = regions_search(user, text, roles=(Role.OPERATOR,)) if text else []
    if chosen and all(region.code != chosen for region in found):
        picked = Region.objects.defer("boundary").filter(region_scope_q(user, roles=(Role.OPERATOR,)),
                                                        code=chosen).first()
        if picked is not None:
            found.insert(0, picked)
    return found


def _category_results(text: str, chosen: str) -> list:
    found = categories_search(text) if text else []
    if chosen and all(category.code != chosen for category in found):
        picked = category_get(chosen)
        if picked is not None and picked.active:
            found.insert(0, picked)
    return found


def _nearby(user, lat, lng, category_code: str) -> list:
    category = category_get(category_code) if category_code else None
    return duplicate_candidates(lat=lat, lng=lng, category=category, now=timezone.now(), limit=5,
                                within=cases_visible_q(user))


def _caller_cases(user, phone: str) -> list[dict]:
    key = citizen_key(phone=phone)
    cases = cases_of_citizen(key=key, user=user) if key else []
    clocks = running_clocks(case.pk for case in cases)
    rows = []
    for case in cases:
        left = time_left(clocks.get(case.pk))
        rows.append({"case": case, "left": left, "plain": plain_state(case, left)})
    return rows


def _form_context(request, form: CallForm, **extra) -> dict:
    data = form.cleaned_data if form.is_bound and hasattr(form, "cleaned_data") else {}
    user = request.user
    lat, lng = data.get("lat"), data.get("lng")
    context = {
        "form": form,
        "key": (data.get("idempotency_key") or "") or new_idempotency_key(),
        "places": _place_results(user, data.get("place_q", ""), data.get("region_code", "")),
        "categories": _category_results(data.get("category_q", ""), data.get("category", "")),
        "nearby": _nearby(user, lat, lng, data.get("category", "")) if lat is not None and lng is not None else [],
        "has_point": lat is not None and lng is not None,
        "caller_cases": _caller_cases(user, data.get("citizen_phone", "")),
        "phone_given": bool(data.get("citizen_phone")),
        "answered_today": inquiries_answered_count(user=user, since=_today_start()),
        "tile_url": getattr(settings, "GRIDLOOP_MAP_TILE_URL", ""),
    }
    context.update(extra)
    return context


def _report_input(data: dict, category) -> ReportInput:
    """The call as case_report takes it: a point, else the picked region — a street, community or grid places it; a
    district (the caller knows no more) goes to that district's command center to be located (unstructured)."""
    report = ReportInput(channel=Channel.HOTLINE, description=data.get("description", ""),
                         address=data.get("address", ""), category=category,
                         citizen_name=data.get("citizen_name", ""), citizen_phone=data.get("citizen_phone", ""),
                         idempotency_key=data.get("idempotency_key", ""))
    if data.get("lat") is not None and data.get("lng") is not None:
        report.lat, report.lng = data["lat"], data["lng"]
    elif data.get("region_code"):
        report.region_code = data["region_code"]
        level = Region.objects.filter(code=report.region_code).values_list("level", flat=True).first()
        report.unstructured = level in (Level.CITY, Level.DISTRICT)
    return report


def _refused(form: CallForm, error: DomainError) -> None:
    field = PLACE_FIELDS.get(error.field or "", error.field)
    if field not in form.fields or field in ("idempotency_key", "region_code"):
        field = None
    form.add_error(field, error.message)


@role_required(Role.OPERATOR)
@require_http_methods(["GET", "POST"])
def desk(request):
    """The call form. POST with ``action=file`` files a case, with ``join=<number>`` adds the call to that open case;
    any other POST (Enter in a field, the look-up button) shows what the typed data finds, filing nothing."""
    if request.method != "POST":
        return render(request, "web/desk/desk.html", _form_context(request, CallForm()))
    form = CallForm(request.POST)
    valid = form.is_valid()
    join, action = request.POST.get("join", "").strip(), request.POST.get("action", "lookup")
    if not valid or (action != "file" and not join):
        return render(request, "web/desk/desk.html", _form_context(request, form),
                      status=400 if not valid else 200)
    data = form.cleaned_data
    category = None
    if data.get("category"):
        category = category_get(data["category"])
        if category is None:
            form.add_error("category_q", _("No category with code %(code)s.") % {"code": data["category"]})
            return render(request, "web/desk/desk.html", _form_context(request, form), status=400)
    if not data.get("description", "").strip():
        form.add_error("description", _("Write down what the caller reports."))
        return render(request, "web/desk/desk.html", _form_context(request, form), status=400)
    actor = Actor.staff(request.user)
    try:
        if join:
            case, _added = case_report_add(case=join, actor=actor, data=_report_input(data, category))
        else:
            if data.get("lat") is None and not data.get("region_code"):
                form.add_error("place_q", _("Choose the place: pick a street, community or grid, or click the map."))
                return render(request, "web/desk/desk.html", _form_context(request, form), status=400)
            try:
                case, _created = case_report(actor=actor, data=_report_input(data, category))
            except IntegrityError:
                # a double submit raced the first one past the key check and lost on the key's unique index: the
                # same call again finds the case the first one filed
                case, _created = case_report(actor=actor, data=_report_input(data, category))
    except DomainError as error:
        _refused(form, error)
        return render(request, "web/desk/desk.html", _form_context(request, form), status=error.status_code)
    outcome = "joined" if join else "filed"
    return redirect(f"{reverse('web:desk_case', args=[case.number])}?{outcome}=1")


def _fragment_form(request) -> CallForm:
    form = CallForm(request.GET)
    form.is_valid()  # fields that do not parse are left out of cleaned_data
    return form


@role_required(Role.OPERATOR)
@require_GET
def places(request):
    form = _fragment_form(request)
    data = form.cleaned_data
    return render(request, "web/desk/_places.html", {
        "places": _place_results(request.user, data.get("place_q", ""), data.get("region_code", "")),
        "form": form})


@role_required(Role.OPERATOR)
@require_GET
def categories(request):
    form = _fragment_form(request)
    data = form.cleaned_data
    return render(request, "web/desk/_categories.html", {
        "categories": _category_results(data.get("category_q", ""), data.get("category", "")), "form": form})


@role_required(Role.OPERATOR)
@require_GET
def nearby(request):
    form = _fragment_form(request)
    data = form.cleaned_data
    lat, lng = data.get("lat"), data.get("lng")
    has_point = lat is not None and lng is not None
    return render(request, "web/desk/_nearby.html", {
        "nearby": _nearby(request.user, lat, lng, data.get("category", "")) if has_point else [],
        "has_point": has_point})


@role_required(Role.OPERATOR)
@require_GET
def caller(request):
    form = _fragment_form(request)
    phone = form.cleaned_data.get("citizen_phone", "")
    return render(request, "web/desk/_caller.html", {
        "caller_cases": _caller_cases(request.user, phone), "phone_given": bool(phone),
        "form": form, "answered_today": inquiries_answered_count(user=request.user, since=_today_start())})


def _visible_case(request, number: str):
    case = case_detail_get(number=number, user=request.user)
    if case is None:  # the same answer for a case outside the area and one that does not exist
        raise PermissionDenied(_("No case %(number)s in your area.") % {"number": number})
    return case


def _case_context(request, case, **extra) -> dict:
    clocks = [clock for clock in case.clocks.all() if clock.finished_at is None]
    left = time_left(clocks[-1] if clocks else None)
    reports = list(case.reports.all())
    context = {
        "case": case, "left": left, "plain": plain_state(case, left),
        "events": [{"event": event, "words": event_words(event.kind)} for event in case.events.all()],
        "callers": [{"name": mask_name(report.citizen_name), "phone": mask_phone(report.citizen_phone),
                     "channel": report.get_channel_display(), "received_at": report.received_at}
                    for report in reports],
        "may_show_contact": covers(request.user, case.region_code, roles=(Role.OPERATOR, Role.DISPATCHER)),
        "answered_today": inquiries_answered_count(user=request.user, since=_today_start()),
        "inquiry_key": new_idempotency_key(),
    }
    context.update(extra)
    return context


@role_required(Role.OPERATOR)
@require_GET
def case(request, number: str):
    """A case as the desk sees it: the number to read back after filing, its state in plain words, time left, the
    callers (phone masked; "show" logs the view) and the timeline."""
    found = _visible_case(request, number)
    return render(request, "web/desk/case.html", _case_context(
        request, found, filed="filed" in request.GET, joined="joined" in request.GET))


@role_required(Role.OPERATOR)
@require_POST
def inquiry(request, number: str):
    """Record that the operator answered the caller's "where is my case?" (an ``inquiry_answered`` event)."""
    found = _visible_case(request, number)
    error, recorded = "", False
    try:
        case_inquiry_answer(case=found.number, actor=Actor.staff(request.user),
                            citizen_phone=request.POST.get("citizen_phone", ""),
                            idempotency_key=request.POST.get("idempotency_key", ""))
        recorded = True  # (a repeat of the same form is the answer already recorded)
    except DomainError as refusal:
        error = refusal.message
    context = {"case": found, "recorded": recorded, "error": error,
               "answered_today": inquiries_answered_count(user=request.user, since=_today_start())}
    if request.htmx:
        return render(request, "web/desk/_inquiry_done.html", context, status=403 if error else 200)
    if error:
        return render(request, "web/desk/case.html", _case_context(request, found, inquiry_error=error), status=403)
    return redirect(f"{reverse('web:desk_case', args=[found.number])}?answered=1")


@role_required(Role.OPERATOR)
@require_POST
def contact(request, number: str):
    """The caller's full phone number, for calling back; every view is logged (``case_contact_view``)."""
    found = _visible_case(request, number)
    try:
        shown = case_contact_view(case=found, user=request.user)
    except DomainError as refusal:
        raise PermissionDenied(refusal.message) from None
    if request.htmx:
        return render(request, "web/desk/_contact.html", {"contact": shown, "case": found})
    return render(request, "web/desk/case.html", _case_context(request, found, contact=shown))


@role_required(Role.OPERATOR)
@require_GET
def boundaries(request):
    """The streets of the operator's area as GeoJSON, for the desk's map."""
    streets = Region.objects.filter(region_scope_q(request.user, roles=(Role.OPERATOR,)), level=Level.STREET)
    features = [{"type": "Feature", "properties": {"code": s.code, "name": s.name}, "geometry": s.boundary}
                for s in streets.order_by("code")[:500]]
    return JsonResponse({"type": "FeatureCollection", "features": features})
