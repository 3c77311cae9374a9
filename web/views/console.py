"""The command console (issue 16 §3): buckets, worklist, map and case detail side by side, keyboard first.

Thin views: reads through dispatch.worklist / events.selectors / dispatch.routing, writes only through
events.services.case_act and case_contact_view (and web.services for saved filters). Every page and fragment is
limited to the person's area: a case outside it is the 403 page, the same as one that does not exist.
"""
import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, set_response_etag
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from rest_framework.exceptions import ValidationError

from config.errors import DomainError, NotFound
from config.errors import PermissionDenied as DomainPermissionDenied
from dispatch.queues import QUEUE_LEVELS, queue_centers
from dispatch.routing import route
from dispatch.worklist import (
    MAP_MARKER_ZOOM,
    BBox,
    map_area_level,
    map_areas,
    map_markers,
    worklist,
    worklist_page,
)
from events.access import cases_visible_q, may_see_contact
from events.actors import Actor
from events.duplicates import case_duplicate_candidates
from events.models import AttachmentKind
from events.selectors import case_detail_get, case_visible, cases_of_citizen, categories_list
from events.serializers import CaseActionSerializer, mask_name, mask_phone, validated_input
from events.services import allowed_actions, case_act, case_contact_view
from events.workflow import ACTIONS
from grids.models import Region, Role
from grids.selectors import command_centers_of, departments_visible_to

from ..access import role_required
from ..console import (
    ACTION_KEYS,
    ACTION_LABELS,
    BUCKET_LABELS,
    BULK_ACTIONS,
    COLUMNS,
    PAGE_SIZE,
    action_forms,
    clocks_for,
    parse_filters,
    place_codes,
    query_string,
    required_inputs,
    rows_for,
    timeline_for,
)
from ..models import SavedFilter
from ..services import saved_filter_delete, saved_filter_save
from .geo import bad_request, int_param

POLL_SECONDS = 10
BULK_LIMIT = 200

def console_centers(user) -> list:
    """The command centers whose work this person may see in the console, street first: the ones they dispatch for
    (from their cached roles, no query), else — an administrator — every center (dispatch.queues.queue_centers)."""
    own = sorted(command_centers_of(user), key=lambda r: (QUEUE_LEVELS.index(r.level), r.code))
    if own:
        return own
    return [center for level in QUEUE_LEVELS for center in queue_centers(user, level)]


def center_for(user, code: str):
    """The center asked for (403 when it is not one of the person's), else their first."""
    centers = console_centers(user)
    if not centers:
        raise PermissionDenied(_("You dispatch for no command center: ask an administrator to assign you one."))
    if not code:
        return centers[0], centers
    for center in centers:
        if center.code == code:
            return center, centers
    raise PermissionDenied(_("This command center is not yours."))


@require_GET
@role_required(Role.DISPATCHER)
def map_data(request):
    """``GET /console/map/?<worklist filters>&bbox=w,s,e,n&zoom=Z``: the worklist's cases on the map — counts per
    area below zoom 16, one marker per case from there on."""
    form, filters, view = parse_filters(request.GET)
    if form.errors:
        return bad_request("; ".join(f"{key}: {' '.join(errors)}" for key, errors in form.errors.items()))
    try:
        zoom = int_param(request, "zoom", 14, 0, 20)
        bbox = BBox.parse(request.GET.get("bbox", ""))
    except ValueError as error:
        return bad_request(str(error))
    center, _centers = center_for(request.user, view["center"])
    cases = worklist(user=request.user, center=center, bucket=view["bucket"], filters=filters)
    if zoom >= MAP_MARKER_ZOOM:
        markers, truncated = map_markers(cases, bbox=bbox)
        return JsonResponse({"mode": "markers", "cases": markers, "truncated": truncated})
    level = map_area_level(zoom)
    return JsonResponse({"mode": "areas", "level": level, "areas": map_areas(cases, bbox=bbox, level=level)},
                        json_dumps_params={"ensure_ascii": False})


def map_words() -> str:
    """The words map.js puts in the pins' labels (in the page's language)."""
    return json.dumps({"cases": _("cases"), "red": _("overdue"), "yellow": _("due soon"), "green": _("on time"),
                       "paused": _("paused"), "none": _("no clock")}, ensure_ascii=False)


# --- The page, its list fragment and the case detail -----------------------------------------------------------------
def _worklist_context(request, center, centers, form, filters, view) -> dict:
    now = timezone.now()
    page = view["page"]
    offset = (page - 1) * PAGE_SIZE
    found = worklist_page(user=request.user, center=center, bucket=view["bucket"], filters=filters,
                          sort=view["sort"], offset=offset, limit=PAGE_SIZE)
    cases, has_next, counts = found.cases, found.has_next, found.counts
    names = region_names(place_codes(cases))
    query = request.GET
    buckets = [{"name": name, "label": BUCKET_LABELS[name], "count": counts[name],
                "url": "?" + query_string(query, bucket=name), "current": name == view["bucket"]}
               for name in counts if counts[name] is not None]
    sort = view["sort"]
    columns = []
    for key, label in COLUMNS:
        ascending = sort == key
        descending = sort == f"-{key}"
        columns.append({"key": key, "label": label,
                        "url": "?" + query_string(query, sort=f"-{key}" if ascending else key),
                        "aria_sort": "ascending" if ascending else "descending" if descending else "none"})
    query_text = query_string(query)
    rows = rows_for(cases, names, now, base_url=reverse("web:console_case", args=["0"])[:-2], query=query_text)
    return {
        "center": center, "centers": centers, "form": form, "view": view, "rows": rows,
        "buckets": buckets, "columns": columns, "query": query_text,
        "next_url": "?" + query_string(query, page=page + 1) if has_next else "",
        "prev_url": "?" + query_string(query, page=page - 1) if page > 1 else "",
        "page": page, "now": now, "poll_seconds": POLL_SECONDS,
    }


def _page_context(request) -> dict:
    """What the whole page adds around the worklist: filter and bulk choices, saved filters."""
    return {"saved_filters": saved_filters_of(request.user), "departments": departments_for(request.user),
            "bulk_actions": [(name, ACTION_LABELS[name]) for name in BULK_ACTIONS]}


def region_names(codes: set[str]) -> dict[str, str]:
    return dict(Region.objects.filter(code__in=codes).values_list("code", "name")) if codes else {}


def departments_for(user) -> list:
    return list(departments_visible_to(user).filter(active=True).order_by("level", "code"))


def saved_filters_of(user) -> list:
    return list(SavedFilter.objects.filter(user=user).order_by("name"))


def _map_context(request, center) -> dict:
    tiles = getattr(settings, "GRIDLOOP_MAP_TILE_URL", "")
    return {"map_parent": center.code, "map_tiles": tiles,
            "map_attribution": getattr(settings, "GRIDLOOP_MAP_TILE_ATTRIBUTION", ""), "map_words": map_words()}


def _page(request, *, number: str | None = None):
    form, filters, view = parse_filters(request.GET)
    center, centers = center_for(request.user, view["center"])
    context = _worklist_context(request, center, centers, form, filters, view)
    if request.htmx and request.htmx.target == "worklist":
        # Polled every ~10 s: an ETag lets the browser revalidate (304, nothing sent) while nothing changed.
        response = render(request, "web/console/_worklist.html", context)
        response["Cache-Control"] = "private, no-cache"
        response["Vary"] = "HX-Request, HX-Target, Cookie, Accept-Language"
        set_response_etag(response)
        return get_conditional_response(request, etag=response["ETag"], response=response)
    context.update(_map_context(request, center), **_page_context(request))
    if number is not None:
        context.update(detail_context(request, number))
    return render(request, "web/console/page.html", context)


@require_GET
@role_required(Role.DISPATCHER)
def page(request):
    """``/console/``: buckets, worklist, map and (empty) detail; only the worklist when htmx asks for it."""
    return _page(request)


def _case_or_403(request, number: str):
    case = case_detail_get(number=number, user=request.user)
    if case is None:
        raise PermissionDenied(_("Case %(number)s is not in your area (or does not exist).") % {"number": number})
    return case


def detail_context(request, number: str, *, case=None, error_action: str = "", error: str = "", posted=None,
                   done: str = "") -> dict:
    """Everything the detail panel shows for one case the person may see."""
    case = case or _case_or_403(request, number)
    now = timezone.now()
    allowed = allowed_actions(case, Actor.staff(request.user))
    suggestion = route(case) if "dispatch" in allowed else None
    departments = departments_for(request.user) if {"dispatch"} & set(allowed) else []
    duplicates = []
    if "merge" in allowed and case.lat is not None:
        duplicates = case_duplicate_candidates(case, now=now, within=cases_visible_q(request.user))
    report = next(iter(case.reports.all()), None)
    photos = list(case.attachments.all())
    before = [p for p in photos if p.kind in (AttachmentKind.REPORT, AttachmentKind.BEFORE)]
    after = [p for p in photos if p.kind in (AttachmentKind.AFTER, AttachmentKind.CHECK)]
    points = [{"number": case.number, "lat": case.lat, "lng": case.lng, "current": True, "text": "",
               "label": _("This case %(number)s") % {"number": case.number}, "light": "none"}]
    points += [{"number": d.case.number, "lat": d.case.lat, "lng": d.case.lng, "current": False, "text": "",
                "light": "none", "merge_url": reverse("web:console_act", args=[case.number, "merge"]),
                "label": _("Possible duplicate %(number)s, %(distance)s m away")
                % {"number": d.case.number, "distance": round(d.distance_m)}} for d in duplicates]
    return {
        "case": case, "allowed": allowed, "suggestion": suggestion,
        "forms": action_forms(allowed, case=case, departments=departments,
                              categories=categories_list(active=True) if case.category_id is None else (),
                              suggested=suggestion.department.code if suggestion and suggestion.department else "",
                              error_action=error_action, error=error, posted=posted),
        "timeline": timeline_for(list(case.events.all())), "clocks": clocks_for(case, now),
        "duplicates": duplicates, "same_reporter": [other for other in cases_of_citizen(key=case.citizen_key, user=request.user, limit=11)
                          if other.pk != case.pk][:10],
        "reporter": {"name": mask_name(report.citizen_name) if report else "",
                     "phone": mask_phone(report.citizen_phone) if report else "",
                     "staff": case.reporter} if report else None,
        "may_see_contact": bool(report and report.citizen_phone) and may_see_contact(request.user, case),
        "before_photos": before, "after_photos": after, "done": done,
        "map_points": points, "keys": ACTION_KEYS, "query": query_string(request.GET),
        "refusal": error if error and error_action not in allowed else "",
    }


@require_GET
@role_required(Role.DISPATCHER)
def detail(request, number: str):
    """``/console/case/<number>/``: the detail panel (htmx) or the whole console with it open."""
    if request.htmx and request.htmx.target == "detail":
        return render(request, "web/console/_detail.html", detail_context(request, number))
    _case_or_403(request, number)
    return _page(request, number=number)


# --- Writes: actions, contact, bulk, saved filters -------------------------------------------------------------------
def _input_error(error: ValidationError) -> str:
    detail = error.detail
    if isinstance(detail, dict):
        return "; ".join(f"{field}: {' '.join(str(m) for m in messages)}" for field, messages in detail.items())
    return " ".join(str(m) for m in detail)


def _action_inputs(request, action: str, case) -> dict:
    """The action's own inputs from the form, checked by the API's serializer (CaseActionSerializer)."""
    data = request.POST.copy()
    if request.FILES:
        data.update(request.FILES)
    wanted = set(required_inputs(action, case))
    sent = {key: data.getlist(key) if key == "photos" else data.get(key) for key in wanted if key in data}
    return validated_input(CaseActionSerializer, sent)


@require_POST
@role_required(Role.DISPATCHER)
def act(request, number: str, action: str):
    """``POST /console/case/<number>/act/<action>/``: one action through case_act; a refusal is shown in place on
    its form with the service's message (and its status), a success re-shows the case and tells the page."""
    if action not in ACTIONS:
        raise Http404(_("There is no such action."))
    case = _case_or_403(request, number)
    try:
        inputs = _action_inputs(request, action, case)
        case_act(case=number, action=action, actor=Actor.staff(request.user), inputs=inputs)
    except ValidationError as error:
        return _refused(request, number, action, _input_error(error), 400)
    except DomainError as error:
        if isinstance(error, NotFound | DomainPermissionDenied) and not case_visible(number=number, user=request.user):
            raise PermissionDenied(_("Case %(number)s is not in your area (or does not exist).")
                                   % {"number": number}) from None
        return _refused(request, number, action, error.message, error.status_code)
    done = _("%(action)s: done.") % {"action": ACTION_LABELS.get(action, action)}
    if not request.htmx:
        messages.success(request, f"{number} · {done}")
        return redirect(_detail_url(number, request.POST.get("query", "")))
    if not case_visible(number=number, user=request.user):  # it left the area (e.g. escalated to a center above)
        response = render(request, "web/console/_detail_empty.html", {"done": f"{number} · {done}"})
    else:
        response = render(request, "web/console/_detail.html", detail_context(request, number, done=done))
    response["HX-Trigger"] = json.dumps({"caseActed": {"number": number, "action": action}})
    return response


def _detail_url(number: str, query: str) -> str:
    url = reverse("web:console_case", args=[number])
    return f"{url}?{query}" if query else url


def _refused(request, number: str, action: str, message: str, status: int):
    context = detail_context(request, number, error_action=action, error=message, posted=request.POST)
    if request.htmx:
        return render(request, "web/console/_detail.html", context, status=status)
    form, filters, view = parse_filters(QueryDict(request.POST.get("query", "")))
    center, centers = center_for(request.user, view["center"])
    context.update(_worklist_context(request, center, centers, form, filters, view))
    context.update(_map_context(request, center), **_page_context(request))
    return render(request, "web/console/page.html", context, status=status)


@require_POST
@role_required(Role.DISPATCHER)
def contact(request, number: str):
    """``POST /console/case/<number>/contact/``: the reporter's full contact (each view logged by the service)."""
    case = _case_or_403(request, number)
    try:
        found, error = case_contact_view(case=case, user=request.user), ""
    except DomainError as refusal:
        found, error = None, refusal.message
    status = 403 if error else 200
    if request.htmx:
        return render(request, "web/console/_contact.html", {"contact": found, "error": error}, status=status)
    context = detail_context(request, number, case=case)
    context.update({"contact": found, "contact_error": error})
    form, filters, view = parse_filters(QueryDict(request.POST.get("query", "")))
    center, centers = center_for(request.user, view["center"])
    context.update(_worklist_context(request, center, centers, form, filters, view))
    context.update(_map_context(request, center), **_page_context(request))
    return render(request, "web/console/page.html", context, status=status)


@require_POST
@role_required(Role.DISPATCHER)
def bulk(request):
    """``POST /console/bulk/``: one action on several cases, each through case_act on its own — the refused ones
    say why, the others are done."""
    numbers = [n.strip() for n in request.POST.getlist("case") if n.strip()][:BULK_LIMIT]
    action = request.POST.get("action", "")
    results, error = [], ""
    if action not in BULK_ACTIONS:
        error = _("Choose what to do with the selected cases.")
    elif not numbers:
        error = _("Select at least one case (the boxes in the first column).")
    elif action == "dispatch" and not request.POST.get("department"):
        error = _("Choose the department to dispatch to.")
    elif action == "urge" and not request.POST.get("note", "").strip():
        error = _("Write the note the department gets with the urge.")
    else:
        inputs = {"dispatch": {"department": request.POST.get("department", "")},
                  "urge": {"note": request.POST.get("note", "")}}.get(action, {})
        actor = Actor.staff(request.user)
        for number in numbers:
            if not case_visible(number=number, user=request.user):
                results.append((number, False, _("not in your area (or does not exist)")))
                continue
            try:
                case_act(case=number, action=action, actor=actor, inputs=inputs)
            except DomainError as refusal:
                results.append((number, False, refusal.message))
            else:
                results.append((number, True, _("done")))
    context = {"results": results, "error": error, "action": ACTION_LABELS.get(action, action),
               "done": sum(1 for r in results if r[1]), "refused": sum(1 for r in results if not r[1])}
    status = 400 if error else 200
    if request.htmx:
        response = render(request, "web/console/_bulk_results.html", context, status=status)
        if results:
            response["HX-Trigger"] = json.dumps({"bulkActed": {"count": len(results)}})
        return response
    form, filters, view = parse_filters(QueryDict(request.POST.get("query", "")))
    center, centers = center_for(request.user, view["center"])
    page_context = _worklist_context(request, center, centers, form, filters, view)
    page_context.update(_map_context(request, center), **_page_context(request))
    page_context["bulk"] = context
    return render(request, "web/console/page.html", page_context, status=status)


@require_POST
@role_required(Role.DISPATCHER)
def filter_save(request):
    """``POST /console/filters/``: save the current view under a name (the same name replaces it)."""
    query = request.POST.get("query", "")
    try:
        saved = saved_filter_save(user=request.user, name=request.POST.get("name", ""), query=query)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(f"{reverse('web:console')}?{query}" if query else reverse("web:console"))
    messages.success(request, _("Saved as “%(name)s”.") % {"name": saved.name})
    return redirect(f"{reverse('web:console')}?{saved.query}" if saved.query else reverse("web:console"))


@require_POST
@role_required(Role.DISPATCHER)
def filter_delete(request, pk: int):
    try:
        saved_filter_delete(user=request.user, pk=pk)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The saved filter is deleted."))
    return redirect(reverse("web:console"))
