"""Routing: which department a case should go to, and why (read-only; events.services acts on the answer)."""

from dataclasses import dataclass

from django.db.models import Q
from django.utils.translation import gettext as _

from config.compiled import CompiledQuery
from grids.models import Department, DepartmentType, Level

from .models import RoutingRule


@dataclass(frozen=True)
class RouteDecision:
    department: Department | None
    rule_id: int | None
    auto_dispatch: bool
    reason: str

    def as_payload(self) -> dict:
        return {
            "department": self.department.code if self.department else None,
            "rule": self.rule_id,
            "auto_dispatch": self.auto_dispatch,
            "reason": self.reason,
        }


LEVEL_RANK = {Level.STREET: 0, Level.DISTRICT: 1, Level.CITY: 2}


def _specificity(rule: RoutingRule) -> tuple:
    return (len(rule.region.code), rule.category_id is not None, rule.priority, -rule.pk)


# Asked on every accept: compiled once (config.compiled).
_rules_for = CompiledQuery(
    lambda category_id, kind, major_code: RoutingRule.objects.filter(
        Q(category_id=category_id) | Q(category__isnull=True, major_kind=kind, major_code=major_code),
        active=True, department__active=True,
    ).select_related("region", "department__region"),
    int, str, str)
_street_office = CompiledQuery(
    lambda street_id: Department.objects.filter(
        type=DepartmentType.STREET_OFFICE, level=Level.STREET, region_id=street_id, active=True).order_by("pk")[:1],
    int)


def route(case) -> RouteDecision:
    """The department for an accepted case: the most specific active rule (see RoutingRule), else the street office
    of the case's street (属地兜底). A rule whose department is inactive or does not serve the case is skipped."""
    category = case.category
    if category is None:
        return RouteDecision(None, None, False, _("no category yet: no routing rule can apply"))
    rules = [
        rule for rule in _rules_for(category.pk, category.kind, category.major_code)
        if case.region_code.startswith(rule.region.subtree_prefix)
        and case.region_code.startswith(rule.department.region.subtree_prefix)
        and LEVEL_RANK[rule.department.level] >= LEVEL_RANK[case.level]  # an upper center sends work up, not down
    ]
    if rules:
        rule = max(rules, key=_specificity)
        what = category.minor_name if rule.category_id else _("%(name)s (major class)") % {"name": category.major_name}
        reason = _("rule %(rule)s: %(what)s in %(region)s → %(department)s") % {
            "rule": rule.pk, "what": what, "region": rule.region.name, "department": rule.department.name,
        }
        return RouteDecision(rule.department, rule.pk, rule.auto_dispatch, reason)
    if case.level != Level.STREET:
        return RouteDecision(None, None, False, _("no rule matches at the %(level)s level: choose a department")
                             % {"level": case.get_level_display()})
    office = next(iter(_street_office(case.street_id)), None) if case.street_id is not None else None
    if office is None:
        return RouteDecision(None, None, False, _("no rule matches and the street has no active street office"))
    reason = _("no rule matches %(what)s: the street office takes it (属地兜底) → %(department)s") % {
        "what": category.minor_name, "department": office.name,
    }
    return RouteDecision(office, None, False, reason)
