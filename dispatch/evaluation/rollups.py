"""Keep the evaluation facts and rollups current: a sweep over the case event log, and the rebuild.

Why a sweep and not a call inside ``case_act``: the event log already says which cases changed, so reading new
``CaseEvent`` rows by id (beat, every few seconds) needs no change to the case services, adds nothing to a
transition's own transaction, and batches the rollup writes of many transitions into one upsert per table. The
price is a lag of one sweep interval before a transition shows in the indicators.

``rollups_advance`` — in one transaction, holding the cursor row's lock (so sweeps and rebuilds never interleave):

1. read the events after the cursor (``id > last_event_id``), oldest first, at most a batch;
2. ids below the newest one read that are missing may belong to a transaction that has not committed yet (ids are
   taken at insert, rows appear at commit): they are kept as gaps and looked for again on every run, and dropped
   once the event after them is older than ``GRIDLOOP_ROLLUP_GAP_SECONDS`` (a transaction that rolled back, or a
   sequence jump);
3. recompute the facts of every case those events belong to (``facts_refresh``) and move the cursor.

``facts_refresh`` recomputes each case's items from its whole event log and clocks (``facts.case_items``), compares
them with the stored ones and adds the difference to ``DailyFact`` and ``SummaryFact`` (one multi-row
``INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n`` per table). Recomputing a case that did not change writes
nothing, so a case seen twice, or out of order, is harmless.

Recurrence (重复发生): a resolved case A "recurred" when a case B of the same category, within
``GRIDLOOP_RECURRENCE_RADIUS_M`` metres, was reported within ``GRIDLOOP_RECURRENCE_DAYS`` days after A's resolution
and B was not rejected or cancelled. When B's category, place, report time or state changes, the resolved cases it
may repeat are recomputed too.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from dispatch.models import StageClock
from dispatch.models.evaluation import (
    COUNTERS,
    CaseFact,
    DailyFact,
    FactItem,
    Grain,
    RollupCursor,
    SummaryFact,
)
from events.models import Case, CaseEvent, EventKind
from grids.models import Department

from .facts import (
    CASE_FIELDS,
    CLOCK_FIELDS,
    EVENT_FIELDS,
    Attrs,
    case_attrs,
    case_items,
    recurrence_candidate,
    resolved_at,
)

log = logging.getLogger(__name__)

DIMENSIONS = ("city", "district", "street", "community", "grid", "department", "category", "channel", "person")
REGION_DIMENSIONS = ("city", "district", "street", "community", "grid")
MAX_GAPS = 10_000
MAX_GAP_RUN = 1_000
UPSERT_CHUNK = 500
METERS_PER_DEGREE = 111_320.0


def region_keys(code: str) -> dict[str, str]:
    """The region codes above (and at) ``code`` per level; "" where the case is not placed that finely (a street
    code has no grid, an unstructured report at a city center has no district)."""
    return {
        "city": code[:4] + "00" if len(code) >= 6 else "",
        "district": code[:6] if len(code) >= 6 and code[4:6] != "00" else "",
        "street": code[:9] if len(code) >= 9 else "",
        "community": code[:12] if len(code) >= 12 else "",
        "grid": code if len(code) > 12 else "",
    }


def scope_of(code: str) -> str:
    """The scope column of SummaryFact: the street code, else the district or city code."""
    return code[:9]


def month_of(day):
    return day.replace(day=1)


# --- Loading -------------------------------------------------------------------------------------------------------------
@dataclass
class Loaded:
    cases: dict[int, dict]
    events: dict[int, list[dict]]
    clocks: dict[int, list[dict]]


def _load(case_ids) -> Loaded:
    ids = sorted(case_ids)
    cases, events, clocks = {}, defaultdict(list), defaultdict(list)
    for start in range(0, len(ids), 2000):
        chunk = ids[start:start + 2000]
        cases.update((row["id"], row) for row in Case.objects.filter(id__in=chunk).values(*CASE_FIELDS))
        for row in CaseEvent.objects.filter(case_id__in=chunk).order_by("case_id", "seq").values(*EVENT_FIELDS):
            events[row["case_id"]].append(row)
        for row in StageClock.objects.filter(case_id__in=chunk).order_by("case_id", "id").values(*CLOCK_FIELDS):
            clocks[row["case_id"]].append(row)
    return Loaded(cases, events, clocks)


def _departments() -> dict[str, int]:
    return dict(Department.objects.values_list("code", "id"))


# --- Recurrence ----------------------------------------------------------------------------------------------------------
def _radius() -> float:
    return float(getattr(settings, "GRIDLOOP_RECURRENCE_RADIUS_M", 50))


def _window() -> timedelta:
    return timedelta(days=int(getattr(settings, "GRIDLOOP_RECURRENCE_DAYS", 30)))


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Metres between two WGS84 points (equirectangular: exact enough within a city)."""
    dy = (lat2 - lat1) * METERS_PER_DEGREE
    dx = (lng2 - lng1) * METERS_PER_DEGREE * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, dy)


def _near(facts, lat: float, lng: float, radius: float):
    """Restrict a CaseFact queryset to a box around the point (the exact distance is checked after)."""
    dlat = radius / METERS_PER_DEGREE
    dlng = radius / (METERS_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    return facts.filter(lat__range=(lat - dlat, lat + dlat), lng__range=(lng - dlng, lng + dlng))


def recurred(fact: CaseFact) -> bool:
    """Whether a report of the same problem (category, within the radius) came within the window after ``fact``'s
    resolution, from a case not rejected or cancelled."""
    if fact.resolved_at is None or fact.lat is None or not fact.category:
        return False
    radius = _radius()
    later = CaseFact.objects.filter(
        category=fact.category, recurrence_candidate=True,
        reported_at__gt=fact.resolved_at, reported_at__lte=fact.resolved_at + _window(),
    ).exclude(case_id=fact.case_id)
    for lat, lng in _near(later, fact.lat, fact.lng, radius).values_list("lat", "lng"):
        if distance_m(fact.lat, fact.lng, lat, lng) <= radius:
            return True
    return False


def _repeated_by(fact: CaseFact) -> set[int]:
    """Resolved cases that ``fact`` (as the later report) may be a repeat of, whatever its state."""
    if fact.lat is None or not fact.category:
        return set()
    radius = _radius()
    earlier = CaseFact.objects.filter(
        category=fact.category, resolved_at__lt=fact.reported_at, resolved_at__gte=fact.reported_at - _window(),
    ).exclude(case_id=fact.case_id)
    return {
        case_id for case_id, lat, lng in _near(earlier, fact.lat, fact.lng, radius).values_list("case_id", "lat", "lng")
        if distance_m(fact.lat, fact.lng, lat, lng) <= radius
    }


# --- Deltas --------------------------------------------------------------------------------------------------------------
class Deltas:
    """Counter differences per DailyFact key and per SummaryFact key, summed over a batch."""

    def __init__(self):
        self.daily: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.summary: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, attrs: Attrs, items: dict, sign: int) -> None:
        regions = region_keys(attrs.region_code)
        scope = scope_of(attrs.region_code)
        for (day, department, person), counts in items.items():
            daily = self.daily[(day, attrs.region_code, department, attrs.category, attrs.channel)]
            keys = {**regions, "department": str(department or ""), "category": str(attrs.category or ""),
                    "channel": attrs.channel, "person": str(person or "")}
            periods = ((Grain.DAY, day), (Grain.MONTH, month_of(day)))
            targets = [self.summary[(dim, grain, period, keys[dim], scope)]
                       for dim in DIMENSIONS for grain, period in periods]
            for name, value in counts.items():
                value *= sign
                daily[name] += value
                for target in targets:
                    target[name] += value

    def apply(self) -> int:
        rows = 0
        rows += _upsert(DailyFact, ("day", "region_code", "department", "category", "channel"), self.daily)
        rows += _upsert(SummaryFact, ("dim", "grain", "period", "key", "scope"), self.summary)
        return rows


def _upsert(model, key_fields: tuple[str, ...], deltas: dict) -> int:
    """Add each key's counters to its row (made if missing): one multi-row INSERT … ON CONFLICT per chunk."""
    rows = [(key, counts) for key, counts in deltas.items() if any(counts.values())]
    if not rows:
        return 0
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = [*key_fields, *COUNTERS]
    updates = ", ".join(f"{quote(c)} = {table}.{quote(c)} + excluded.{quote(c)}" for c in COUNTERS)
    target = ", ".join(quote(c) for c in key_fields)
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), UPSERT_CHUNK):
            chunk = rows[start:start + UPSERT_CHUNK]
            params = []
            for key, counts in chunk:
                params.extend(key)
                params.extend(counts.get(name, 0) for name in COUNTERS)
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) VALUES "
                f"{', '.join([placeholders] * len(chunk))} ON CONFLICT ({target}) DO UPDATE SET {updates}",
                params,
            )
    return len(rows)


# --- Refresh -------------------------------------------------------------------------------------------------------------
@dataclass
class RollupResult:
    events: int = 0
    cases: int = 0
    changed: int = 0
    rollup_rows: int = 0
    gaps: int = 0


def _stored_items(case_ids) -> dict[int, dict]:
    stored: dict[int, dict] = defaultdict(dict)
    ids = sorted(case_ids)
    for start in range(0, len(ids), 2000):
        for row in FactItem.objects.filter(case_id__in=ids[start:start + 2000]).values("case_id", "day", "department",
                                                                                         "person", *COUNTERS):
            counts = {name: row[name] for name in COUNTERS if row[name]}
            stored[row["case_id"]][(row["day"], row["department"], row["person"])] = counts
    return stored


def _base_fact(case: dict, events: list[dict], now: datetime) -> CaseFact | None:
    reported = next((e for e in events if e["kind"] == EventKind.REPORTED), None)
    if reported is None:
        return None
    return CaseFact(
        case_id=case["id"], seq=case["last_seq"], region_code=case["region_code"], category=case["category_id"] or 0,
        channel=case["channel"], lat=case["lat"], lng=case["lng"], reported_at=reported["occurred_at"],
        resolved_at=resolved_at(case, events), recurrence_candidate=recurrence_candidate(case), computed_at=now,
    )


_BASE_FIELDS = ("seq", "region_code", "category", "channel", "lat", "lng", "reported_at", "resolved_at",
                "recurrence_candidate", "computed_at")
_REPEAT_FIELDS = ("category", "lat", "lng", "reported_at", "recurrence_candidate")


def facts_refresh(case_ids, *, now: datetime | None = None) -> RollupResult:
    """Recompute the facts of these cases (and of the resolved cases whose recurrence they change) and add the
    differences to the rollups. The caller holds the cursor lock (``_cursor``) inside a transaction."""
    now = now or timezone.now()
    result = RollupResult(cases=len(case_ids))
    if not case_ids:
        return result
    loaded = _load(case_ids)
    old_facts = {f.case_id: f for f in CaseFact.objects.filter(case_id__in=list(loaded.cases))}
    new_facts: dict[int, CaseFact] = {}
    neighbours: set[int] = set()
    for case_id, case in loaded.cases.items():
        fact = _base_fact(case, loaded.events[case_id], now)
        if fact is None:
            continue
        new_facts[case_id] = fact
        old = old_facts.get(case_id)
        if old is None or any(getattr(old, f) != getattr(fact, f) for f in _REPEAT_FIELDS):
            neighbours |= _repeated_by(fact)
            if old is not None:
                neighbours |= _repeated_by(old)
    CaseFact.objects.bulk_create(new_facts.values(), update_conflicts=True, unique_fields=["case"],
                                 update_fields=list(_BASE_FIELDS))
    extra = neighbours - set(loaded.cases)
    if extra:
        more = _load(extra)
        loaded.cases.update(more.cases)
        loaded.events.update(more.events)
        loaded.clocks.update(more.clocks)
        old_facts.update((f.case_id, f) for f in CaseFact.objects.filter(case_id__in=list(extra)))
        new_facts.update((f.case_id, f) for f in old_facts.values() if f.case_id in extra)
    departments = _departments()
    stored = _stored_items(loaded.cases)
    deltas = Deltas()
    replaced: list[int] = []
    new_rows: list[FactItem] = []
    for case_id, case in loaded.cases.items():
        fact = new_facts.get(case_id)
        if fact is None:
            continue
        items = case_items(case, loaded.events[case_id], loaded.clocks[case_id], departments=departments,
                           recurred=recurred(fact))
        attrs = case_attrs(case)
        old = old_facts.get(case_id)
        old_attrs = Attrs(old.region_code, old.category, old.channel) if old is not None else None
        before = stored.get(case_id, {})
        if items == before and attrs == old_attrs:
            continue
        result.changed += 1
        if before:
            deltas.add(old_attrs or attrs, before, -1)
            replaced.append(case_id)
        deltas.add(attrs, items, +1)
        new_rows.extend(FactItem(case_id=case_id, day=day, department=department, person=person, **counts)
                        for (day, department, person), counts in items.items())
    for start in range(0, len(replaced), 2000):
        FactItem.objects.filter(case_id__in=replaced[start:start + 2000]).delete()
    FactItem.objects.bulk_create(new_rows, batch_size=1000)
    result.rollup_rows = deltas.apply()
    return result


# --- The sweep ------------------------------------------------------------------------------------------------------------
def _cursor() -> RollupCursor:
    RollupCursor.objects.get_or_create(pk=1)
    return RollupCursor.objects.select_for_update().get(pk=1)


def _gap_seconds() -> float:
    return float(getattr(settings, "GRIDLOOP_ROLLUP_GAP_SECONDS", 600))


def rollups_advance(*, limit: int | None = None, now: datetime | None = None) -> RollupResult:
    """Count the events added since the last run (at most ``limit``, default GRIDLOOP_ROLLUP_BATCH) and the ones
    that were still uncommitted then. Returns what it did; ``events == 0`` means caught up."""
    limit = limit or int(getattr(settings, "GRIDLOOP_ROLLUP_BATCH", 2000))
    now = now or timezone.now()
    horizon = now - timedelta(seconds=_gap_seconds())
    with transaction.atomic():
        cursor = _cursor()
        rows = list(CaseEvent.objects.filter(id__gt=cursor.last_event_id).order_by("id")
                    .values_list("id", "case_id", "occurred_at")[:limit])
        case_ids = {case_id for _id, case_id, _at in rows}
        gaps = {int(event_id): seen for event_id, seen in cursor.gaps}
        if gaps:
            for event_id, case_id in CaseEvent.objects.filter(id__in=list(gaps)).values_list("id", "case_id"):
                case_ids.add(case_id)
                gaps.pop(event_id)
            gaps = {i: seen for i, seen in gaps.items() if datetime.fromisoformat(seen) > horizon}
        expected = cursor.last_event_id + 1
        for event_id, _case_id, occurred_at in rows:
            if event_id > expected and occurred_at > horizon:  # ids skipped just before a recent event
                # Only the ids just below it can belong to transactions still open (a few ids each); a longer run
                # is a sequence jump (rolled-back inserts, a crash) whose lower part can never appear.
                for missing in range(max(expected, event_id - MAX_GAP_RUN), event_id):
                    gaps.setdefault(missing, now.isoformat())
            expected = event_id + 1
        if len(gaps) > MAX_GAPS:
            log.warning("rollups: %s event ids missing; keeping the newest %s", len(gaps), MAX_GAPS)
            gaps = dict(sorted(gaps.items())[-MAX_GAPS:])
        result = facts_refresh(case_ids, now=now)
        result.events = len(rows)
        result.gaps = len(gaps)
        if rows:
            cursor.last_event_id = rows[-1][0]
        cursor.gaps = [[event_id, seen] for event_id, seen in sorted(gaps.items())]
        cursor.updated_at = now
        cursor.save()
    return result


def rollups_catch_up(*, limit: int | None = None, rounds: int = 1000) -> RollupResult:
    """Run the sweep until it finds no new events (at most ``rounds`` batches)."""
    total = RollupResult()
    for _ in range(rounds):
        step = rollups_advance(limit=limit)
        total.events += step.events
        total.cases += step.cases
        total.changed += step.changed
        total.rollup_rows += step.rollup_rows
        total.gaps = step.gaps
        if step.events == 0:
            break
    return total


def rollups_rebuild(*, batch: int = 2000, progress=None) -> RollupResult:
    """Recompute every fact and rollup from the event log and the clocks: empty the tables, then refresh every case
    in batches (each batch under the cursor lock, so the sweep can keep running). The cursor restarts at the newest
    event, with the ids of the last few minutes still missing kept as gaps."""
    now = timezone.now()
    with transaction.atomic():
        cursor = _cursor()
        tables = [m._meta.db_table for m in (FactItem, DailyFact, SummaryFact, CaseFact)]
        with connection.cursor() as sql:
            if connection.vendor == "postgresql":
                # FK checks of rows written earlier in an enclosing transaction must fire before TRUNCATE
                sql.execute("SET CONSTRAINTS ALL IMMEDIATE")
                sql.execute("TRUNCATE " + ", ".join(connection.ops.quote_name(t) for t in tables))
                sql.execute("SET CONSTRAINTS ALL DEFERRED")
            else:
                for table in tables:
                    sql.execute(f"DELETE FROM {connection.ops.quote_name(table)}")
        last = CaseEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        horizon = now - timedelta(seconds=_gap_seconds())
        recent = list(CaseEvent.objects.filter(id__gt=max(0, last - MAX_GAPS)).order_by("id")
                      .values_list("id", "occurred_at"))
        gaps, expected = {}, max(1, last - MAX_GAPS + 1)
        for event_id, occurred_at in recent:
            if event_id > expected and occurred_at > horizon:
                gaps.update((missing, now.isoformat())
                            for missing in range(max(expected, event_id - MAX_GAP_RUN), event_id))
            expected = event_id + 1
        cursor.last_event_id = last
        cursor.gaps = [[event_id, seen] for event_id, seen in sorted(gaps.items())]
        cursor.updated_at = now
        cursor.save()
    total = RollupResult()
    after = 0
    while True:
        ids = list(Case.objects.filter(id__gt=after).order_by("id").values_list("id", flat=True)[:batch])
        if not ids:
            break
        with transaction.atomic():
            _cursor()
            step = facts_refresh(set(ids), now=now)
        total.cases += step.cases
        total.changed += step.changed
        total.rollup_rows += step.rollup_rows
        after = ids[-1]
        if progress:
            progress(total)
    total.gaps = len(gaps)
    return total


