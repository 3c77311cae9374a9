"""Operational endpoints (not part of the versioned API)."""

from django.http import JsonResponse

from .selectors import health


def healthz(request):
    """Liveness/readiness probe: 200 when the database answers; the worker's state is reported, not fatal."""
    return JsonResponse(health())
