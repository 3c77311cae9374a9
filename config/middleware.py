"""Request guards that hold for every view, before and after it runs.

* A NUL byte (``%00``) in the path or the query string, or in a form-encoded body, is a 400: no text column may hold
  one (PostgreSQL refuses it) and no legitimate client sends one.
* A body declared larger than ``GRIDLOOP_MAX_REQUEST_BYTES`` is refused (413) on its ``Content-Length``, before a
  byte of it is read or spooled to disk.
* The database unavailable (connections refused or terminated) is a 503 with ``Retry-After``: clients retry, with
  their Idempotency-Key where they send one, and nothing is done twice.
"""
from django.conf import settings
from django.db import DataError, InterfaceError, OperationalError
from django.utils.translation import gettext as _

from .http_errors import RETRY_AFTER_SECONDS, error_response

FORM_TYPES = ("application/x-www-form-urlencoded",)
MULTIPART = "multipart/form-data"


def _nul_refusal(request):
    return error_response(request, 400, _("The request holds a NUL byte (%%00), which no field may contain. "
                                          "Remove it and send again."), code="invalid")


class RequestGuard:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            return _nul_refusal(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.GRIDLOOP_MAX_REQUEST_BYTES:
            megabytes = settings.GRIDLOOP_MAX_REQUEST_BYTES // (1024 * 1024)
            return error_response(request, 413, _("The request is larger than %(mb)s MB. Send fewer or smaller "
                                                  "photos.") % {"mb": megabytes}, code="too_large")
        form = request.content_type in FORM_TYPES and request.method in ("POST", "PUT", "PATCH")
        if form and (b"%00" in request.body or b"\x00" in request.body):
            return _nul_refusal(request)
        if request.content_type == MULTIPART and request.method == "POST" and any(
                "\x00" in value for _name, values in request.POST.lists() for value in values):
            return _nul_refusal(request)  # (files may hold NUL bytes: only the text fields are checked)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DataError) and "NUL" in str(exception):
            return _nul_refusal(request)  # the write was in a transaction that rolled back with the exception
        if isinstance(exception, OperationalError | InterfaceError):
            return error_response(request, 503, _("The database is not available right now. Try again in a few "
                                                  "seconds; a retry with the same Idempotency-Key is safe."),
                                  code="unavailable", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        return None
