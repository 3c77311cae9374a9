"""API plumbing shared by every app: the error envelope and pagination.

Every error body has the same shape::

    {"detail": "<a sentence a person can act on>", "code": "<machine code>", "fields": {"lat": ["..."]}}

``fields`` appears for validation errors and names each bad field with a list of messages; an error inside a list
or a nested object is named by its path (``photos.0``, ``inputs.department``), never nested.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


def _flatten(detail) -> str:
    if isinstance(detail, dict) and set(detail) == {"non_field_errors"}:
        return _flatten(detail["non_field_errors"])
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)


def _field_messages(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as ``{"path": ["message", …]}`` (the documented shape)."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            out.update(_field_messages(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        out = {}
        for index, item in enumerate(detail):
            if item:
                out.update(_field_messages(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix or "non_field_errors": [str(item) for item in detail] if isinstance(detail, list) else [str(detail)]}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        body = {"detail": exc.message, "code": exc.code}
        if exc.field:
            body["fields"] = {exc.field: [exc.message]}
        body.update(exc.extra)
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(
            {"detail": _flatten(fields), "code": "invalid", "fields": fields}, status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = {"detail": _flatten(fields), "code": "invalid", "fields": _field_messages(fields)}
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "detail": _flatten(response.data.get("detail", response.data))
            if isinstance(response.data, dict) else _flatten(response.data),
            "code": codes if isinstance(codes, str) else "error",
        }
    return response
