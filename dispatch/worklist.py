"""The command console's reads (issue 16): a center's open cases with the clock of their current stage, the bucket
counts, and the map data (counts per area when zoomed out, markers close up) — each computed in the database.

A case has at most one running stage clock (``finished_at`` empty, dispatch.clocks); it is joined to every row
(``FilteredRelation``) as ``clock_deadline``, ``clock_light``, ``clock_paused_at`` and ``clock_stage``. Time to
breach is ``deadline − now``; a paused clock (挂账) does not run, so it sorts after every running one.

Scope: the rows are ``events.selectors.cases_list(user, filters)`` (the API's list: the caller's area and the same
filters) limited to the center's level and subtree, open states only.
"""

from dataclasses import dataclass

from django.db.models import Avg, Case, Count, F, FilteredRelation, Q, QuerySet, Value, When, Window
from django.db.models.functions import Substr

from events.models import OPEN_STATES, CaseState, CategoryKind
from events.models import Case as CaseRow
from events.selectors import cases_list
from grids.models import Level, Region

from .models import Light

BUCKETS = ("all", "new", "awaiting_dispatch", "returned", "escalated_to_us", "due_soon", "overdue")
SORTS = {  # column → the expressions it orders by (ascending); the number breaks ties
    "time_left": ("breach_order",),
    "number": ("number",),
    "category": ("category__code",),
    "place": ("region_code",),
    "channel": ("channel",),
    "urgency": ("urgency",),
    "state": ("state",),
    "department": ("department__code",),
    "created": ("created_at",),
}
DEFAULT_SORT = "time_left"
MAP_MARKER_ZOOM = 16  # from this zoom on the map shows one marker per case; below it counts per area
MAP_MARKER_LIMIT = 1000
CODE_LENGTH = {Level.DISTRICT: 6, Level.STREET: 9, Level.COMMUNITY: 12, Level.GRID: 15}


def _bucket_q(name: str, level: str) -> Q | None:
    """The filter of a bucket (None: the bucket does not apply at this level — a street center has no
    "escalated to us")."""
    return {
        "all": Q(),
        "new": Q(state=CaseState.REPORTED),
        "awaiting_dispatch": Q(state=CaseState.ACCEPTED, returns_count=0),
        "returned": Q(state=CaseState.ACCEPTED, returns_count__gt=0),
        "escalated_to_us": None if level == Level.STREET else Q(escalations_count__gt=0),
        "due_soon": Q(clock_light=Light.YELLOW, clock_paused_at__isnull=True),
        "overdue": Q(clock_light=Light.RED, clock_paused_at__isnull=True),
    }[name]


def bucket_available(name: str, level: str) -> bool:
    return _bucket_q(name, level) is not None


def center_open_cases(*, user, center: Region, filters: dict | None = None) -> QuerySet[CaseRow]:
    """The open cases owned by ``center`` that the user may see, filtered as ``cases_list`` does (plus ``major``: a
    major class as kind letter + code, e.g. ``E01``), each with its running clock's deadline, light, pause and stage."""
    filters = dict(filters or {})
    major = filters.pop("major", "")
    cases = cases_list(user=user, filters=filters)
    if major:
        kind = {"C": CategoryKind.COMPONENT, "E": CategoryKind.EVENT}.get(major[:1].upper(), "")
        cases = cases.filter(category__kind=kind, category__major_code=major[1:])
    return (
        cases
        .filter(level=center.level, region_code__startswith=center.subtree_prefix, state__in=OPEN_STATES)
        .annotate(open_clock=FilteredRelation("clocks", condition=Q(clocks__finished_at__isnull=True)))
        .annotate(clock_deadline=F("open_clock__deadline"), clock_light=F("open_clock__light"),
                  clock_paused_at=F("open_clock__paused_at"), clock_stage=F("open_clock__stage"))
    )


def _ordered(cases: QuerySet[CaseRow], sort: str) -> QuerySet[CaseRow]:
    descending = sort.startswith("-")
    columns = SORTS.get(sort.lstrip("-"), SORTS[DEFAULT_SORT])
    cases = cases.annotate(breach_order=Case(
        When(clock_paused_at__isnull=False, then=Value(None)), default=F("clock_deadline")))
    order = [F(c).desc(nulls_last=True) if descending else F(c).asc(nulls_last=True) for c in columns]
    return cases.order_by(*order, "-number" if descending else "number")


def worklist(*, user, center: Region, bucket: str = "all", filters: dict | None = None, sort: str = DEFAULT_SORT
             ) -> QuerySet[CaseRow]:
    """One bucket of the center's open cases in the order asked for (``sort``: a key of SORTS, ``-`` for
    descending). By default the most urgent first: the smallest time to breach (overdue ones most overdue first),
    paused clocks and cases without a clock last."""
    q = _bucket_q(bucket, center.level)
    cases = center_open_cases(user=user, center=center, filters=filters)
    if q is None:
        return cases.none()
    return _ordered(cases.filter(q), sort)


def worklist_page_query(*, user, center: Region, bucket: str = "all", filters: dict | None = None,
                        sort: str = DEFAULT_SORT) -> QuerySet:
    """``worklist_page``'s first query (slice it): every open case of the center as ``{pk, in_bucket,
    count_<bucket>…}``, the bucket's rows first in the order asked for, the counts as window aggregates."""
    q = _bucket_q(bucket, center.level)
    windows = {f"count_{name}": Window(Count("pk", filter=bq) if bq else Count("pk"))
               for name in BUCKETS if (bq := _bucket_q(name, center.level)) is not None}
    if q is None:
        in_bucket = Value(0)  # the bucket does not apply here: empty
    elif not q:
        in_bucket = Value(1)  # all
    else:
        in_bucket = Case(When(q, then=Value(1)), default=Value(0))
    every = center_open_cases(user=user, center=center, filters=filters)
    ordered = _ordered(every.annotate(in_bucket=in_bucket, **windows), sort)
    ordered = ordered.order_by(F("in_bucket").desc(), *ordered.query.order_by)
    return ordered.values("pk", "in_bucket", *windows)


@dataclass
class WorklistPage:
    cases: list
    counts: dict[str, int | None]
    has_next: bool


def worklist_page(*, user, center: Region, bucket: str = "all", filters: dict | None = None,
                  sort: str = DEFAULT_SORT, offset: int = 0, limit: int = 50) -> WorklistPage:
    """One page of ``worklist`` and every bucket's count, in two queries.

    The first reads the center's rows once, narrow (no category, department or region joins over the thousands of
    rows a center holds): the bucket counts as window aggregates over all of them, and the page's ids — the rows of
    the bucket first, in the order asked for, so a row outside the bucket marks its end. The second reads those rows
    with their category and department (regions are not loaded: the caller names the places it shows)."""
    counts = {name: None for name in BUCKETS}
    found = list(worklist_page_query(user=user, center=center, bucket=bucket, filters=filters, sort=sort)
                 [offset:offset + limit + 1])
    if found:
        counts.update({name: found[0][f"count_{name}"] for name in BUCKETS if f"count_{name}" in found[0]})
    else:
        counts.update({name: 0 for name in BUCKETS if bucket_available(name, center.level)})
        if offset:
            counts.update(bucket_counts(user=user, center=center, filters=filters))
    ids = [row["pk"] for row in found if row["in_bucket"]]
    has_next = len(ids) > limit
    ids = ids[:limit]
    if not ids:
        return WorklistPage([], counts, False)
    rows = center_open_cases(user=user, center=center, filters=filters).filter(pk__in=ids).prefetch_related(None)
    by_pk = {case.pk: case for case in rows}
    return WorklistPage([by_pk[pk] for pk in ids if pk in by_pk], counts, has_next)


def bucket_counts(*, user, center: Region, filters: dict | None = None) -> dict[str, int | None]:
    """How many cases each bucket holds now (one query); None for a bucket that does not apply here."""
    aggregates = {name: Count("pk", filter=q) if q else Count("pk")
                  for name in BUCKETS if (q := _bucket_q(name, center.level)) is not None}
    counts = center_open_cases(user=user, center=center, filters=filters).order_by().aggregate(**aggregates)
    return {name: counts.get(name) for name in BUCKETS}


# --- Map -----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BBox:
    west: float
    south: float
    east: float
    north: float

    @classmethod
    def parse(cls, text: str) -> "BBox":
        """``west,south,east,north`` in WGS84 degrees (Leaflet's ``getBounds().toBBoxString()``)."""
        try:
            west, south, east, north = (float(part) for part in text.split(","))
        except ValueError:
            raise ValueError("bbox must be four numbers: west,south,east,north (degrees)") from None
        if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
            raise ValueError("bbox must be west,south,east,north with west ≤ east and south ≤ north, in degrees")
        return cls(west, south, east, north)

    def q(self) -> Q:
        return Q(lat__gte=self.south, lat__lte=self.north, lng__gte=self.west, lng__lte=self.east)


def map_area_level(zoom: int) -> str:
    """Which areas the counts are per, at ``zoom`` (below MAP_MARKER_ZOOM)."""
    if zoom < 13:
        return Level.STREET
    if zoom < 15:
        return Level.COMMUNITY
    return Level.GRID


def _light_counts() -> dict:
    running = Q(clock_paused_at__isnull=True)
    return {
        "red": Count("pk", filter=running & Q(clock_light=Light.RED)),
        "yellow": Count("pk", filter=running & Q(clock_light=Light.YELLOW)),
        "green": Count("pk", filter=running & Q(clock_light=Light.GREEN)),
        "paused": Count("pk", filter=Q(clock_paused_at__isnull=False)),
    }


def map_areas(cases: QuerySet[CaseRow], *, bbox: BBox, level: str) -> list[dict]:
    """Counts per area (street, community or unit grid) of the located cases inside ``bbox``, by light, each placed
    at the mean point of its cases; grouped in the database. The areas' names in one more query."""
    length = CODE_LENGTH[level]
    rows = list(
        cases.filter(bbox.q()).order_by()
        .annotate(area=Substr("region_code", 1, length)).values("area")
        .annotate(count=Count("pk"), lat=Avg("lat"), lng=Avg("lng"), **_light_counts())
        .order_by("area")
    )
    names = dict(Region.objects.filter(code__in=[row["area"] for row in rows]).values_list("code", "name"))
    return [{"code": row["area"], "name": names.get(row["area"], row["area"]), "level": level,
             "lat": round(row["lat"], 6), "lng": round(row["lng"], 6), "count": row["count"],
             **{light: row[light] for light in ("red", "yellow", "green", "paused")}} for row in rows]


def map_markers(cases: QuerySet[CaseRow], *, bbox: BBox, limit: int = MAP_MARKER_LIMIT) -> tuple[list[dict], bool]:
    """One marker per located case inside ``bbox`` (at most ``limit``, the most urgent first), and whether more
    were left out."""
    rows = list(
        cases.filter(bbox.q()).order_by(F("clock_deadline").asc(nulls_last=True), "number")
        .values("number", "lat", "lng", "state", "clock_light", "clock_paused_at", "category__minor_name")[:limit + 1]
    )
    markers = [{"number": row["number"], "lat": row["lat"], "lng": row["lng"], "state": row["state"],
                "light": marker_light(row["clock_light"], row["clock_paused_at"]),
                "category": row["category__minor_name"] or ""} for row in rows[:limit]]
    return markers, len(rows) > limit


def marker_light(light: str | None, paused_at) -> str:
    """The light a row shows: ``paused`` for a paused clock, ``none`` without a running clock."""
    if paused_at is not None:
        return "paused"
    return light or "none"
