"""Indicator definitions: each one a counter, or a ratio of two counters, of the rollups (docs/indicators.md).

A figure carries its numerator and denominator and the counters they come from: the cases behind a number are
``GET /api/v1/metrics/cases/?counter=<counter>`` with the row's filter.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from dispatch.models.evaluation import DURATION_BOUNDS_HOURS, DURATION_BUCKETS


@dataclass(frozen=True)
class Indicator:
    code: str
    label: str  # Chinese name (the standard's wording)
    title: object  # gettext_lazy English source → translated label
    numerator: str  # counter
    denominator: str | None = None  # None: a count
    kind: str = "rate"  # count | rate | hours | p90


COUNT, RATE = "count", "rate"

INDICATORS: dict[str, Indicator] = {i.code: i for i in [
    Indicator("reported", "上报数", _("reports"), "reported", None, COUNT),
    Indicator("valid_report_rate", "有效上报率", _("valid report rate"), "valid", "reported"),
    Indicator("missed_report_rate", "漏报率", _("missed report rate"), "valid_public", "valid"),
    Indicator("accepted", "立案数", _("cases filed"), "accepted", None, COUNT),
    Indicator("on_time_accept_rate", "按时立案率", _("on-time filing rate"), "accepted_on_time", "accepted"),
    Indicator("accurate_accept_rate", "准确立案率", _("accurate filing rate"), "accepted_accurate", "accepted"),
    Indicator("voided", "作废数", _("voided after filing"), "voided", None, COUNT),
    Indicator("dispatched", "派遣数", _("dispatches"), "dispatched", None, COUNT),
    Indicator("on_time_dispatch_rate", "按时派遣率", _("on-time dispatch rate"), "dispatched_on_time", "dispatched"),
    Indicator("accurate_dispatch_rate", "准确派遣率", _("accurate dispatch rate"), "dispatched_accurate",
              "dispatched"),
    Indicator("return_rate", "回退率", _("return rate"), "dispatch_returned", "dispatched"),
    Indicator("handled", "处置数", _("cases handled"), "handled", None, COUNT),
    Indicator("handling_rate", "处置率", _("handling rate"), "handle_done", "handle_due"),
    Indicator("on_time_handling_rate", "按期处置率", _("on-time handling rate"), "handle_on_time", "handle_due"),
    Indicator("rework_rate", "返工率", _("rework rate"), "reworks", "handle_done"),
    Indicator("extension_rate", "延期率", _("extension rate"), "extensions", "handle_due"),
    Indicator("on_time_check_rate", "按时核查率", _("on-time check rate"), "checks_on_time", "checks"),
    Indicator("closed", "结案数", _("cases closed"), "closed", None, COUNT),
    Indicator("closed_self_handled", "自行处置结案数", _("closed as handled on the spot"), "closed_self_handled",
              None, COUNT),
    Indicator("due", "应结案数", _("cases due to close"), "due", None, COUNT),
    Indicator("closure_rate", "结案率", _("closure rate"), "due_closed", "due"),
    Indicator("on_time_closure_rate", "按期结案率", _("on-time closure rate"), "due_closed_on_time", "due"),
    Indicator("late_closure_rate", "超期结案率", _("late closure rate"), "due_closed_late", "due"),
    Indicator("first_time_rate", "一次办结率", _("closed first time"), "first_time", "due_closed"),
    Indicator("satisfaction_rate", "满意率", _("satisfaction rate"), "satisfied", "rated"),
    Indicator("recurrence_rate", "重复发生率", _("recurrence rate"), "recurred", "resolved_located"),
    Indicator("avg_handling_hours", "平均办理时长（小时）", _("average handling time (hours)"), "duration_seconds",
              "duration_count", "hours"),
    Indicator("p90_handling_hours", "办理时长P90（小时）", _("handling time p90 (hours)"), "duration_count",
              "duration_count", "p90"),
    Indicator("escalated", "升级数", _("escalations"), "escalated", None, COUNT),
]}


def figure(indicator: Indicator, sums: dict) -> dict:
    """One indicator's figure from summed counters: value, numerator, denominator and their counters."""
    numerator = sums.get(indicator.numerator, 0) or 0
    out = {"numerator_counter": indicator.numerator}
    if indicator.kind == COUNT:
        out.update(value=numerator, numerator=numerator, denominator=None)
        return out
    denominator = sums.get(indicator.denominator, 0) or 0
    out["denominator_counter"] = indicator.denominator
    if indicator.kind == "hours":
        hours = numerator / 3600
        out.update(numerator=round(hours, 2), denominator=denominator,
                   value=round(hours / denominator, 2) if denominator else None)
        out["numerator_counter"] = "duration_count"  # the cases behind the average
        return out
    if indicator.kind == "p90":
        out.update(numerator=None, denominator=denominator, value=p90_hours(sums), approximate=True)
        return out
    out.update(numerator=numerator, denominator=denominator,
               value=round(numerator / denominator, 4) if denominator else None)
    return out


def p90_hours(sums: dict) -> float | None:
    """The upper bound (hours) of the histogram bucket holding the 90th percentile; None without closures; for the
    open last bucket, its lower bound (more than 720 h)."""
    total = sums.get("duration_count", 0) or 0
    if not total:
        return None
    needed = 0.9 * total
    running = 0
    for index, bucket in enumerate(DURATION_BUCKETS):
        running += sums.get(bucket, 0) or 0
        if running >= needed:
            return float(DURATION_BOUNDS_HOURS[index]) if index < len(DURATION_BOUNDS_HOURS) \
                else float(DURATION_BOUNDS_HOURS[-1])
    return float(DURATION_BOUNDS_HOURS[-1])


def counters_for(codes) -> list[str]:
    """The counters the indicators ``codes`` are computed from."""
    needed = set()
    for code in codes:
        indicator = INDICATORS[code]
        needed.add(indicator.numerator)
        if indicator.denominator:
            needed.add(indicator.denominator)
        if indicator.kind == "p90":
            needed.update(DURATION_BUCKETS)
    return sorted(needed)


def rate(sums: dict, code: str) -> float | None:
    """The value of a ratio indicator (None when its denominator is 0)."""
    return figure(INDICATORS[code], sums)["value"]
