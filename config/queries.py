"""Query helpers shared by the apps' selectors and services (plain Django, no app's models)."""

from collections.abc import Iterable

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL


def pk_in(ids: Iterable[int]) -> Q:
    """``pk IN ids``: on PostgreSQL as one array parameter (``IN (SELECT unnest(%s))``) — an IN list of a thousand
    placeholders costs more to build and send than to run."""
    ids = list(ids)
    if connection.vendor == "postgresql":
        return Q(pk__in=RawSQL("SELECT unnest(%s::bigint[])", [ids]))
    return Q(pk__in=ids)
