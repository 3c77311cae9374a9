"""Writes for dispatch."""

import os
import socket

from django.utils import timezone

from events.models import CommandLevel, LimitUnit, Urgency

from .models import Heartbeat


def heartbeat_record(*, name: str = "worker") -> Heartbeat:
    """Record that a worker process ran a beat-scheduled task just now."""
    beat, _ = Heartbeat.objects.update_or_create(
        name=name, defaults={"seen_at": timezone.now(), "detail": {"host": socket.gethostname(), "pid": os.getpid()}}
    )
    return beat


# --- Work calendar overrides (issue 4) -------------------------------------------------------------------------------
def _calendar_day(day):
    from datetime import date, datetime

    if isinstance(day, datetime) or not isinstance(day, date):
        raise ValueError(f"day must be a date, not {type(day).__name__}")
    return day


def calendar_override_set(*, day, is_workday: bool, note: str = ""):
    """Make ``day`` a working day or a day off regardless of chinesecalendar (creates or replaces the override)."""
    from django.db import transaction

    from .models import CalendarOverride
    from .selectors import work_calendar_invalidate

    day = _calendar_day(day)
    with transaction.atomic():
        override, _ = CalendarOverride.objects.update_or_create(
            day=day, defaults={"is_workday": bool(is_workday), "note": note or ""}
        )
        transaction.on_commit(work_calendar_invalidate)
    work_calendar_invalidate()
    return override


def calendar_override_delete(*, day) -> bool:
    """Remove the override for ``day`` (chinesecalendar, or weekends, decide again); False when there was none."""
    from django.db import transaction

    from .models import CalendarOverride
    from .selectors import work_calendar_invalidate

    day = _calendar_day(day)
    with transaction.atomic():
        deleted, _ = CalendarOverride.objects.filter(day=day).delete()
        transaction.on_commit(work_calendar_invalidate)
    work_calendar_invalidate()
    return bool(deleted)


# --- SLA policies (issue 4) ------------------------------------------------------------------------------------------
SLA_POLICY_FIELDS = ("stage", "category", "urgency", "level", "amount", "unit", "priority")
MAX_LIMIT = {"urgent_hour": 8784, "work_hour": 8784, "work_day": 366, "natural_day": 366}  # one (leap) year


def sla_policy_check(values: dict, policy_id: int | None) -> None:
    """Raise InvalidInput (naming the field) for a combination the clocks cannot use, or a duplicate."""
    from decimal import Decimal

    from django.utils.translation import gettext as _

    from config.errors import InvalidInput

    from .models import SlaPolicy, Stage

    for name, choices in (("stage", Stage.values), ("unit", LimitUnit.values)):
        if values.get(name) not in choices:
            raise InvalidInput(_("Give the %(field)s as one of: %(choices)s.")
                               % {"field": name, "choices": ", ".join(choices)}, field=name)
    for name, choices in (("urgency", Urgency.values), ("level", CommandLevel.values)):
        if values.get(name) not in ("", *choices):
            raise InvalidInput(_("Give the %(field)s as one of: %(choices)s, or leave it blank for any.")
                               % {"field": name, "choices": ", ".join(choices)}, field=name)
    amount, unit = values.get("amount"), values["unit"]
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise InvalidInput(_("The time limit (amount) must be a number greater than 0."), field="amount")
    if amount > MAX_LIMIT[unit]:
        raise InvalidInput(_("A time limit of more than %(max)s %(unit)s is longer than a year; give at most "
                             "%(max)s.") % {"max": MAX_LIMIT[unit], "unit": unit}, field="amount")
    if unit == LimitUnit.WORK_DAY and amount != amount.to_integral_value():
        raise InvalidInput(_("Working days are counted whole: give a whole number of work_day, or use work_hour."),
                           field="amount")
    if values["urgency"] == Urgency.URGENT and unit == LimitUnit.WORK_HOUR:
        raise InvalidInput(_("Urgent cases count on the wall clock (紧急工作时): use urgent_hour, not work_hour, for "
                             "an urgent policy."), field="unit")
    category = values.get("category")
    if category is not None and not category.active:
        raise InvalidInput(_("The category %(code)s is no longer in use.") % {"code": category.code},
                           field="category")
    same = SlaPolicy.objects.filter(stage=values["stage"], category=category, urgency=values["urgency"],
                                    level=values["level"]).exclude(pk=policy_id).values_list("pk", flat=True).first()  # type: ignore[misc]  # (pk=None: IS NULL, valid; the stubs want a value)
    if same is not None:
        raise InvalidInput(_("SLA policy %(id)s already sets this stage for the same category, urgency and level: "
                             "change that one instead.") % {"id": same}, field="non_field_errors",
                           extra={"existing_policy": same})


def sla_policy_save(*, values: dict, policy=None):
    """Create an SLA policy (``policy`` None) or change the given fields of one, after checking the whole row
    (InvalidInput naming the field). Clocks already running keep their limit; new clocks use the new one."""
    from decimal import Decimal, InvalidOperation

    from django.db import IntegrityError, transaction
    from django.utils.translation import gettext as _

    from config.errors import InvalidInput

    from .models import SlaPolicy
    from .sla import sla_policies_invalidate

    unknown = set(values) - set(SLA_POLICY_FIELDS)
    if unknown:
        raise ValueError(f"unknown SLA policy fields: {', '.join(sorted(unknown))}")
    current = {"category": None, "urgency": "", "level": "", "priority": 0}
    if policy is not None:
        current = {name: getattr(policy, name) for name in SLA_POLICY_FIELDS}
    merged = {**current, **values}
    merged["urgency"], merged["level"] = merged["urgency"] or "", merged["level"] or ""
    try:
        merged["amount"] = Decimal(str(merged.get("amount")))
    except (InvalidOperation, ValueError):
        raise InvalidInput(_("The time limit (amount) must be a number greater than 0."), field="amount") from None
    with transaction.atomic():
        sla_policy_check(merged, policy.pk if policy is not None else None)
        policy = policy or SlaPolicy()
        for name, value in merged.items():
            setattr(policy, name, value)
        try:
            with transaction.atomic():
                policy.save()
        except IntegrityError:  # the same row written by someone else at this moment (unique constraints)
            sla_policy_check(merged, policy.pk)
            raise
        transaction.on_commit(sla_policies_invalidate)
    sla_policies_invalidate()
    return policy


def sla_policy_delete(*, policy) -> None:
    """Delete an SLA policy: nothing refers to it (each clock keeps its own limit); new clocks fall back to the next
    matching policy or the built-in default."""
    from django.db import transaction

    from .sla import sla_policies_invalidate

    with transaction.atomic():
        policy.delete()
        transaction.on_commit(sla_policies_invalidate)
    sla_policies_invalidate()
