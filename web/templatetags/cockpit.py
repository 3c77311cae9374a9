"""Template helpers of the cockpit: a figure as shown (rates in %, counts with separators) and its change against
the previous period (a word and an arrow, never colour alone; whether the change is good depends on the indicator)."""

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()

LOWER_IS_BETTER = {"overdue", "rework_rate", "recurrence_rate", "late_closure_rate", "extension_rate", "return_rate"}


@register.filter
def figure(value, kind="count"):
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind in ("hours", "p90"):
        return f"{value:.1f}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


@register.filter
def percent(value):
    return "—" if value is None else f"{value * 100:.1f}%"


@register.simple_tag
def change(value, previous, kind, code):
    """“↑ 2.1 pp vs previous period (better)” — or “no comparison” when either side has no value."""
    if value is None or previous is None:
        return format_html('<span class="change change-none">{}</span>', _("no comparison with the previous period"))
    delta = value - previous
    if abs(delta) < 1e-9:
        return format_html('<span class="change change-same">= {}</span>', _("same as the previous period"))
    up = delta > 0
    better = (not up) if code in LOWER_IS_BETTER else up
    points = _("pp")  # percentage points
    amount = f"{abs(delta) * 100:.1f} {points}" if kind == "rate" else f"{abs(delta):,}"
    return format_html('<span class="change change-{}">{} {} {} ({})</span>', "better" if better else "worse",
                       "↑" if up else "↓", amount, _("vs previous period"), _("better") if better else _("worse"))


@register.filter
def light_word(light):
    return {"green": _("on time"), "yellow": _("due soon"), "red": _("reply late"), "done": _("replied")}.get(
        light, light)
