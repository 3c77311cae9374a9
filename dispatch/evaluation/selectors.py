"""Reads for evaluation: periods, the caller's metrics scope, indicator tables from the rollups, and the cases behind
a figure.

Which table answers (docs/indicators.md "How a table is computed"):

- ``SummaryFact`` (one dimension × day or month × street) when the scope is whole streets or larger and no
  department / category / channel filter applies: a period is cut into whole months (month rows) and the days
  before and after them (day rows), so a year of a district is about 120 rows whatever the case volume;
- ``DailyFact`` (day × grid × department × category × channel) otherwise — a handler's own department, a filter, or
  an area smaller than a street;
- ``FactItem`` for people (``group_by=person``) combined with a department or a filter.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from config.errors import InvalidInput, PermissionDenied
from dispatch.models.evaluation import COUNTERS, CaseFact, DailyFact, FactItem, Grain, SummaryFact
from events.models import OPEN_STATES, Case, Category, Channel
from grids.models import Department, Level, Region, Role, User
from grids.selectors import is_admin, roles_of, scope_prefixes

from .indicators import INDICATORS, counters_for, figure
from .rollups import DIMENSIONS, REGION_DIMENSIONS, region_keys

GROUPS = DIMENSIONS
MAX_DAYS = 3660
REGION_CODE_LENGTH = {"city": 6, "district": 6, "street": 9, "community": 12, "grid": 15}


# --- Periods -------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def as_params(self) -> dict:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def period_parse(value: str) -> Period:
    """``2026`` (year), ``2026-Q1``, ``2026-03`` (month), ``2026-W10`` (ISO week) or ``2026-03-05`` (day)."""
    text = (value or "").strip()
    try:
        if re.fullmatch(r"\d{4}", text):
            year = int(text)
            return Period(date(year, 1, 1), date(year, 12, 31))
        if match := re.fullmatch(r"(\d{4})-Q([1-4])", text, flags=re.IGNORECASE):
            year, quarter = int(match[1]), int(match[2])
            first = date(year, 3 * quarter - 2, 1)
            return Period(first, month_end(date(year, 3 * quarter, 1)))
        if match := re.fullmatch(r"(\d{4})-(\d{2})", text):
            first = date(int(match[1]), int(match[2]), 1)
            return Period(first, month_end(first))
        if match := re.fullmatch(r"(\d{4})-W(\d{2})", text, flags=re.IGNORECASE):
            first = date.fromisocalendar(int(match[1]), int(match[2]), 1)
            return Period(first, first + timedelta(days=6))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            return Period(day, day)
    except ValueError:
        pass
    raise InvalidInput(
        _("period %(value)r is not a period: use 2026 (year), 2026-Q1, 2026-03 (month), 2026-W10 (ISO week) or "
          "2026-03-05 (day)") % {"value": value}, field="period")


def _date(value, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        day = parse_date(str(value))
    except ValueError:
        day = None
    if day is None:
        raise InvalidInput(_("%(field)s must be a date like 2026-03-01") % {"field": name}, field=name)
    return day


def period_resolve(*, period: str | None = None, first=None, last=None, default: str = "month") -> Period:
    """The period of a request: ``period``, or ``from``/``to`` (dates, inclusive), or by default the current month
    to date (``default="month"``) or the last full month (``default="last_month"``)."""
    if period and (first or last):
        raise InvalidInput(_("give either period or from/to, not both"), field="period")
    if period:
        return period_parse(period)
    today = timezone.localdate()
    if first is None and last is None:
        if default == "last_month":
            end = today.replace(day=1) - timedelta(days=1)
            return Period(end.replace(day=1), end)
        return Period(today.replace(day=1), today)
    start = _date(first, "from") if first is not None else today.replace(day=1)
    end = _date(last, "to") if last is not None else today
    if end < start:
        raise InvalidInput(_("to must be on or after from"), field="to")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput(_("a period may span at most %(n)s days") % {"n": MAX_DAYS}, field="to")
    return Period(start, end)


def segments(period: Period) -> list[tuple[str, date, date]]:
    """The period as whole months (month rows) and the days around them (day rows): [(grain, first, last)]."""
    first_month = period.first if period.first.day == 1 else month_end(period.first) + timedelta(days=1)
    last_month_end = period.last if period.last == month_end(period.last) else period.last.replace(day=1) \
        - timedelta(days=1)
    if first_month > last_month_end:
        return [(Grain.DAY, period.first, period.last)]
    parts: list[tuple[str, date, date]] = []
    if period.first < first_month:
        parts.append((Grain.DAY, period.first, first_month - timedelta(days=1)))
    parts.append((Grain.MONTH, first_month, last_month_end.replace(day=1)))
    if last_month_end < period.last:
        parts.append((Grain.DAY, last_month_end + timedelta(days=1), period.last))
    return parts


# --- Scope ---------------------------------------------------------------------------------------------------------------
@dataclass
class MetricsScope:
    """What the caller may see: ``prefixes`` (region code prefixes; None = everywhere) or, for a department
    handler, ``departments`` (ids) — one or the other."""

    prefixes: list[str] | None = None
    departments: list[int] | None = None
    region: Region | None = None  # the region asked for, if any
    filters: dict = field(default_factory=dict)  # department / category / channel ids the caller filtered on

    @property
    def by_department(self) -> bool:
        return self.departments is not None


def region_get(code: str, *, field: str = "region") -> Region:
    region = Region.objects.defer("boundary").filter(code=code).first()
    if region is None:
        raise InvalidInput(_("no region with code %(code)r") % {"code": code}, field=field)
    return region


def department_get(code: str, *, field: str = "department") -> Department:
    department = Department.objects.filter(code=code).first()
    if department is None:
        raise InvalidInput(_("no department with code %(code)r") % {"code": code}, field=field)
    return department


def metrics_scope(user, *, region: str | None = None, department: str | None = None, category: str | None = None,
                  channel: str | None = None) -> MetricsScope:
    """The caller's scope for metrics. Supervisors: their regions (``region`` must lie inside one); department
    handlers: their own departments (``department`` must be one); admins: everything. Anyone else: 403."""
    admin = is_admin(user)
    supervised = [] if admin else sorted(scope_prefixes(user, roles=(Role.SUPERVISOR,)))
    handled = [a.department for a in roles_of(user) if a.role == Role.HANDLER and a.department is not None]
    if not admin and not supervised and not handled:
        raise PermissionDenied(_("metrics are for supervisors (their region), department handlers (their department) "
                                 "and administrators"))
    scope = MetricsScope()
    wanted_department = department_get(department) if department else None
    if region:
        scope.region = region_get(region)
    if admin:
        scope.prefixes = [scope.region.subtree_prefix] if scope.region else None
    elif not supervised or (wanted_department is not None and wanted_department in handled):
        # As a department handler: the department's own figures, anywhere (a region only narrows them).
        if wanted_department is not None and wanted_department not in handled:
            raise PermissionDenied(_("you may see the metrics of your own department only, not %(code)s")
                                       % {"code": department})
        scope.departments = [d.pk for d in ([wanted_department] if wanted_department else handled)]
        if scope.region is not None:
            scope.prefixes = [scope.region.subtree_prefix]
    else:
        # As a supervisor: the supervised area, or a region inside it.
        if scope.region is not None:
            if not any(scope.region.code.startswith(p) for p in supervised):
                raise PermissionDenied(_("region %(code)s is outside the area you supervise") % {"code": scope.region.code})
            scope.prefixes = [scope.region.subtree_prefix]
        else:
            scope.prefixes = supervised
    if wanted_department is not None:
        scope.filters["department"] = wanted_department.pk
    if category:
        found = Category.objects.filter(code=category).first()
        if found is None:
            raise InvalidInput(_("no category with code %(code)r") % {"code": category}, field="category")
        scope.filters["category"] = found.pk
    if channel:
        if channel not in Channel.values:
            raise InvalidInput(_("channel must be one of %(choices)s") % {"choices": ", ".join(Channel.values)},
                               field="channel")
        scope.filters["channel"] = channel
    return scope


def _prefix_q(prefixes: list[str] | None, column: str) -> Q:
    if prefixes is None:
        return Q()
    q = Q(pk__in=[])
    for prefix in prefixes:
        q |= Q(**{f"{column}__startswith": prefix})
    return q


# --- Indicator tables --------------------------------------------------------------------------------------------------
SUMS = {name: Sum(name) for name in COUNTERS}


def _summary_ok(scope: MetricsScope) -> bool:
    return (not scope.by_department and not scope.filters
            and (scope.prefixes is None or all(len(p) <= 9 for p in scope.prefixes)))


def counter_sums(*, group_by: str, period: Period, scope: MetricsScope,
                 counters: list[str] | tuple[str, ...] | None = None) -> dict[str, dict[str, int]]:
    """Summed counters (all, or ``counters``) per key of ``group_by`` over the period, within the scope (see the
    module docstring)."""
    if group_by not in GROUPS:
        raise InvalidInput(_("group_by must be one of %(choices)s") % {"choices": ", ".join(GROUPS)}, field="group_by")
    sums_of = SUMS if counters is None else {name: Sum(name) for name in counters}
    found: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if _summary_ok(scope):
        when = Q(pk__in=[])
        for grain, first, last in segments(period):
            when |= Q(grain=grain, period__range=(first, last))
        rows: QuerySet[Any, Any] = (SummaryFact.objects.filter(when, _prefix_q(scope.prefixes, "scope"), dim=group_by)
                .values("key").annotate(**sums_of).order_by())
        for row in rows:
            found[row.pop("key")] = row
        return found
    if group_by == "person":
        rows = FactItem.objects.filter(day__range=(period.first, period.last))
        rows = rows.filter(_item_filter_q(scope))
        for row in cast("Iterable[dict[str, Any]]", rows.values("person").annotate(**sums_of).order_by()):
            person = row.pop("person")
            _merge(found[str(person or "")], row)
        return found
    rows = DailyFact.objects.filter(day__range=(period.first, period.last)).filter(
        _prefix_q(scope.prefixes, "region_code"))
    if scope.departments is not None:
        rows = rows.filter(department__in=scope.departments)
    for name in ("department", "category", "channel"):
        if name in scope.filters:
            rows = rows.filter(**{name: scope.filters[name]})
    column = "region_code" if group_by in REGION_DIMENSIONS else group_by
    for row in rows.values(column).annotate(**sums_of).order_by():
        value = row.pop(column)
        key = region_keys(value)[group_by] if group_by in REGION_DIMENSIONS else str(value or "")
        _merge(found[key], row)
    return found


def _item_filter_q(scope: MetricsScope) -> Q:
    q = Q()
    if scope.departments is not None:
        q &= Q(department__in=scope.departments)
    if "department" in scope.filters:
        q &= Q(department=scope.filters["department"])
    facts = CaseFact.objects.filter(_prefix_q(scope.prefixes, "region_code"))
    if "category" in scope.filters:
        facts = facts.filter(category=scope.filters["category"])
    if "channel" in scope.filters:
        facts = facts.filter(channel=scope.filters["channel"])
    if scope.prefixes is not None or "category" in scope.filters or "channel" in scope.filters:
        q &= Q(case_id__in=facts.values("case_id"))
    return q


def _merge(target: dict, row: dict) -> None:
    for name, value in row.items():
        target[name] += value or 0


def total_of(rows: dict[str, dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for sums in rows.values():
        _merge(total, sums)
    return total


def key_names(group_by: str, keys) -> dict[str, dict]:
    """{key: {"code": shown key, "name": name}} for the keys of a dimension (ids become codes)."""
    keys = [k for k in keys if k]
    names: dict[str, dict] = {}
    if group_by in REGION_DIMENSIONS:
        for code, name in Region.objects.filter(code__in=keys).values_list("code", "name"):
            names[code] = {"code": code, "name": name}
    elif group_by == "department":
        for pk, code, name in Department.objects.filter(pk__in=[int(k) for k in keys]).values_list("pk", "code",
                                                                                                  "name"):
            names[str(pk)] = {"code": code, "name": name}
    elif group_by == "category":
        for pk, code, major, minor in Category.objects.filter(pk__in=[int(k) for k in keys]).values_list(
                "pk", "code", "major_name", "minor_name"):
            names[str(pk)] = {"code": code, "name": f"{major}/{minor}"}
    elif group_by == "channel":
        for key in keys:
            names[key] = {"code": key, "name": str(Channel(key).label) if key in Channel.values else key}
    elif group_by == "person":
        for pk, username, display in User.objects.filter(pk__in=[int(k) for k in keys]).values_list(
                "pk", "username", "display_name"):
            names[str(pk)] = {"code": username, "name": display or username}
    return names


def row_filter(group_by: str, key: str, shown: str, period: Period, scope: MetricsScope) -> dict:
    """The query of ``GET /api/v1/metrics/cases/`` (with ``counter=…``) that lists the cases behind a row."""
    params = period.as_params()
    if scope.region is not None:
        params["region"] = scope.region.code
    for name, value in scope.filters.items():
        params[name] = _filter_code(name, value)
    if scope.departments is not None and "department" not in params and len(scope.departments) == 1:
        params["department"] = _filter_code("department", scope.departments[0])
    if group_by in REGION_DIMENSIONS:
        if key:
            params["region"] = key
        else:
            params["unplaced"] = group_by
    elif group_by in ("department", "category", "person"):
        params[group_by] = shown if key else "none"
    else:
        params[group_by] = key
    return params


def _filter_code(name: str, value) -> str:
    if name == "department":
        return Department.objects.filter(pk=value).values_list("code", flat=True).first() or ""
    if name == "category":
        return Category.objects.filter(pk=value).values_list("code", flat=True).first() or ""
    return str(value)


@dataclass
class IndicatorTable:
    group_by: str
    period: Period
    scope: MetricsScope
    rows: list[dict]
    total: dict


def indicator_table(*, user, group_by: str, period: Period, scope: MetricsScope,
                    codes: list[str] | None = None) -> IndicatorTable:
    """Every indicator (or ``codes``) per key of ``group_by``: value, numerator, denominator, and the case-list
    filter of each row. Rows by key; ``total`` sums them all."""
    codes = codes or list(INDICATORS)
    unknown = [code for code in codes if code not in INDICATORS]
    if unknown:
        raise InvalidInput(_("unknown indicator(s) %(codes)s; indicators are: %(choices)s")
                           % {"codes": ", ".join(unknown), "choices": ", ".join(INDICATORS)},
                           field="indicators")
    sums = counter_sums(group_by=group_by, period=period, scope=scope, counters=counters_for(codes))
    names = key_names(group_by, sums)
    rows = []
    for key in sorted(sums, key=lambda k: (k == "", names.get(k, {}).get("code", k))):
        shown = names.get(key, {}).get("code", key)
        rows.append({
            "key": shown, "name": names.get(key, {}).get("name", ""), "counters": dict(sums[key]),
            "filter": row_filter(group_by, key, shown, period, scope),
            "indicators": {code: figure(INDICATORS[code], sums[key]) for code in codes},
        })
    total = total_of(sums)
    base = period.as_params()
    if scope.region is not None:
        base["region"] = scope.region.code
    return IndicatorTable(group_by, period, scope, rows, {
        "counters": dict(total), "filter": base,
        "indicators": {code: figure(INDICATORS[code], total) for code in codes},
    })


# --- The cases behind a figure -----------------------------------------------------------------------------------------
def figure_cases(*, scope: MetricsScope, counter: str, period: Period, region: str | None = None,
                 unplaced: str | None = None, department: str | None = None, category: str | None = None,
                 channel: str | None = None, person: str | None = None) -> QuerySet[Case]:
    """The cases whose facts make up ``counter`` over the period with these row filters, each annotated with
    ``weight`` (its share of the counter: a case dispatched twice weighs 2 in ``dispatched``). Their weights add up
    to the figure. ``"none"`` as department / category / person means "without one"."""
    if counter not in COUNTERS:
        raise InvalidInput(_("counter must be one of %(choices)s") % {"choices": ", ".join(COUNTERS)}, field="counter")
    items = FactItem.objects.filter(day__range=(period.first, period.last), **{f"{counter}__gt": 0})
    items = items.filter(_item_filter_q(scope))
    if department:
        items = items.filter(department=0 if department == "none" else department_get(department).pk)
    if person:
        if person != "none" and not person.isdigit():
            raise InvalidInput(_("person must be a user id or none"), field="person")
        items = items.filter(person=0 if person == "none" else int(person))
    facts = CaseFact.objects.all()
    if region:
        facts = facts.filter(region_code__startswith=region_get(region).subtree_prefix)
    if unplaced:
        if unplaced not in REGION_CODE_LENGTH or unplaced == "city":
            raise InvalidInput(_("unplaced must be district, street, community or grid"), field="unplaced")
        if unplaced == "district":
            facts = facts.filter(region_code__regex=r"^\d{4}00$")
        else:
            facts = facts.exclude(region_code__regex=rf"^\d{{{REGION_CODE_LENGTH[unplaced]},}}$")
    if category:
        if category == "none":
            facts = facts.filter(category=0)
        else:
            found = Category.objects.filter(code=category).first()
            if found is None:
                raise InvalidInput(_("no category with code %(code)r") % {"code": category}, field="category")
            facts = facts.filter(category=found.pk)
    if channel:
        facts = facts.filter(channel=channel)
    if region or unplaced or category or channel:
        items = items.filter(case_id__in=facts.values("case_id"))
    weight = (FactItem.objects.filter(pk__in=items.values("pk"), case_id=OuterRef("pk")).order_by()
              .values("case_id").annotate(total=Sum(counter)).values("total"))
    return (Case.objects.select_related("category", "department", "grid", "street", "district")
            .filter(id__in=items.values("case_id")).annotate(weight=Subquery(weight))
            .order_by("-created_at", "-number"))


def level_of_region(region: Region) -> str:
    names: dict[str, str] = {Level.CITY: "city", Level.DISTRICT: "district", Level.STREET: "street",
                             Level.COMMUNITY: "community", Level.GRID: "grid"}
    return names[region.level]


# --- The cockpit: series, the previous period, overdue and escalated work, orders ----------------------------------------
def previous_period(period: Period) -> Period:
    """The period just before, to compare with: the month / quarter / year before a whole one, else as many days."""
    if period.first.day == 1 and period.last == month_end(period.last):
        months = (period.last.year - period.first.year) * 12 + period.last.month - period.first.month + 1
        index = period.first.year * 12 + period.first.month - 1 - months
        first = date(index // 12, index % 12 + 1, 1)
        last = period.first - timedelta(days=1)
        return Period(first, last)
    return Period(period.first - timedelta(days=period.days), period.first - timedelta(days=1))


def counter_series(*, period: Period, scope: MetricsScope, counters) -> tuple[str, list[tuple[date, dict]]]:
    """The counters summed per day (periods up to 62 days) or per month, over the scope: ``(grain, [(first day,
    sums)])`` with every step of the period present (zeros where nothing happened). Reads SummaryFact like
    ``counter_sums`` (one dimension's rows add up to the whole), else DailyFact."""
    grain = Grain.DAY if period.days <= 62 else Grain.MONTH
    steps: list[date] = []
    step = period.first if grain == Grain.DAY else period.first.replace(day=1)
    while step <= period.last:
        steps.append(step)
        step = step + timedelta(days=1) if grain == Grain.DAY else month_end(step) + timedelta(days=1)
    found: dict[date, dict] = {s: defaultdict(int) for s in steps}
    sums_of = {name: Sum(name) for name in counters}
    rows: Any  # (summary or daily rows, as values() dicts)
    if _summary_ok(scope):
        when = Q(grain=Grain.DAY, period__range=(period.first, period.last))
        if grain == Grain.MONTH:  # whole months from month rows, the cut months' days from day rows
            when = Q(pk__in=[])
            for part, first, last in segments(period):
                when |= Q(grain=part, period__range=(first, last))
        rows = (SummaryFact.objects.filter(when, _prefix_q(scope.prefixes, "scope"), dim="district")
                .values("period").annotate(**sums_of).order_by())
        column = "period"
    else:
        rows = DailyFact.objects.filter(day__range=(period.first, period.last)).filter(
            _prefix_q(scope.prefixes, "region_code"))
        if scope.departments is not None:
            rows = rows.filter(department__in=scope.departments)
        for name in ("department", "category", "channel"):
            if name in scope.filters:
                rows = rows.filter(**{name: scope.filters[name]})
        rows = rows.values("day").annotate(**sums_of).order_by()
        column = "day"
    for row in rows:
        day = row.pop(column)
        _merge(found[day if grain == Grain.DAY else day.replace(day=1)], row)
    return grain, [(s, dict(found[s])) for s in steps]


def _late_q(*, period: Period | None, now) -> Q:
    """The case's stage clocks that ran late: running past the deadline now, or (with a period) whose deadline fell
    in the period and that were unfinished at it."""
    from django.db.models import F

    if period is None:
        return Q(clocks__finished_at__isnull=True, clocks__paused_at__isnull=True, clocks__deadline__lt=now)
    zone = timezone.get_default_timezone()
    start = timezone.make_aware(datetime.combine(period.first, time.min), zone)
    end = min(now, timezone.make_aware(datetime.combine(period.last + timedelta(days=1), time.min), zone))
    return (Q(clocks__finished_at__isnull=True) | Q(clocks__finished_at__gt=F("clocks__deadline"))) & Q(
        clocks__deadline__gte=start, clocks__deadline__lt=end)


def _overdue_base(*, prefixes, department, period, now) -> QuerySet[Case]:
    cases = Case.objects.filter(_prefix_q(prefixes, "region_code"), _late_q(period=period, now=now))
    if period is None:
        cases = cases.filter(state__in=OPEN_STATES)
    if department is not None:
        cases = cases.filter(department_id=department)
    return cases


def overdue_cases(*, prefixes: list[str] | None, department: int | None = None, period: Period | None = None,
                  now=None) -> QuerySet[Case]:
    """Cases with a stage that ran past its deadline, each annotated with ``overdue_since`` (the earliest such
    deadline), most overdue first. Without a period: open work overdue now (an unfinished, running clock past its
    deadline). With a period: the stages whose deadline fell in it and that were unfinished at the deadline (the
    daily briefing's 超期 count, over a period). One join of the late clocks (partial index clock_late_or_open) with
    the area's cases, grouped by case (docs/scaling.md: at 3M cases this join is the first screen's slow part)."""
    from django.db.models import Min

    cases = _overdue_base(prefixes=prefixes, department=department, period=period, now=now or timezone.now())
    return (cases.annotate(overdue_since=Min("clocks__deadline"))
            .select_related("category", "department", "grid", "street", "district")
            .order_by("overdue_since", "number"))


def overdue_count(*, prefixes: list[str] | None, department: int | None = None, period: Period | None = None,
                  now=None, group_length: int | None = None):
    """How many cases ``overdue_cases`` lists; with ``group_length``, {region code prefix of that length: count}."""
    from django.db.models import Count
    from django.db.models.functions import Substr

    cases = _overdue_base(prefixes=prefixes, department=department, period=period, now=now or timezone.now())
    if group_length is None:
        return cases.aggregate(n=Count("id", distinct=True))["n"]
    rows = cases.annotate(c=Substr("region_code", 1, group_length)).values("c").annotate(
        n=Count("id", distinct=True)).order_by()
    return {row["c"]: row["n"] for row in rows}


def escalated_cases(*, region: Region) -> QuerySet[Case]:
    """Open cases escalated to the command level of ``region`` (street, district or city) inside it, latest first."""
    levels: dict[str, str] = {Level.STREET: "street", Level.DISTRICT: "district", Level.CITY: "city"}
    level = levels.get(region.level)
    if level is None:
        return Case.objects.none()
    return (Case.objects.filter(region_code__startswith=region.subtree_prefix, level=level, escalations_count__gt=0,
                                state__in=OPEN_STATES)
            .select_related("category", "department", "grid", "street", "district").order_by("-updated_at", "number"))


def supervision_orders_in(*, prefixes: list[str] | None, department: int | None = None):
    """The 催办 and 督办 orders on the cases of an area (or to one department), newest first."""
    from dispatch.models import SupervisionOrder

    orders = SupervisionOrder.objects.filter(_prefix_q(prefixes, "case__region_code"))
    if department is not None:
        orders = orders.filter(department_id=department)
    return orders.select_related("case", "department", "issued_by", "replied_by").order_by("-issued_at", "-id")
