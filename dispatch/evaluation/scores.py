"""Composite scores (综合指标值), grades A–E, ranks, and the monthly league tables with the 红黄黑榜.

A composite is a weighted mean of rate indicators, as a score out of 100: ``Σ wᵢ·vᵢ / Σ wᵢ × 100`` where vᵢ is the
indicator's value (0–1), or ``1 − value`` for a weight written ``"1-<indicator>"`` (lower is better: 返工率, 延期率
…). A component whose denominator is 0 has no value and leaves the mean (its weight is not counted). Weights come
from ``GRIDLOOP_EVAL_WEIGHTS`` (JSON, per object) over the defaults below; docs/indicators.md lists them with their
sources in REFERENCE.md §5.

Ranking: units whose sample (the denominator that matters most for them, ``SAMPLE``) is below
``GRIDLOOP_EVAL_MIN_SAMPLE`` are shown unranked, so a tiny sample cannot top a list. Equal scores share a rank
(1, 2, 2, 4). Monthly lists: red = the top N ranked, yellow = the bottom N ranked (N = ``GRIDLOOP_EVAL_LIST_SIZE``;
with fewer than 2N ranked units, N = half of them, so no unit is on both). A unit on the yellow list twice within 12
months (this month and any of the 11 before) goes on the black list, to rectify within ``GRIDLOOP_EVAL_RECTIFY_DAYS``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import InvalidInput, PermissionDenied
from dispatch.models.evaluation import BlackListing, EvaluationObject, LeagueEntry, LeagueTable, Listing
from grids.models import Level, Region, Role, RoleAssignment

from .indicators import INDICATORS, counters_for, rate
from .selectors import MetricsScope, Period, counter_sums, key_names, month_end

DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {
    # 成都金牛区 (REFERENCE.md §5): 日常处置率 30 + 按期处置率 20 + (1−返工率) 20 + (1−超期待处置率) 20 + (1−延期率) 10,
    # with 超期结案率 in place of 超期待处置率 (still-open overdue work has no event behind it; see docs/indicators.md).
    "department": {"handling_rate": 30, "on_time_handling_rate": 20, "1-rework_rate": 20, "1-late_closure_rate": 20,
                   "1-extension_rate": 10},
    # Ours (the reference gives none for regions): closure, timeliness, quality and the public's view.
    "region": {"closure_rate": 30, "on_time_closure_rate": 30, "1-rework_rate": 10, "satisfaction_rate": 15,
               "first_time_rate": 15},
    # 监督员: 有效上报率 40 + (1−漏报率) 20 + 按时核实率 20 + 按时核查率 20; 核实 has no clock here, so its 20 go to 按时核查率.
    "grid_worker": {"valid_report_rate": 40, "1-missed_report_rate": 20, "on_time_check_rate": 40},
    # 受理员/派遣员 (ours): timeliness and accuracy of 立案 and 派遣.
    "dispatcher": {"on_time_accept_rate": 25, "accurate_accept_rate": 25, "on_time_dispatch_rate": 25,
                   "accurate_dispatch_rate": 25},
}
SAMPLE = {"department": ("handle_due",), "region": ("due",), "grid_worker": ("reported",),
          "dispatcher": ("accepted", "dispatched")}
GRADES = (("A", 90), ("B", 75), ("C", 60), ("D", 40))
POSITIONS = (Role.GRID_WORKER, Role.DISPATCHER)
REGION_LEVELS = ("district", "street", "community", "grid")
LEAGUE_SPECS = (("department", ""), ("region", "district"), ("region", "street"), ("position", Role.GRID_WORKER),
                ("position", Role.DISPATCHER))


def weights() -> dict[str, dict[str, float]]:
    """The weights in force: GRIDLOOP_EVAL_WEIGHTS (JSON object per weight set) over the defaults."""
    raw = getattr(settings, "GRIDLOOP_EVAL_WEIGHTS", "") or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as error:
            raise ImproperlyConfigured(f"GRIDLOOP_EVAL_WEIGHTS is not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise ImproperlyConfigured("GRIDLOOP_EVAL_WEIGHTS must be a JSON object like {\"department\": {...}}")
    merged = {name: dict(values) for name, values in DEFAULT_WEIGHTS.items()}
    for name, values in raw.items():
        if name not in DEFAULT_WEIGHTS:
            raise ImproperlyConfigured(f"GRIDLOOP_EVAL_WEIGHTS: unknown weight set {name!r}; the sets are "
                                       f"{', '.join(DEFAULT_WEIGHTS)}")
        if not isinstance(values, dict) or not values:
            raise ImproperlyConfigured(f"GRIDLOOP_EVAL_WEIGHTS[{name!r}] must be a non-empty object")
        for component, weight in values.items():
            code = component.removeprefix("1-")
            if code not in INDICATORS or INDICATORS[code].kind != "rate":
                raise ImproperlyConfigured(f"GRIDLOOP_EVAL_WEIGHTS[{name!r}]: {component!r} is not a rate indicator")
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                raise ImproperlyConfigured(f"GRIDLOOP_EVAL_WEIGHTS[{name!r}][{component!r}] must be a number above 0")
        merged[name] = dict(values)
    return merged


def grade(score: float | None) -> str:
    """A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, E below; "" without a score."""
    if score is None:
        return ""
    for letter, floor in GRADES:
        if score >= floor:
            return letter
    return "E"


def composite(values: dict[str, float | None], weight_set: dict[str, float]) -> tuple[float | None, dict]:
    """(score out of 100 or None, components) from indicator values and one weight set."""
    components, total, weighted = {}, 0.0, 0.0
    for component, weight in weight_set.items():
        code = component.removeprefix("1-")
        value = values.get(code)
        points = None
        if value is not None:
            points = (1 - value) if component.startswith("1-") else value
            total += weight
            weighted += weight * points
        components[component] = {"value": value, "weight": weight,
                                  "points": None if points is None else round(points * weight, 4)}
    if not total:
        return None, components
    return round(weighted / total * 100, 2), components


def min_sample() -> int:
    return int(getattr(settings, "GRIDLOOP_EVAL_MIN_SAMPLE", 20))


def list_size() -> int:
    return int(getattr(settings, "GRIDLOOP_EVAL_LIST_SIZE", 3))


# --- Rankings ----------------------------------------------------------------------------------------------------------
@dataclass
class Ranking:
    object: str
    kind: str
    period: Period
    weight_set: str
    weights: dict
    min_sample: int
    entries: list[dict] = field(default_factory=list)


def _weight_set(object: str, kind: str) -> str:
    return kind if object == EvaluationObject.POSITION else object


def ranking_compute(*, object: str, kind: str, period: Period, scope: MetricsScope) -> Ranking:
    """Scores, grades and ranks of every unit of one kind inside the scope over the period."""
    if object not in EvaluationObject.values:
        raise InvalidInput(_("object must be one of %(choices)s") % {"choices": ", ".join(EvaluationObject.values)},
                           field="object")
    if object == EvaluationObject.REGION and kind not in REGION_LEVELS:
        raise InvalidInput(_("level must be one of %(choices)s") % {"choices": ", ".join(REGION_LEVELS)}, field="level")
    if object == EvaluationObject.POSITION and kind not in POSITIONS:
        raise InvalidInput(_("role must be one of %(choices)s") % {"choices": ", ".join(POSITIONS)}, field="role")
    set_name = _weight_set(object, kind)
    weight_set = weights()[set_name]
    group_by = {"department": "department", "region": kind, "position": "person"}[object]
    components = [component.removeprefix("1-") for component in weight_set]
    needed = sorted(set(counters_for(components)) | set(SAMPLE[set_name]))
    sums = counter_sums(group_by=group_by, period=period, scope=scope, counters=needed)
    sums.pop("", None)
    if object == EvaluationObject.POSITION:
        holders = set(RoleAssignment.objects.filter(role=kind).values_list("user_id", flat=True))
        sums = {key: value for key, value in sums.items() if int(key) in holders}
    names = key_names(group_by, sums)
    grid_sums = _worker_grid_sums(sums, period, scope) if kind == Role.GRID_WORKER else {}
    entries = []
    for key, counters in sums.items():
        values = {code.removeprefix("1-"): rate(counters, code.removeprefix("1-")) for code in weight_set}
        if kind == Role.GRID_WORKER:
            values["missed_report_rate"] = rate(grid_sums.get(key, {}), "missed_report_rate")
        score, components = composite(values, weight_set)
        sample = sum(counters.get(name, 0) or 0 for name in SAMPLE[set_name])
        entries.append({
            "key": names.get(key, {}).get("code", key), "id": key, "name": names.get(key, {}).get("name", ""),
            "sample": sample, "score": score, "grade": grade(score), "components": components,
            "ranked": score is not None and sample >= min_sample(), "rank": None,
        })
    _rank(entries)
    return Ranking(object, kind, period, set_name, weight_set, min_sample(), entries)


def _worker_grid_sums(person_sums: dict, period: Period, scope: MetricsScope) -> dict[str, dict]:
    """漏报 for grid workers counts in their grids: per worker, the grid counters of the grids they patrol."""
    grids = counter_sums(group_by="grid", period=period, scope=scope, counters=["valid", "valid_public"])
    found: dict[str, dict] = {}
    rows = RoleAssignment.objects.filter(role=Role.GRID_WORKER, user_id__in=[int(k) for k in person_sums])
    for user_id, code in rows.values_list("user_id", "region__code"):
        target = found.setdefault(str(user_id), {})
        for name, value in grids.get(code, {}).items():
            target[name] = target.get(name, 0) + (value or 0)
    return found


def _rank(entries: list[dict]) -> None:
    entries.sort(key=lambda e: (not e["ranked"], -(e["score"] if e["score"] is not None else -math.inf), e["key"]))
    previous, rank = None, 0
    for position, entry in enumerate(e for e in entries if e["ranked"]):
        if entry["score"] != previous:
            rank, previous = position + 1, entry["score"]
        entry["rank"] = rank


def listings(entries: list[dict]) -> dict[str, list[str]]:
    """Red (top N) and yellow (bottom N) among the ranked entries (ranked order)."""
    ranked = [e for e in entries if e["ranked"]]
    size = min(list_size(), len(ranked) // 2)
    if size <= 0:
        return {"red": [], "yellow": []}
    return {"red": [e["key"] for e in ranked[:size]], "yellow": [e["key"] for e in ranked[-size:]]}


# --- Monthly league tables -----------------------------------------------------------------------------------------------
def _month_start(value) -> date:
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        raise InvalidInput(_("month must be a date"), field="month")
    return value.replace(day=1)


def _shift_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def league_table_compute(*, month: date, object: str, kind: str, city: Region,
                         now: datetime | None = None) -> LeagueTable:
    """Compute and store one month's league table of one kind of unit in a city, with its red and yellow lists, and
    put units yellow-listed twice within 12 months on the black list. Recomputing a month replaces what it stored."""
    now = now or timezone.now()
    month = _month_start(month)
    if city.level != Level.CITY:
        raise InvalidInput(_("%(code)s is not a city") % {"code": city.code}, field="region")
    period = Period(month, month_end(month))
    ranking = ranking_compute(object=object, kind=kind, period=period,
                              scope=MetricsScope(prefixes=[city.subtree_prefix]))
    lists = listings(ranking.entries)
    red, yellow = set(lists["red"]), set(lists["yellow"])
    with transaction.atomic():
        table, _created = LeagueTable.objects.update_or_create(
            month=month, object=object, kind=kind, scope=city.code,
            defaults={"computed_at": now, "settings": {
                "weights": ranking.weights, "min_sample": ranking.min_sample, "list_size": list_size(),
                "rectify_days": rectify_days()}},
        )
        table.entries.all().delete()
        LeagueEntry.objects.bulk_create(
            LeagueEntry(table=table, key=e["key"], name=e["name"][:150], score=e["score"], grade=e["grade"],
                        rank=e["rank"], sample=e["sample"], components=e["components"],
                        listing=Listing.RED if e["key"] in red else Listing.YELLOW if e["key"] in yellow else "")
            for e in ranking.entries
        )
        BlackListing.objects.filter(object=object, kind=kind, scope=city.code, month=month).delete()
        earlier = LeagueEntry.objects.filter(
            table__object=object, table__kind=kind, table__scope=city.code, listing=Listing.YELLOW,
            table__month__gte=_shift_months(month, -11), table__month__lt=month, key__in=yellow,
        ).values_list("key", "table__month")
        before: dict[str, list[date]] = {}
        for key, when in earlier:
            before.setdefault(key, []).append(when)
        names = {e["key"]: e["name"] for e in ranking.entries}
        BlackListing.objects.bulk_create(
            BlackListing(object=object, kind=kind, key=key, name=names[key][:150], scope=city.code, month=month,
                         yellow_months=[m.isoformat()[:7] for m in sorted(months)] + [month.isoformat()[:7]],
                         rectify_by=timezone.localdate(now) + timedelta(days=rectify_days()), listed_at=now)
            for key, months in sorted(before.items())
        )
    return table


def rectify_days() -> int:
    return int(getattr(settings, "GRIDLOOP_EVAL_RECTIFY_DAYS", 30))


def league_tables_compute(*, month: date, now: datetime | None = None) -> list[LeagueTable]:
    """Every league table (departments, districts, streets, grid workers, dispatchers) of every city for a month."""
    tables = []
    for city in Region.objects.filter(level=Level.CITY).defer("boundary").order_by("code"):
        for object, kind in LEAGUE_SPECS:
            tables.append(league_table_compute(month=month, object=object, kind=kind, city=city, now=now))
    return tables


def stored_listings(*, object: str, kind: str, month: date, scope: MetricsScope) -> dict:
    """The stored red/yellow lists of a month and the black listings in force, limited to what the scope covers."""
    entries = LeagueEntry.objects.filter(table__object=object, table__kind=kind, table__month=month).exclude(
        listing="").select_related("table").order_by("rank", "key")
    black = BlackListing.objects.filter(object=object, kind=kind, month__lte=month,
                                        rectify_by__gte=month).order_by("-month", "key")
    visible = visible_keys(object, scope)
    out = {"red": [], "yellow": [], "black": []}
    for entry in entries:
        if visible is None or entry.key in visible:
            out[entry.listing].append({"key": entry.key, "name": entry.name, "rank": entry.rank, "score": entry.score})
    for row in black:
        if visible is None or row.key in visible:
            out["black"].append({"key": row.key, "name": row.name, "month": row.month.isoformat()[:7],
                                 "yellow_months": row.yellow_months, "rectify_by": row.rectify_by.isoformat()})
    return out


def visible_keys(object: str, scope: MetricsScope) -> set[str] | None:
    from grids.models import Department

    if scope.prefixes is None and scope.departments is None:
        return None
    if object == EvaluationObject.DEPARTMENT:
        if scope.departments is not None:
            return set(Department.objects.filter(pk__in=scope.departments).values_list("code", flat=True))
        codes = set()
        for prefix in scope.prefixes:
            codes |= set(Department.objects.filter(region__code__startswith=prefix).values_list("code", flat=True))
        return codes
    if object == EvaluationObject.REGION:
        codes = set()
        for prefix in scope.prefixes or []:
            codes |= set(Region.objects.filter(code__startswith=prefix).values_list("code", flat=True))
        return codes
    from grids.models import User
    users = set()
    for prefix in scope.prefixes or []:
        users |= set(User.objects.filter(roles__region__code__startswith=prefix).values_list("username", flat=True))
    return users


def rankings_for(*, user, object: str, kind: str, period: Period, scope: MetricsScope) -> tuple[Ranking, dict]:
    """Rankings as the caller may see them, with the stored lists of the month when the period is a month.
    A department handler sees their own department's row, ranked among all the departments of its city."""
    if scope.by_department:
        if object != EvaluationObject.DEPARTMENT:
            raise PermissionDenied(_("a department sees its own department's ranking only (object=department)"))
        from grids.models import Department

        own = list(Department.objects.filter(pk__in=scope.departments).select_related("region"))
        cities = sorted({d.region.code[:4] for d in own})
        ranking = ranking_compute(object=object, kind=kind, period=period, scope=MetricsScope(prefixes=cities))
        codes = {d.code for d in own}
        ranking.entries = [e for e in ranking.entries if e["key"] in codes]
    else:
        ranking = ranking_compute(object=object, kind=kind, period=period, scope=scope)
    stored = {"red": [], "yellow": [], "black": []}
    if period.first.day == 1 and period.last == _month_last(period.first):
        stored = stored_listings(object=object, kind=kind, month=period.first, scope=scope)
    return ranking, stored


def _month_last(first: date) -> date:
    return month_end(first)
