"""The field app for grid workers (城管通 in the browser): the offline-first app page, its data document, the service
worker and manifest that make it installable and open with no network, and the case photos it shows.

The app sends its reports and actions to the cases API (events/api.py) from its outbox; these views only read."""

import hashlib
import json
import mimetypes

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

from events.access import cases_visible_q
from events.models import Attachment, Case
from grids.models import Role

from .. import field as presentation
from ..access import role_required

SW_VERSION = "1"


@role_required(Role.GRID_WORKER)
@ensure_csrf_cookie
def field(request):
    config = {"data_url": reverse("web:field_data"), "sw_url": reverse("web:field_sw"),
              "cases_url": "/api/v1/cases/", "pin_threshold_m": presentation.pin_threshold_m(),
              "far_m": presentation.far_from_case_m(), "leaflet_js": static("vendor/leaflet-1.9.4/leaflet.js"),
              "leaflet_css": static("vendor/leaflet-1.9.4/leaflet.css"), "tile_url": _tile_url()}
    return render(request, "web/field/app.html", {"config": config, "strings": presentation.js_strings()})


def _tile_url() -> str:
    return getattr(settings, "GRIDLOOP_MAP_TILE_URL", "") or ""


@role_required(Role.GRID_WORKER)
@never_cache
def data(request):
    """The app's data document (the service worker keeps the last one for offline use; it says when it was made)."""
    return JsonResponse(presentation.app_data(request.user))


@role_required(Role.GRID_WORKER)
def photo(request, pk: int):
    """A case photo, for a grid worker who may see the case (the same scope as the cases API)."""
    attachment = Attachment.objects.filter(pk=pk, case__in=_visible_cases(request.user)).first()
    if attachment is None:
        raise Http404(_("There is no such photo in your area."))
    response = FileResponse(attachment.file.open("rb"),
                            content_type=attachment.content_type or mimetypes.guess_type(attachment.file.name)[0])
    response["Cache-Control"] = "private, max-age=86400"
    return response


def _visible_cases(user):
    return Case.objects.filter(cases_visible_q(user)).values("pk")


def service_worker(request):
    """The service worker, served under /field/ so that its scope is the app; the shell's URLs are filled in here
    (static URLs carry their content hash in production, so a new release is a new cache)."""
    urls = presentation.shell_urls()
    body = render(request, "web/field/sw.js", {
        "version": f"{SW_VERSION}-{hashlib.sha256(' '.join(urls).encode()).hexdigest()[:12]}", "shell_urls": json.dumps(urls),
        "app_url": json.dumps(reverse("web:field")), "data_url": json.dumps(reverse("web:field_data")),
        "photo_prefix": json.dumps(reverse("web:field_photo", args=[0])[:-2]),
    }).content
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = reverse("web:field")
    response["Cache-Control"] = "no-cache"
    return response


def manifest(request):
    document = {
        "name": _("Gridloop field app"), "short_name": _("Field app"), "lang": request.LANGUAGE_CODE,
        "start_url": reverse("web:field"), "scope": reverse("web:field"), "display": "standalone",
        "orientation": "portrait", "background_color": "#ffffff", "theme_color": "#0b5cad",
        "icons": [{"src": static(f"web/field/icon-{size}.png"), "sizes": f"{size}x{size}", "type": "image/png",
                   "purpose": "any maskable"} for size in (192, 512)],
    }
    return HttpResponse(json.dumps(document, ensure_ascii=False), content_type="application/manifest+json")
