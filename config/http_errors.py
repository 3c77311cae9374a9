"""Error answers that no view gives: a request the framework refuses before any view (a NUL byte in the address, a
body too large, too many fields), an unknown path, the database unavailable, a server error.

Each answer takes the form of the part of the site that was asked: the JSON envelope of the API under ``/api/``
(``{"detail", "code"}``), a format an app registers for its own prefix (Open311 registers its error document for
``/open311/``), and the HTML pages elsewhere. Never Django's bare HTML for an API client.
"""
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

Renderer = Callable[[HttpRequest, int, str, dict], HttpResponse]
_renderers: dict[str, Renderer] = {}
RETRY_AFTER_SECONDS = 5


def register(prefix: str, renderer: Renderer) -> None:
    """Answer errors under ``prefix`` with ``renderer(request, status, message, headers)`` (called by apps)."""
    _renderers[prefix] = renderer


def _api(request, status, message, headers, code):
    response = JsonResponse({"detail": message, "code": code}, status=status,
                            json_dumps_params={"ensure_ascii": False})
    for name, value in headers.items():
        response[name] = value
    return response


def error_response(request: HttpRequest, status: int, message: str, *, code: str,
                   headers: dict | None = None) -> HttpResponse:
    headers = headers or {}
    for prefix, renderer in _renderers.items():
        if request.path.startswith(prefix):
            return renderer(request, status, message, headers)
    if request.path.startswith("/api/"):
        return _api(request, status, message, headers, code)
    response = HttpResponse(render_to_string("web/error.html", {"status": status, "message": message}),
                            status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def bad_request(request, exception=None):
    """handler400: what Django refuses itself (body too large, too many fields, a bad Host)."""
    from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent

    if isinstance(exception, RequestDataTooBig):
        return error_response(request, 413, _("The request is too large. Send photos one by one, each at most "
                                              "10 MB, or make them smaller."), code="too_large")
    if isinstance(exception, TooManyFieldsSent):
        return error_response(request, 400, _("The request has too many fields."), code="invalid")
    return error_response(request, 400, _("The request could not be read. Check what was sent."), code="invalid")


def not_found(request, exception=None):
    """handler404: an unknown path."""
    if request.path.startswith("/api/") or any(request.path.startswith(p) for p in _renderers):
        return error_response(request, 404, _("There is nothing at %(path)s. The API's paths are listed at "
                                              "/api/docs/.") % {"path": request.path[:200]}, code="not_found")
    return render(request, "404.html", status=404)


def server_error(request):
    """handler500: a fault of ours, never of the input: the API gets its envelope, pages a plain page."""
    return error_response(request, 500, _("Something went wrong on our side. It has been logged; try again in a "
                                          "moment."), code="server_error")
