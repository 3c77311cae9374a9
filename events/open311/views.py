"""Open311 GeoReport v2 views. Plain Django views: the protocol has its own formats, error documents and
authentication (the ``api_key`` parameter), so neither the DRF error envelope nor session/CSRF rules apply.

Each view only checks the format and method, hands the parameters to a selector or service and renders the result;
a DomainError becomes the spec's error document: 404 (not found), 403 (api_key) or 400 (everything else).
"""

from functools import wraps

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from config.errors import DomainError, InvalidInput, NotFound

from . import params, selectors
from .renderers import FORMATS, render, render_errors
from .serializers import (
    SPECIFICATION,
    request_repr,
    service_definition_repr,
    service_notice,
    service_repr,
    update_repr,
)
from .services import open311_request_submit

CHANGESET = "2026-11-23T00:00:00Z"  # when this endpoint's behaviour last changed (discovery)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _form(request):
    """The POSTed parameters (form-encoded or multipart), with the query string's as a fallback."""
    try:
        if request.content_type not in FORM_TYPES and request.body:
            raise InvalidInput(_("send the parameters form-encoded "
                                 "(Content-Type: application/x-www-form-urlencoded)"))
        form = request.GET.copy()
        for name in request.POST:
            form.setlist(name, request.POST.getlist(name))
        return form, request.FILES
    except (MultiPartParserError, SuspiciousOperation) as exc:
        raise InvalidInput(_("the request body cannot be read as a form: %(problem)s") % {"problem": exc}) from exc


def _jurisdiction(form):
    code = params.value(form, "jurisdiction_id")
    if not code:
        return None
    region = selectors.jurisdiction_get(code)
    if region is None:
        raise NotFound(_("jurisdiction_id %(code)r was not found: use the code of the city or of a region in it")
                       % {"code": code[:20]})
    return region


def open311_view(*methods: str):
    """Wrap a view ``view(request, fmt, jurisdiction, form, files, **kwargs)``: format and method checks, the
    jurisdiction, the parameters, and DomainErrors as the spec's error documents."""
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, fmt: str, **kwargs):
            fmt = fmt.lower()
            if fmt not in FORMATS:
                return render_errors("xml", 400, [_("unknown format %(fmt)r: end the path in .xml or .json")
                                                  % {"fmt": fmt[:10]}])
            if request.method not in allowed:
                return render_errors(fmt, 405, [_("%(method)s is not allowed here; use %(allowed)s")
                                                % {"method": request.method, "allowed": ", ".join(sorted(allowed))}],
                                     headers={"Allow": ", ".join(sorted(allowed))})
            try:
                form, files = _form(request) if request.method == "POST" else (request.GET, None)
                jurisdiction = _jurisdiction(form)
                return view(request, fmt, jurisdiction=jurisdiction, form=form, files=files, **kwargs)
            except DomainError as exc:
                status = exc.status_code if exc.status_code in (403, 404) else 400
                return render_errors(fmt, status, [exc.message])

        return wrapper

    return decorate


def _next_link(request, page: params.Page, more: bool) -> dict:
    if not more:
        return {}
    query = request.GET.copy()
    query["page"] = str(page.number + 1)
    return {"Link": f'<{request.build_absolute_uri(request.path)}?{query.urlencode()}>; rel="next"'}


@open311_view("GET")
def discovery(request, fmt, *, jurisdiction, form, files):
    base = request.build_absolute_uri(reverse("open311:discovery", kwargs={"fmt": fmt})).rsplit("/", 1)[0]
    return render(fmt, "discovery", {
        "changeset": CHANGESET,
        "contact": settings.GRIDLOOP_OPEN311_CONTACT or None,
        "key_service": settings.GRIDLOOP_OPEN311_KEY_SERVICE
        or _("API keys are issued by the administrators of this service."),
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": base,
            "changeset": CHANGESET,
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    })


@open311_view("GET")
def services(request, fmt, *, jurisdiction, form, files):
    return render(fmt, "services", [service_repr(category) for category in selectors.services_list()])


@open311_view("GET")
def service_definition(request, fmt, *, jurisdiction, form, files, service_code):
    category = selectors.service_get(service_code)
    if category is None:
        raise NotFound(_("there is no service with service_code %(code)r") % {"code": service_code[:20]})
    return render(fmt, "service_definition", service_definition_repr(category))


@open311_view("GET", "POST")
def requests(request, fmt, *, jurisdiction, form, files):
    if request.method == "POST":
        submitted = open311_request_submit(
            api_key=params.value(form, "api_key"), form=form, files=files,
            idempotency_key=request.headers.get("Idempotency-Key", ""), jurisdiction=jurisdiction)
        row = ({"token": submitted.token} if settings.GRIDLOOP_OPEN311_SERVICE_TYPE == "batch"
               else {"service_request_id": submitted.case.number})
        row.update(service_notice=service_notice(submitted.case.category), account_id=submitted.account_id)
        return render(fmt, "service_requests", [row], status=201 if submitted.created else 200)
    query = params.requests_query(form, now=timezone.now())
    cases, more = selectors.requests_page(jurisdiction=jurisdiction, query=query)
    return render(fmt, "service_requests", [request_repr(case, extensions=query.extensions) for case in cases],
                  headers=_next_link(request, query.page, more))


@open311_view("GET")
def request_detail(request, fmt, *, jurisdiction, form, files, service_request_id):
    case = selectors.request_get(number=service_request_id, jurisdiction=jurisdiction)
    if case is None:
        raise NotFound(_("there is no service request %(id)r") % {"id": service_request_id[:30]})
    return render(fmt, "service_requests", [request_repr(case, extensions=params.flag(form, "extensions"))])


@open311_view("GET")
def request_from_token(request, fmt, *, jurisdiction, form, files, token):
    number = selectors.token_case_number(token)
    if number is None:
        raise NotFound(_("token %(token)r was not found") % {"token": token[:60]})
    return render(fmt, "service_requests", [{"service_request_id": number, "token": token}])


@open311_view("GET")
def service_request_updates(request, fmt, *, jurisdiction, form, files):
    query = params.updates_query(form, now=timezone.now())
    events, more = selectors.updates_page(jurisdiction=jurisdiction, query=query)
    return render(fmt, "service_request_updates", [update_repr(event) for event in events],
                  headers=_next_link(request, query.page, more))


@csrf_exempt
def not_found(request, path=""):
    fmt = "json" if path.lower().endswith(".json") else "xml"
    return render_errors(fmt, 404, [_("no such resource: the resources are discovery, services, services/{code}, "
                                      "requests, requests/{id}, tokens/{token} and servicerequestupdates, each "
                                      "ending in .xml or .json")])
