"""Which time limit applies to a stage of a case: ``SlaPolicy`` rows, else the built-in defaults below.

Matching: a row matches when its stage is the stage and each of category / urgency / level is either blank (any) or
equal to the case's. The most specific row wins — a category outranks an urgency, which outranks a level (scored
4 / 2 / 1) — then the higher ``priority``, then the older row.

Built-in defaults (REFERENCE.md §4; every city configures its own rows):

=========  ==============================  ===============================  ============================================
stage      urgent                          normal                           source
=========  ==============================  ===============================  ============================================
accept     0.5 urgent_hour (30 min)        2 work_hour                      太原 立案+派遣 10 / 30 min, loosened per step
dispatch   0.5 urgent_hour (30 min)        2 work_hour                      太原; Beijing 12345 dispatch 1 h emergency
sign       0.5 urgent_hour (30 min)        2 work_hour                      as dispatch (签收 follows 派遣 at once)
handle     category limit, work_hour → urgent_hour      category.handling_limit / limit_unit
verify     1 urgent_hour                   2 work_hour                      太原 核查 1 h (urban) / 2 h (rural)
feedback   2 urgent_hour                   3 natural_day                    Beijing 2 h emergency; 72 h feedback window
=========  ==============================  ===============================  ============================================

Handle: the case category's ``handling_limit`` in its ``limit_unit``; for an urgent case a limit in working hours
counts in wall-clock hours (紧急工作时) instead. A case without a category (not yet accepted) handles in 1 work_day.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from events.models import LimitUnit, Urgency

from .models import SlaPolicy, Stage

STAGES = tuple(Stage.values)


@dataclass(frozen=True)
class Limit:
    amount: Decimal
    unit: str
    source: str  # "policy #12", "default" or "category E0101"


DEFAULTS: dict[str, dict[str, tuple[str, str]]] = {
    # stage: {urgency: (amount, unit)}
    Stage.ACCEPT: {Urgency.URGENT: ("0.5", LimitUnit.URGENT_HOUR), Urgency.NORMAL: ("2", LimitUnit.WORK_HOUR)},
    Stage.DISPATCH: {Urgency.URGENT: ("0.5", LimitUnit.URGENT_HOUR), Urgency.NORMAL: ("2", LimitUnit.WORK_HOUR)},
    Stage.SIGN: {Urgency.URGENT: ("0.5", LimitUnit.URGENT_HOUR), Urgency.NORMAL: ("2", LimitUnit.WORK_HOUR)},
    Stage.VERIFY: {Urgency.URGENT: ("1", LimitUnit.URGENT_HOUR), Urgency.NORMAL: ("2", LimitUnit.WORK_HOUR)},
    Stage.FEEDBACK: {Urgency.URGENT: ("2", LimitUnit.URGENT_HOUR), Urgency.NORMAL: ("3", LimitUnit.NATURAL_DAY)},
}


_policies_cache: dict = {}  # {"rows": (monotonic time read, [SlaPolicy, …])}


def sla_policies_invalidate() -> None:
    """Forget this process's copy of the SLA policies (call it after changing them)."""
    _policies_cache.clear()


def _policies(stage: str) -> list[SlaPolicy]:
    """The stage's SlaPolicy rows, from a per-process copy re-read at most every GRIDLOOP_CONFIG_CHECK_SECONDS."""
    now = time.monotonic()
    entry = _policies_cache.get("rows")
    if entry is None or now - entry[0] >= settings.GRIDLOOP_CONFIG_CHECK_SECONDS:
        entry = (now, list(SlaPolicy.objects.all()))
        _policies_cache["rows"] = entry
    return [row for row in entry[1] if row.stage == stage]


def _specificity(policy: SlaPolicy) -> int:
    return 4 * (policy.category_id is not None) + 2 * bool(policy.urgency) + bool(policy.level)


def policy_match(*, stage: str, category=None, urgency: str = "", level: str = "") -> SlaPolicy | None:
    """The most specific SlaPolicy row for the stage and the case's category, urgency and level, or None."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    category_id = getattr(category, "pk", category)
    rows = [
        row for row in _policies(stage)
        if row.category_id in (None, category_id) and row.urgency in ("", urgency) and row.level in ("", level)
    ]
    if not rows:
        return None
    return min(rows, key=lambda row: (-_specificity(row), -row.priority, row.pk))


def default_limit(*, stage: str, category=None, urgency: str = "") -> Limit:
    """The built-in limit (module docstring) when no SlaPolicy row matches."""
    urgent = urgency == Urgency.URGENT
    if stage == Stage.HANDLE:
        if category is None:
            return Limit(Decimal(1), LimitUnit.WORK_DAY, "default")
        unit = category.limit_unit
        if urgent and unit == LimitUnit.WORK_HOUR:
            unit = LimitUnit.URGENT_HOUR
        return Limit(Decimal(category.handling_limit), unit, f"category {category.code}")
    if stage not in DEFAULTS:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    amount, unit = DEFAULTS[stage][Urgency.URGENT if urgent else Urgency.NORMAL]
    return Limit(Decimal(amount), str(unit), "default")


def limit_for(*, stage: str, category=None, urgency: str = "", level: str = "") -> Limit:
    """The limit for a stage: the best matching SlaPolicy, else the built-in default."""
    row = policy_match(stage=stage, category=category, urgency=urgency, level=level)
    if row is not None:
        return Limit(row.amount, row.unit, f"policy #{row.pk}")
    return default_limit(stage=stage, category=category, urgency=urgency)


def case_limit(case, stage: str) -> Limit:
    """The limit for ``stage`` of this case at its current command level (the supervising one, if any:
    ``Case.top_level``)."""
    return limit_for(stage=stage, category=case.category, urgency=case.urgency, level=case.top_level)
