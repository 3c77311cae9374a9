"""Reads for the sensor channel: devices within a user's area, and the reject counters."""

from datetime import date

from django.db.models import Q, QuerySet, Sum

from grids.selectors import departments_of, is_admin, region_scope_q

from .models import SensorDevice, SensorRejectCount


def devices_visible_to(user, *, filters: dict | None = None) -> QuerySet[SensorDevice]:
    """Sensors in the user's area scope (by their unit grid) or owned by one of the user's departments; filters:
    ``type``, ``active``, ``region`` (code prefix, ANDed with the scope)."""
    filters = filters or {}
    devices = SensorDevice.objects.select_related("grid", "department").defer("grid__boundary")
    if not is_admin(user):
        scope = region_scope_q(user, field="region_code")
        departments = [d.pk for d in departments_of(user)]
        if departments:
            scope |= Q(department_id__in=departments)
        devices = devices.filter(scope)
    if filters.get("type"):
        devices = devices.filter(type=filters["type"])
    if filters.get("active") is not None:
        devices = devices.filter(active=filters["active"])
    if filters.get("region"):
        devices = devices.filter(region_code__startswith=filters["region"])
    return devices.order_by("device_id")


def reject_totals(*, since: date, until: date | None = None) -> list[dict]:
    """Per source and reason: how many events (or requests) were turned away from ``since`` to ``until`` (UTC days,
    inclusive), with the most recent detail. For administrators (the caller checks)."""
    rows = SensorRejectCount.objects.filter(day__gte=since)
    if until is not None:
        rows = rows.filter(day__lte=until)
    totals = {(r["source"], r["reason"]): r for r in rows.values("source", "reason").annotate(total=Sum("count"))}
    latest = {}
    for row in rows.order_by("last_at"):
        latest[(row.source, row.reason)] = row
    return [
        {"source": source, "reason": reason, "count": totals[(source, reason)]["total"],
         "last_detail": latest[(source, reason)].last_detail, "last_at": latest[(source, reason)].last_at}
        for source, reason in sorted(totals)
    ]
