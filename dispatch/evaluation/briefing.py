"""The daily briefing (一日一研商): one region's previous day on one page, stored for later download.

    counts            new (上报), closed (结案), overdue (a stage deadline passed that day with the stage unfinished),
                      escalated (升级), open 督办 orders
    top_categories    the day's most reported categories (5)
    hot_spots         the unit grids with the most reports that day (5)
    worst_streets     the lowest composite scores of the region's streets over the 30 days ending that day (3)
    worst_departments the same for departments with cases in the region
    supervision       督办 orders still unanswered at the end of the day

New, closed and escalated come from the rollups (each with the filter of the cases behind it); overdue and the
orders are read from the stage clocks and the orders themselves (they change without a case event).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import InvalidInput
from dispatch.models import StageClock, SupervisionKind, SupervisionOrder
from dispatch.models.evaluation import Briefing
from grids.models import Level, Region

from .scores import ranking_compute
from .selectors import MetricsScope, Period, counter_sums, key_names, level_of_region, region_get

TOP = 5
WORST = 3
WINDOW_DAYS = 30


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    zone = timezone.get_default_timezone()
    start = timezone.make_aware(datetime.combine(day, time.min), zone)
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min), zone)


def _top(sums: dict, counter: str, dim: str, count: int) -> list[dict]:
    ranked = sorted(((k, v.get(counter, 0)) for k, v in sums.items() if k and v.get(counter, 0)),
                    key=lambda kv: (-kv[1], kv[0]))[:count]
    names = key_names(dim, [k for k, _ in ranked])
    return [{"code": names.get(k, {}).get("code", k), "name": names.get(k, {}).get("name", ""), "count": n}
            for k, n in ranked]


def _worst(object: str, kind: str, period: Period, scope: MetricsScope) -> list[dict]:
    ranking = ranking_compute(object=object, kind=kind, period=period, scope=scope)
    ranked = [e for e in ranking.entries if e["ranked"]]
    return [{"code": e["key"], "name": e["name"], "score": e["score"], "grade": e["grade"], "rank": e["rank"],
             "of": len(ranked), "sample": e["sample"]} for e in reversed(ranked[-WORST:])]


def briefing_compute(*, region: Region, day: date, now: datetime | None = None) -> dict:
    """The briefing of ``day`` for ``region`` as plain data (JSON-ready)."""
    now = now or timezone.now()
    scope = MetricsScope(prefixes=[region.subtree_prefix], region=region)
    period = Period(day, day)
    level = level_of_region(region)
    sums = counter_sums(group_by=level, period=period, scope=scope).get(region.code, {})
    start, end = _day_bounds(day)
    # Overdue = the deadline passed before the report's cut-off (the end of the day, or now for today's report)
    # with the stage unfinished then: a deadline later today is not overdue at 05:25.
    cutoff = min(end, now)
    late = StageClock.objects.filter(
        Q(finished_at__isnull=True) | Q(finished_at__gt=F("deadline")),
        deadline__gte=start, deadline__lt=cutoff, case__region_code__startswith=region.subtree_prefix,
    )
    overdue_cases = sorted(set(late.values_list("case__number", flat=True)))
    orders = (SupervisionOrder.objects.filter(kind=SupervisionKind.SUPERVISE, issued_at__lt=end,
                                              case__region_code__startswith=region.subtree_prefix)
              .exclude(replied_at__lt=end).select_related("case", "department").order_by("reply_due", "id"))
    drill = {"from": day.isoformat(), "to": day.isoformat(), "region": region.code}
    window = Period(day - timedelta(days=WINDOW_DAYS - 1), day)
    worst_streets = (_worst("region", "street", window, scope) if region.level in (Level.CITY, Level.DISTRICT)
                     else [])
    return {
        "region": {"code": region.code, "name": region.name, "level": region.level},
        "day": day.isoformat(),
        "generated_at": now.isoformat(),
        "counts": {
            "new": sums.get("reported", 0), "closed": sums.get("closed", 0), "overdue": len(overdue_cases),
            "escalated": sums.get("escalated", 0), "open_supervision_orders": len(orders),
        },
        "cases": {
            "new": {**drill, "counter": "reported"}, "closed": {**drill, "counter": "closed"},
            "escalated": {**drill, "counter": "escalated"}, "overdue": overdue_cases[:200],
        },
        "top_categories": _top(counter_sums(group_by="category", period=period, scope=scope), "reported",
                               "category", TOP),
        "hot_spots": _top(counter_sums(group_by="grid", period=period, scope=scope), "reported", "grid", TOP),
        "worst_streets": worst_streets,
        "worst_departments": _worst("department", "", window, scope),
        "window": window.as_params(),
        "supervision": [
            {"case": o.case.number, "department": o.department.name if o.department_id else "",
             "type": o.type, "requirement": o.requirement[:200], "issued_at": o.issued_at.isoformat(),
             "reply_due": o.reply_due.isoformat() if o.reply_due else None, "light": o.light(min(now, end))}
            for o in orders[:200]
        ],
    }


def briefing_generate(*, region_code: str, day: date | None = None, now: datetime | None = None) -> Briefing:
    """Compute and store (replacing an earlier one) the briefing of ``day`` (default: yesterday) for a region."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    day = day or today - timedelta(days=1)
    if day > today:
        raise InvalidInput(_("%(day)s has not happened yet") % {"day": day.isoformat()}, field="date")
    region = region_get(region_code)
    data = briefing_compute(region=region, day=day, now=now)
    with transaction.atomic():
        briefing, _created = Briefing.objects.update_or_create(
            region_code=region.code, day=day, defaults={"data": data, "generated_at": now})
    return briefing


def briefings_for_districts(*, day: date | None = None, now: datetime | None = None) -> list[Briefing]:
    """The previous day's briefing of every district (beat, every morning)."""
    return [briefing_generate(region_code=code, day=day, now=now)
            for code in Region.objects.filter(level=Level.DISTRICT).order_by("code").values_list("code", flat=True)]


# --- Rendering ---------------------------------------------------------------------------------------------------------
def briefing_sections(data: dict) -> list[tuple[str, list[str], list[list]]]:
    """The briefing as titled tables (title, header, rows) in the current language: the HTML and XLSX both use it."""
    counts = data["counts"]
    region = data["region"]
    return [
        (_("Summary"), [_("Figure"), _("Value")], [
            [_("Region"), f"{region['name']} ({region['code']})"],
            [_("Day"), data["day"]],
            [_("New cases"), counts["new"]],
            [_("Closed cases"), counts["closed"]],
            [_("Overdue cases"), counts["overdue"]],
            [_("Escalated"), counts["escalated"]],
            [_("Open supervision orders"), counts["open_supervision_orders"]],
        ]),
        (_("Top categories"), [_("Code"), _("Name"), _("Reports")],
         [[r["code"], r["name"], r["count"]] for r in data["top_categories"]]),
        (_("Hot spots"), [_("Code"), _("Name"), _("Reports")],
         [[r["code"], r["name"], r["count"]] for r in data["hot_spots"]]),
        (_("Worst streets (last 30 days)"), [_("Code"), _("Name"), _("Score"), _("Grade"), _("Rank"), _("Sample")],
         [[r["code"], r["name"], r["score"], r["grade"], f"{r['rank']}/{r['of']}", r["sample"]]
          for r in data["worst_streets"]]),
        (_("Worst departments (last 30 days)"),
         [_("Code"), _("Name"), _("Score"), _("Grade"), _("Rank"), _("Sample")],
         [[r["code"], r["name"], r["score"], r["grade"], f"{r['rank']}/{r['of']}", r["sample"]]
          for r in data["worst_departments"]]),
        (_("Open supervision orders"), [_("Case"), _("Department"), _("Type"), _("Reply due"), _("Light"),
                                        _("Requirement")],
         [[o["case"], o["department"], o["type"], o["reply_due"] or "", o["light"], o["requirement"]]
          for o in data["supervision"]]),
    ]


def briefing_html(data: dict) -> str:
    from django.template.loader import render_to_string

    title = _("Daily briefing %(region)s %(day)s") % {"region": data["region"]["name"], "day": data["day"]}
    return render_to_string("dispatch/briefing.html", {"title": title, "sections": briefing_sections(data),
                                                       "data": data})


def briefing_xlsx(data: dict) -> bytes:
    from .exports import xlsx_bytes

    return xlsx_bytes([(title[:31], header, rows) for title, header, rows in briefing_sections(data)])
