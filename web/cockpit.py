"""The cockpit's panels (驾驶舱): what a supervisor sees for a region and a period, assembled from the evaluation
selectors the metrics API uses — so every number here equals the API's figure for the same filter — with the query
of the case list behind each number, and the ECharts options of the charts (built here, handed over as JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import PermissionDenied
from dispatch.evaluation.indicators import INDICATORS, figure
from dispatch.evaluation.scores import listings, min_sample, ranking_compute, visible_keys
from dispatch.evaluation.selectors import (
    MetricsScope,
    Period,
    counter_series,
    counter_sums,
    escalated_cases,
    indicator_table,
    key_names,
    level_of_region,
    metrics_scope,
    overdue_cases,
    overdue_count,
    period_resolve,
    previous_period,
    region_get,
    supervision_orders_in,
    total_of,
)
from dispatch.models.evaluation import BlackListing
from events.models import Channel
from grids.models import LEVEL_ORDER, Level, Region, Role
from grids.selectors import is_admin, roles_of, scope_prefixes

# The key indicators, in the order shown. 结案率 stands between 重复发生率 and 满意率 (an honest closure rate).
KPIS = ("accepted", "on_time_handling_rate", "overdue", "rework_rate", "first_time_rate", "recurrence_rate",
        "closure_rate", "satisfaction_rate")
RATE_KPIS = tuple(code for code in KPIS if code != "overdue" and INDICATORS[code].kind == "rate")
PANEL_ROWS = 20
PERIOD_KINDS = ("day", "week", "month", "quarter", "year", "range")
CHILD_LEVEL = {Level.CITY: "district", Level.DISTRICT: "street", Level.STREET: "community", Level.COMMUNITY: "grid"}


# --- Where and when ------------------------------------------------------------------------------------------------------
def home_region(user) -> Region | None:
    """The region a supervisor lands on: the first they supervise (an administrator: the first city)."""
    supervised = sorted((a.region for a in roles_of(user) if a.role == Role.SUPERVISOR and a.region is not None),
                        key=lambda r: r.code)
    if supervised and not is_admin(user):
        return supervised[0]
    return Region.objects.defer("boundary").filter(level=Level.CITY).order_by("code").first()


def cockpit_scope(user, region_code: str | None) -> tuple[Region, MetricsScope]:
    """The region shown and the metrics scope; a region outside the supervised area is a PermissionDenied (403)."""
    region = region_get(region_code) if region_code else home_region(user)
    if region is None:
        raise PermissionDenied(_("There is no region to show yet."))
    scope = metrics_scope(user, region=region.code)
    if scope.by_department:
        raise PermissionDenied(_("The cockpit is for the supervisors of a region."))
    return region, scope


def period_kind(params) -> str:
    kind = params.get("kind") or ""
    return kind if kind in PERIOD_KINDS else "month"


def cockpit_period(params) -> Period:
    """``period`` (2026, 2026-Q1, 2026-03, 2026-W10, 2026-03-05) or ``from``/``to``; default: this month to date."""
    return period_resolve(period=params.get("period") or None, first=params.get("from") or None,
                          last=params.get("to") or None)


def breadcrumb(user, region: Region) -> list[Region]:
    """The region's ancestors inside the supervised area, then the region itself."""
    prefixes = None if is_admin(user) else scope_prefixes(user, roles=(Role.SUPERVISOR,))
    chain = []
    node = region
    while node is not None:
        chain.append(node)
        node = Region.objects.defer("boundary").filter(pk=node.parent_id).first() if node.parent_id else None
    chain.reverse()
    if prefixes is None:
        return chain
    return [r for r in chain if any(r.code.startswith(p) for p in prefixes)]


def period_query(period: Period) -> dict:
    return period.as_params()


def cases_url(**params) -> str:
    return reverse("web:cockpit_cases") + "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


# --- Panels --------------------------------------------------------------------------------------------------------------
@dataclass
class Kpi:
    code: str
    label: str
    kind: str
    value: float | int | None
    numerator: float | int | None
    denominator: int | None
    previous: float | int | None
    numerator_url: str
    denominator_url: str
    small_sample: bool

    @property
    def change(self):
        if self.value is None or self.previous is None:
            return None
        return round(self.value - self.previous, 4)

    @property
    def sample(self):
        return self.denominator if self.kind == "rate" else self.value


def _drill(region: Region, period: Period, counter: str, **extra) -> str:
    return cases_url(counter=counter, region=region.code, **period_query(period), **extra)


def kpis(region: Region, scope: MetricsScope, period: Period, previous: Period) -> tuple[list[Kpi], dict]:
    """The key indicators over the period and the previous one, each with its numerator, denominator and sample."""
    level = level_of_region(region)
    codes = [c for c in KPIS if c != "overdue"]
    from dispatch.evaluation.indicators import counters_for

    needed = counters_for(codes)
    now_sums = total_of(counter_sums(group_by=level, period=period, scope=scope, counters=needed))
    before_sums = total_of(counter_sums(group_by=level, period=previous, scope=scope, counters=needed))
    floor = min_sample()
    out = []
    for code in KPIS:
        if code == "overdue":
            count = overdue_count(prefixes=scope.prefixes, period=period)
            before = overdue_count(prefixes=scope.prefixes, period=previous)
            url = cases_url(list="overdue", region=region.code, **period_query(period))
            out.append(Kpi("overdue", _label(_("overdue count"), "超期数"), "count", count, count, None, before, url,
                           "", False))
            continue
        indicator = INDICATORS[code]
        now_figure, before_figure = figure(indicator, now_sums), figure(indicator, before_sums)
        denominator = now_figure["denominator"]
        out.append(Kpi(
            code, _label(str(indicator.title), indicator.label), indicator.kind, now_figure["value"],
            now_figure["numerator"], denominator, before_figure["value"],
            _drill(region, period, indicator.numerator),
            _drill(region, period, indicator.denominator) if indicator.denominator else "",
            indicator.kind == "rate" and (denominator or 0) < floor,
        ))
    return out, now_sums


def _label(title: str, standard: str) -> str:
    """The indicator's name in the page's language, with the standard's Chinese name when that differs."""
    return standard if title == standard else f"{title} ({standard})"


def trend(region: Region, scope: MetricsScope, period: Period) -> dict:
    """Each rate KPI (and 立案数) per day or month of the period: a line chart's options and the table under it."""
    from dispatch.evaluation.indicators import counters_for

    codes = ["accepted", *RATE_KPIS]
    grain, series = counter_series(period=period, scope=scope, counters=counters_for(codes))
    labels = [step.isoformat() if grain == "d" else step.isoformat()[:7] for step, _sums in series]
    lines = {code: [figure(INDICATORS[code], sums)["value"] for _step, sums in series] for code in codes}
    charts = {}
    for code in codes:
        values = lines[code]
        percent = INDICATORS[code].kind == "rate"
        charts[code] = {
            "animation": False, "grid": {"left": 8, "right": 8, "top": 8, "bottom": 8, "containLabel": False},
            "xAxis": {"type": "category", "data": labels, "show": False},
            "yAxis": {"type": "value", "show": False, **({"min": 0, "max": 1} if percent else {"min": 0})},
            "tooltip": {"trigger": "axis"},
            "series": [{"type": "line", "data": values, "showSymbol": False, "connectNulls": False,
                        "lineStyle": {"width": 2}}],
        }
    rows = [[label, *[_shown(lines[code][i], INDICATORS[code].kind) for code in codes]]
            for i, label in enumerate(labels)]
    return {"grain": grain, "codes": codes, "headers": [str(INDICATORS[c].label) for c in codes], "rows": rows,
            "charts": charts}


def _shown(value, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    return f"{value:,}" if isinstance(value, int) else f"{value}"


def children(region: Region, scope: MetricsScope, period: Period, *, user) -> dict | None:
    """One row per child region (districts of a city …): the table behind the map, with the shading values."""
    child = CHILD_LEVEL.get(region.level)
    if child is None:
        return None
    codes = ["reported", "accepted", "closure_rate", "recurrence_rate", "satisfaction_rate"]
    table = indicator_table(user=user, group_by=child, period=period, scope=scope, codes=codes)
    overdue = overdue_count(prefixes=scope.prefixes, period=period,
                            group_length={"district": 6, "street": 9, "community": 12, "grid": 15}[child])
    regions = {r.code: r for r in Region.objects.filter(parent=region).order_by("code")}
    by_key = {row["key"]: row for row in table.rows}
    rows, features = [], []
    for code, sub in regions.items():
        row = by_key.get(code)
        figures = row["indicators"] if row else {c: figure(INDICATORS[c], {}) for c in codes}
        accepted = figures["accepted"]["value"] or 0
        late = overdue.get(code, 0)
        share = round(late / accepted, 4) if accepted else None
        filter_ = {**period_query(period), "region": code}
        rows.append({"code": code, "name": sub.name, "figures": figures, "overdue": late, "overdue_share": share,
                     "reported_url": cases_url(counter="reported", **filter_),
                     "overdue_url": cases_url(list="overdue", **filter_),
                     "open_url": reverse("web:cockpit") + "?" + urlencode({"region": code, **period_query(period)})})
        if sub.boundary:
            features.append({"type": "Feature", "geometry": sub.boundary, "properties": {
                "code": code, "name": sub.name, "density": figures["reported"]["value"] or 0,
                "overdue_share": share, "url": rows[-1]["open_url"]}})
    return {"level": child, "rows": rows, "geojson": {"type": "FeatureCollection", "features": features}}


def leagues(region: Region, scope: MetricsScope, period: Period) -> dict:
    """The departments' and the child regions' league tables (scores, grades A–E, ranks) with their red and yellow
    lists, and the black listings in force for what the scope covers."""
    departments = ranking_compute(object="department", kind="", period=period, scope=scope)
    department_lists = listings(departments.entries)
    for entry in departments.entries:
        entry["listing"] = ("red" if entry["key"] in department_lists["red"] else
                            "yellow" if entry["key"] in department_lists["yellow"] else "")
        filter_ = {**period_query(period), "region": region.code, "department": entry["key"]}
        entry["overdue_url"] = cases_url(list="overdue_now", region=region.code, department=entry["key"])
        entry["due_url"] = cases_url(counter="handle_due", **filter_)
    out = {"departments": departments, "regions": None}
    child = CHILD_LEVEL.get(region.level)
    if child is not None:
        ranking = ranking_compute(object="region", kind=child, period=period, scope=scope)
        lists = listings(ranking.entries)
        for entry in ranking.entries:
            entry["listing"] = ("red" if entry["key"] in lists["red"] else
                                "yellow" if entry["key"] in lists["yellow"] else "")
            entry["due_url"] = cases_url(counter="due", region=entry["key"], **period_query(period))
        out["regions"] = ranking
    black = []
    for row in BlackListing.objects.select_related("rectified_by").order_by("rectified_at", "-month", "key")[:200]:
        visible = visible_keys(row.object, scope)
        if visible is None or row.key in visible:
            black.append(row)
    out["black"] = black
    return out


def channels(region: Region, scope: MetricsScope, period: Period) -> dict:
    """The mix of channels the period's reports came in by: a pie chart and its table, each count drilling down."""
    sums = counter_sums(group_by="channel", period=period, scope=scope, counters=["reported"])
    total = sum(v.get("reported", 0) or 0 for v in sums.values())
    names = key_names("channel", sums)
    rows = []
    for key, values in sorted(sums.items(), key=lambda kv: -(kv[1].get("reported") or 0)):
        count = values.get("reported", 0) or 0
        if not count:
            continue
        rows.append({"key": key, "name": names.get(key, {}).get("name", key), "count": count,
                     "share": round(count / total, 4) if total else None,
                     "url": _drill(region, period, "reported", channel=key)})
    chart = {"animation": False, "tooltip": {"trigger": "item"},
             "series": [{"type": "pie", "radius": ["40%", "70%"], "label": {"formatter": "{b} {d}%"},
                         "data": [{"name": r["name"], "value": r["count"]} for r in rows]}]}
    return {"rows": rows, "total": total, "chart": chart, "labels": dict(Channel.choices)}


def orders(scope: MetricsScope, now) -> dict:
    """The latest 催办/督办 orders of the area with their lights and replies, and the count per light."""
    rows = list(supervision_orders_in(prefixes=scope.prefixes)[:PANEL_ROWS])
    for order in rows:
        order.shown_light = order.light(now)
    open_orders = supervision_orders_in(prefixes=scope.prefixes).filter(replied_at__isnull=True, kind="supervise")
    lights = {"green": 0, "yellow": 0, "red": 0}
    for order in open_orders.select_related(None).only("issued_at", "reply_due", "replied_at")[:5000]:
        light = order.light(now)
        if light in lights:
            lights[light] += 1
    return {"rows": rows, "lights": lights}


def cockpit_panels(*, user, region: Region, scope: MetricsScope, period: Period, now=None) -> dict:
    """Every panel of the cockpit's first screen for one region and period."""
    now = now or timezone.now()
    previous = previous_period(period)
    figures, sums = kpis(region, scope, period, previous)
    overdue = overdue_cases(prefixes=scope.prefixes, now=now)
    overdue_rows = list(overdue[:PANEL_ROWS])
    for case in overdue_rows:
        case.lateness = lateness(case.overdue_since, now)
    escalated = escalated_cases(region=region)
    return {
        "region": region, "period": period, "previous": previous, "kpis": figures, "min_sample": min_sample(),
        "trend": trend(region, scope, period),
        "children": children(region, scope, period, user=user),
        "leagues": leagues(region, scope, period),
        "overdue": {"rows": overdue_rows, "count": overdue_count(prefixes=scope.prefixes, now=now),
                    "url": cases_url(list="overdue_now", region=region.code)},
        "escalated": {"rows": list(escalated[:PANEL_ROWS]), "count": escalated.count(),
                      "url": cases_url(list="escalated", region=region.code)},
        "channels": channels(region, scope, period),
        "orders": orders(scope, now),
        "now": now,
    }


def lateness(since, now) -> str:
    """超期 1 天 3 小时 — how long ago a deadline passed."""
    seconds = max(0, int((now - since).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return _("%(days)d d %(hours)d h overdue") % {"days": days, "hours": hours}
    return _("%(hours)d h %(minutes)d min overdue") % {"hours": hours, "minutes": rest // 60}


def default_reply_due(days: int, now=None):
    now = timezone.localtime(now or timezone.now())
    return (now + timedelta(days=days)).replace(second=0, microsecond=0)


def level_label(region: Region) -> str:
    return str(Level(region.level).label)


def child_level_label(region: Region) -> str:
    child = CHILD_LEVEL.get(region.level)
    return str(Level(child).label) if child else ""


__all__ = ["LEVEL_ORDER", "cockpit_panels", "cockpit_period", "cockpit_scope"]


def quick_periods(today) -> list[tuple[str, str]]:
    """The period selector's shortcuts: today, this week, month, quarter and year, and last month and year."""
    last_month = today.replace(day=1) - timedelta(days=1)
    iso = today.isocalendar()
    return [
        (_("Today"), today.isoformat()),
        (_("This week"), f"{iso.year}-W{iso.week:02d}"),
        (_("This month"), today.isoformat()[:7]),
        (_("Last month"), last_month.isoformat()[:7]),
        (_("This quarter"), f"{today.year}-Q{(today.month - 1) // 3 + 1}"),
        (_("This year"), str(today.year)),
        (_("Last year"), str(today.year - 1)),
    ]
