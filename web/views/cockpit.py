"""The supervisors' cockpit (驾驶舱): the panels of a region and a period, the cases behind every number, the wheel
(催办 / 督办 to the selected cases through ``case_act``), the black list's rectification, the daily briefing with
its PDF, and the big-screen mode for the command hall. Reads through web/cockpit.py (the evaluation selectors),
writes through the services; a region outside the supervised area is the 403 page on every URL.
"""

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied as PageForbidden
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.errors import DomainError, InvalidInput
from config.errors import PermissionDenied as Forbidden
from dispatch.evaluation.briefing import briefing_generate, briefing_html, briefing_sections
from dispatch.evaluation.selectors import department_get, figure_cases, metrics_scope, overdue_cases
from dispatch.evaluation.selectors import escalated_cases as escalated_list
from dispatch.evaluation.services import blacklisting_rectify
from dispatch.models import SupervisionKind, SupervisionTemplate, SupervisionType
from dispatch.models.evaluation import Briefing
from events.actors import Actor
from events.services import case_act
from grids.models import Role

from .. import cockpit as panels
from ..access import role_required

PAGE_SIZE = 50
MAX_SELECTED = 200
LISTS = ("overdue", "overdue_now", "escalated")


def _scoped(request):
    """(region, scope) of the request, the 403 page for a region outside the supervised area."""
    try:
        return panels.cockpit_scope(request.user, request.GET.get("region") or None)
    except Forbidden as error:
        raise PageForbidden(error.message) from None


def _panels_context(request):
    region, scope = _scoped(request)
    error = None
    try:
        period = panels.cockpit_period(request.GET)
    except InvalidInput as bad:
        error, period = bad.message, panels.cockpit_period({})
    data = panels.cockpit_panels(user=request.user, region=region, scope=scope, period=period)
    data.update(breadcrumb=panels.breadcrumb(request.user, region), period_error=error,
                kind=panels.period_kind(request.GET), period_value=request.GET.get("period", ""),
                level_label=panels.level_label(region), child_level_label=panels.child_level_label(region),
                quick_periods=panels.quick_periods(timezone.localdate()))
    return data


@role_required(Role.SUPERVISOR)
def cockpit(request):
    """The cockpit: every panel follows the period and the region (breadcrumb or map). The orders panel polls
    itself (htmx, ``panel=orders``) so a department's reply shows without a reload."""
    if getattr(request, "htmx", False) and request.GET.get("panel") == "orders":
        region, scope = _scoped(request)
        return render(request, "web/cockpit/_orders.html", {
            "orders": panels.orders(scope, timezone.now()), "region": region, "poll": True})
    context = _panels_context(request)
    status = 400 if context["period_error"] else 200
    if request.GET.get("mode") == "big":
        return render(request, "web/cockpit/big.html", context, status=status)
    return render(request, "web/cockpit/page.html", context, status=status)


@role_required(Role.SUPERVISOR)
def big(request):
    """Big-screen mode for the command hall: 1920×1080, dark, the panels rotate, the page refreshes every minute."""
    context = _panels_context(request)
    return render(request, "web/cockpit/big.html", context, status=400 if context["period_error"] else 200)


# --- The cases behind a number -------------------------------------------------------------------------------------------
def _case_list(request, params):
    """(title, cases queryset, the filter shown) for the drill-down parameters; DomainErrors go up."""
    listing = params.get("list") or ""
    if listing:
        if listing not in LISTS:
            raise InvalidInput(_("list must be one of %(lists)s") % {"lists": ", ".join(LISTS)}, field="list")
        region, scope = panels.cockpit_scope(request.user, params.get("region") or None)
        department = department_get(params["department"]).pk if params.get("department") else None
        if listing == "escalated":
            return _("Escalated to this level"), escalated_list(region=region), region
        if listing == "overdue_now":
            return _("Overdue now"), overdue_cases(prefixes=scope.prefixes, department=department), region
        period = panels.cockpit_period(params)
        return (_("Overdue in the period"), overdue_cases(prefixes=scope.prefixes, department=department,
                                                          period=period), region)
    if not params.get("counter"):
        raise InvalidInput(_("choose a number on the cockpit: counter or list is required"), field="counter")
    department = params.get("department")
    scope = metrics_scope(request.user, region=params.get("region") or None,
                          department=None if department in (None, "", "none") else department)
    if scope.by_department:
        raise Forbidden(_("The cockpit is for the supervisors of a region."))
    scope.filters.pop("department", None)
    period = panels.cockpit_period(params)
    cases = figure_cases(scope=scope, counter=params["counter"], period=period, region=params.get("region") or None,
                         unplaced=params.get("unplaced") or None, department=department or None,
                         category=params.get("category") or None, channel=params.get("channel") or None,
                         person=params.get("person") or None)
    return _("Cases behind %(counter)s") % {"counter": params["counter"]}, cases, scope.region


def _cases_page(request, params, *, errors=None, form=None, selected=(), status=200):
    try:
        title, cases, region = _case_list(request, params)
    except Forbidden as error:
        raise PageForbidden(error.message) from None
    except DomainError as error:
        return render(request, "web/cockpit/cases.html", {"list_error": error.message, "params": params},
                      status=400)
    page = Paginator(cases, PAGE_SIZE).get_page(params.get("page"))
    now = timezone.now()
    for case in page.object_list:
        since = getattr(case, "overdue_since", None)
        case.lateness = panels.lateness(since, now) if since else ""
    query = params.copy()
    query.pop("page", None)
    templates = list(SupervisionTemplate.objects.all())
    form = form or {}
    context = {
        "title": title, "page": page, "params": params, "query": query.urlencode(), "region": region,
        "errors": errors or {}, "form": form, "selected": set(selected),
        "templates": templates, "types": SupervisionType.choices,
        "reply_due_default": form.get("reply_due") or panels.default_reply_due(3, now).strftime("%Y-%m-%dT%H:%M"),
        "back": request.get_full_path(), "max_selected": MAX_SELECTED,
    }
    return render(request, "web/cockpit/cases.html", context, status=status)


@role_required(Role.SUPERVISOR)
def cases(request):
    """The cases behind a number (``counter`` with the row's filter, as the metrics API) or a work list
    (``list=overdue|overdue_now|escalated``), with the wheel: select cases, then 催办 or 督办."""
    return _cases_page(request, request.GET)


def _wheel_form(post, now) -> tuple[dict, dict, list[str]]:
    """The 催办/督办 form read and checked: (inputs for case_act, errors by field, selected case numbers)."""
    errors = {}
    numbers = [n.strip() for n in post.getlist("cases") if n.strip()]
    action = post.get("action", "")
    note = (post.get("note") or "").strip()
    template_id = post.get("template") or ""
    if not note and template_id.isdigit():
        template = SupervisionTemplate.objects.filter(pk=int(template_id)).first()
        note = template.text if template else ""
    if not numbers:
        errors["cases"] = _("Select at least one case.")
    elif len(numbers) > MAX_SELECTED:
        errors["cases"] = _("Select at most %(count)d cases at a time.") % {"count": MAX_SELECTED}
    if action not in SupervisionKind.values:
        errors["action"] = _("Choose 催办 (urge) or 督办 (supervision order).")
    if not note:
        errors["note"] = _("Write the note, or pick a template.")
    inputs = {"note": note}
    if action == SupervisionKind.SUPERVISE:
        kind = post.get("type", "")
        if kind not in SupervisionType.values:
            errors["type"] = _("Choose the type of the supervision order.")
        raw = post.get("reply_due", "")
        when = parse_datetime(raw) if raw else None
        if when is None:
            errors["reply_due"] = _("Give the reply deadline as a date and time.")
        else:
            if timezone.is_naive(when):
                when = timezone.make_aware(when)
            if when <= now:
                errors["reply_due"] = _("The reply deadline must be in the future.")
            elif when > now + timedelta(days=90):
                errors["reply_due"] = _("The reply deadline may be at most 90 days ahead.")
        inputs.update(type=kind, reply_due=when.isoformat() if when else "")
    return inputs, errors, numbers


@require_POST
@role_required(Role.SUPERVISOR)
def act(request):
    """The wheel: 催办 or 督办 to every selected case, each through ``case_act`` (the case's own checks and log).
    Bad input re-shows the list with the errors and the selection; a case refused by the service is named."""
    now = timezone.now()
    back = request.POST.get("back") or ""
    params = _params_of(back)
    inputs, errors, numbers = _wheel_form(request.POST, now)
    if errors:
        return _cases_page(request, params, errors=errors, form=request.POST, selected=numbers, status=400)
    action = request.POST["action"]
    actor = Actor.staff(request.user)
    done, refused = [], []
    for number in numbers:
        try:
            case_act(case=number, action=action, actor=actor, inputs=dict(inputs))
            done.append(number)
        except DomainError as error:
            refused.append((number, error.message))
    word = _("督办") if action == SupervisionKind.SUPERVISE else _("催办")
    if done:
        messages.success(request, _("%(action)s sent to %(count)d case(s): %(numbers)s") % {
            "action": word, "count": len(done), "numbers": ", ".join(done)})
    for number, message in refused:
        messages.error(request, _("Case %(number)s: %(message)s") % {"number": number, "message": message})
    safe = back if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) else None
    return redirect(safe or "web:cockpit")


def _params_of(url: str):
    from urllib.parse import urlsplit

    from django.http import QueryDict

    return QueryDict(urlsplit(url).query if url else "", mutable=True)


@require_POST
@role_required(Role.SUPERVISOR)
def rectify(request, pk: int):
    """Mark a black-listed unit's rectification done with a note (the service decides who may)."""
    try:
        listing = blacklisting_rectify(listing_id=pk, user=request.user, note=request.POST.get("note", ""))
    except Forbidden as error:
        raise PageForbidden(error.message) from None
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Rectification of %(name)s marked done.") % {"name": listing.name})
    back = request.POST.get("back") or ""
    safe = back if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) else None
    return redirect(safe or "web:cockpit")


# --- The daily briefing --------------------------------------------------------------------------------------------------
def _briefing(request):
    region, _scope = _scoped(request)
    raw = request.GET.get("date") or ""
    day = parse_date(raw) if raw else timezone.localdate() - timedelta(days=1)
    if day is None:
        raise InvalidInput(_("date must be a date like 2026-03-01"), field="date")
    briefing = Briefing.objects.filter(region_code=region.code, day=day).first()
    if briefing is None:
        briefing = briefing_generate(region_code=region.code, day=day)
    return region, day, briefing


@role_required(Role.SUPERVISOR)
def briefing(request):
    """The daily briefing (一日一研商) of the region: on screen, printable, with a PDF download."""
    try:
        region, day, found = _briefing(request)
    except InvalidInput as error:
        return HttpResponseBadRequest(error.message)
    return render(request, "web/cockpit/briefing.html", {
        "region": region, "day": day, "data": found.data, "sections": briefing_sections(found.data),
        "breadcrumb": panels.breadcrumb(request.user, region),
        "generated_at": timezone.localtime(parse_datetime(found.data["generated_at"])),
    })


@role_required(Role.SUPERVISOR)
def briefing_pdf(request):
    """The briefing as PDF, rendered on the server (WeasyPrint) from the same HTML as the download."""
    from weasyprint import HTML

    try:
        region, day, found = _briefing(request)
    except InvalidInput as error:
        return HttpResponseBadRequest(error.message)
    pdf = HTML(string=briefing_html(found.data)).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="briefing-{region.code}-{day}.pdf"'
    return response

