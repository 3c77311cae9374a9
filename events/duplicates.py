"""Duplicate detection (重复上报): open cases that a new report probably repeats.

A candidate is an open case (not merged, not ended) of the same category — or, when either side has a category
of the same major class (大类), of that class — whose point lies within the category's radius
(``Category.duplicate_radius_m``, default 100 m, at most 1,000 m) of the report and which was opened within the
category's window (``Category.duplicate_window_hours``, default 72 h). A report without a category (a hotline call the
dispatcher will classify) matches open cases of any category within the default radius and window.

The search is one indexed query (plain SQL, see ``_SEARCH``): a partial B-tree index on ``(lat, lng)`` over open
cases only (``case_open_point``), a bounding box around the point, the nearest few ranked in the database, then the
exact great-circle distance in Python for those, and (unless only their numbers are wanted) one more query for the
cases. Candidates come back nearest first, same category before same class.

What is done with candidates is the channel's business (``events.services.case_report``): sensor reports join the
nearest same-category case automatically; reports by people are only suggested — the reported event lists the
numbers, the API shows them live (``GET /api/v1/cases/{number}/duplicates/``) and the dispatcher merges with the
``merge`` action.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connection
from django.db.models import Q

from .models import OPEN_STATE_VALUES, Case, Category

EARTH_RADIUS_M = 6_371_008.8
MAX_RADIUS_M = 1000


@dataclass(frozen=True)
class Candidate:
    pk: int
    number: str
    distance_m: float
    same_category: bool
    case: Case | None = None  # loaded unless the search was asked not to (intake needs only the number)


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def search_rules(category: Category | None) -> tuple[float, timedelta]:
    """(radius in metres, time window) for reports of this category; the settings' defaults without one."""
    if category is not None:
        radius, hours = category.duplicate_radius_m, category.duplicate_window_hours
    else:
        radius, hours = settings.GRIDLOOP_DUPLICATE_RADIUS_M, settings.GRIDLOOP_DUPLICATE_WINDOW_HOURS
    return float(min(max(radius, 1), MAX_RADIUS_M)), timedelta(hours=hours)


# The search, in SQL written once: the ORM spent ~2.5 ms of Python per search compiling the same expressions, ten times
# what the query costs. The open states are literals, so that PostgreSQL can match the partial index
# ``case_open_point`` even in the statement's generic (prepared) plan. The database ranks the points in the box by a
# flat-earth distance (in degrees of latitude, squared: exact enough within a kilometre) and returns only the nearest
# few, same category first; the exact great-circle distance is then computed for those. A pile-up (dozens of calls
# about one fire) costs one sort in the database, not hundreds of rows read here.
_OPEN = ", ".join(f"'{state}'" for state in OPEN_STATE_VALUES)
_SEARCH = """
SELECT id, number, lat, lng, other FROM (
    SELECT id, number, lat, lng, created_at, {other} AS other,
           (lat - %s) * (lat - %s) + ((lng - %s) * %s) * ((lng - %s) * %s) AS flat
    FROM events_case
    WHERE state IN ({open}) AND lat BETWEEN %s AND %s AND lng BETWEEN %s AND %s AND created_at >= %s{where}
) near
WHERE flat <= %s
ORDER BY other, flat, created_at, id
LIMIT %s"""
_SAME_CLASS = " AND category_id IN (SELECT id FROM events_category WHERE kind = %s AND major_code = %s)"


def _scope_sql(within: Q, connection) -> tuple[str, list] | None:
    """``within`` (a filter on the case table's own columns) as SQL; None when it matches nothing."""
    query = Case.objects.filter(within).query
    try:
        sql, params = query.get_compiler(connection=connection).compile(query.where)
    except EmptyResultSet:
        return None
    except FullResultSet:  # no condition (an administrator sees everything)
        return "", []
    return f" AND ({sql})", list(params)


def search_statement(*, lat: float, lng: float, category: Category | None, now: datetime,
                     exclude_pk: int | None = None, limit: int = 5, within: Q | None = None
                     ) -> tuple[str, list] | None:
    """The search's SQL and parameters (None: ``within`` matches nothing), for ``duplicate_candidates`` and for
    ``EXPLAIN`` in bench/duplicates_bench.py."""
    radius, window = search_rules(category)
    dlat = math.degrees(radius / EARTH_RADIUS_M)
    dlng = dlat / max(math.cos(math.radians(lat)), 1e-6)
    k = math.cos(math.radians(lat))
    other, where = "1", ""
    params: list = []
    if category is not None:
        other = "CASE WHEN category_id = %s THEN 0 ELSE 1 END"
        params.append(category.pk)
    params += [lat, lat, lng, k, lng, k, lat - dlat, lat + dlat, lng - dlng, lng + dlng,
               connection.ops.adapt_datetimefield_value(now - window)]
    if category is not None:
        where += _SAME_CLASS
        params += [category.kind, category.major_code]
    if exclude_pk is not None:
        where += " AND id <> %s"
        params.append(exclude_pk)
    if within is not None:
        scope = _scope_sql(within, connection)
        if scope is None:
            return None
        where += scope[0]
        params += scope[1]
    params += [dlat * dlat * 1.0001, limit * 2]
    return _SEARCH.format(other=other, open=_OPEN, where=where), params


def duplicate_candidates(*, lat: float | None, lng: float | None, category: Category | None, now: datetime,
                         exclude_pk: int | None = None, limit: int = 5, within: Q | None = None,
                         load_cases: bool = True) -> list[Candidate]:
    """Open cases that a report at (lat, lng) of ``category`` probably repeats, nearest first (module docstring);
    ``within`` limits them further (a viewer's area scope). Without ``load_cases`` only their ids and numbers."""
    if lat is None or lng is None:
        return []
    statement = search_statement(lat=lat, lng=lng, category=category, now=now, exclude_pk=exclude_pk, limit=limit,
                                 within=within)
    if statement is None:
        return []
    radius, _window = search_rules(category)
    with connection.cursor() as cursor:
        cursor.execute(*statement)
        rows = cursor.fetchall()
    near = []
    for pk, number, case_lat, case_lng, other_class in rows:
        distance = distance_m(lat, lng, case_lat, case_lng)
        if distance <= radius:
            near.append((other_class, distance, pk, number))
    near.sort(key=lambda row: row[:2])  # stable: equally near cases stay oldest first
    near = near[:limit]
    if not load_cases:
        return [Candidate(pk, number, round(distance, 1), not other) for other, distance, pk, number in near]
    cases = Case.objects.select_related("category").in_bulk([pk for *_, pk, _number in near])
    return [Candidate(pk, number, round(distance, 1), not other, cases[pk])
            for other, distance, pk, number in near if pk in cases]


def nearby_lock_keys(*, lat: float, lng: float, category: Category | None) -> list[int]:
    """Keys (int4) for locks that any two reports of ``category`` within its radius of each other share — and
    reports far apart do not: sensors lock them while they look for a case to join and open one, so that two alarms
    at one spot cannot both miss the other's new case, while alarms across the city go on in parallel.

    The plane is cut into rows of latitude of height 2.02 × radius; a row is cut into cells as wide as that in
    metres at the most poleward latitude of the row and its two neighbours. A report locks, in its own row and in
    the neighbouring row nearer to it, its own cell and the neighbouring cell nearer to it: four keys. Two reports
    within the radius are less than half a row apart, so both lock the row of the second; there, both cut with the
    same width, and the first is less than half a cell from the second, so both lock the second's cell."""
    radius, _window = search_rules(category)
    height = math.degrees(radius * 2.02 / EARTH_RADIUS_M)
    row_at = lat / height
    row = math.floor(row_at)
    keys = set()
    for r in sorted({row, row + 1 if row_at - row >= 0.5 else row - 1}):
        poleward = min(max(abs((r - 1) * height), abs((r + 2) * height)), 89.0)
        width = height / math.cos(math.radians(poleward))
        col_at = lng / width
        col = math.floor(col_at)
        for c in (col, col + 1 if col_at - col >= 0.5 else col - 1):
            cell = f"{category.pk if category is not None else 0}:{r}:{c}"
            keys.add(zlib.crc32(cell.encode()) - 2**31)
    return sorted(keys)


def case_duplicate_candidates(case: Case, *, now: datetime, within: Q | None = None, limit: int = 5
                              ) -> list[Candidate]:
    """Candidates for an existing case (what the dispatcher sees on it): open cases opened before or after it within
    the window of ``now``, never the case itself."""
    return duplicate_candidates(lat=case.lat, lng=case.lng, category=case.category, now=now, exclude_pk=case.pk,
                                limit=limit, within=within)
