"""Map data every face's map reads (web/static/web/map.js): region boundaries of the person's area as GeoJSON,
simplified for the zoom (grids.selectors.boundaries_geojson, cached per process)."""
import hashlib
import json

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from grids.selectors import boundaries_geojson, region_in_scope


def bad_request(message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=400)


def int_param(request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter between ``low`` and ``high``; ValueError naming it otherwise."""
    raw = request.GET.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(_("%(name)s must be a whole number from %(low)s to %(high)s")
                         % {"name": name, "low": low, "high": high}) from None
    if not low <= value <= high:
        raise ValueError(_("%(name)s must be a whole number from %(low)s to %(high)s")
                         % {"name": name, "low": low, "high": high})
    return value


@require_GET
@login_required
def boundaries(request):
    """``GET /geo/boundaries/?parent=CODE&zoom=Z``: the regions inside ``parent`` at the level for the zoom."""
    code = request.GET.get("parent", "").strip()
    if not code:
        return bad_request(_("parent is required: the code of a region in your area"))
    try:
        zoom = int_param(request, "zoom", 14, 0, 20)
    except ValueError as error:
        return bad_request(str(error))
    parent = region_in_scope(request.user, code)
    if parent is None:
        return JsonResponse({"detail": _("This region is not in your area.")}, status=403)
    body = json.dumps(boundaries_geojson(parent=parent, zoom=zoom), ensure_ascii=False, separators=(",", ":"))
    etag = '"' + hashlib.sha1(body.encode()).hexdigest()[:20] + '"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/geo+json")
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=300"
    return response
