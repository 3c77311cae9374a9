"""The command console (issue 16 §3): buckets, worklist, map and case detail side by side, keyboard first.

Thin views: reads through dispatch.worklist / events.selectors / dispatch.routing, writes only through
events.services.case_act and case_contact_view (and web.services for saved filters). Every page and fragment is
limited to the person's area: a case outside it is the 403 page, the same as one that does not exist.
"""
import json

from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from dispatch.queues import QUEUE_LEVELS, queue_centers
from dispatch.worklist import MAP_MARKER_ZOOM, BBox, map_area_level, map_areas, map_markers, worklist
from grids.models import Role

from ..access import role_required
from ..console import parse_filters
from .geo import bad_request, int_param


def console_centers(user) -> list:
    """The command centers whose work this person may see in the console, street first."""
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
