"""Reject counters of the sensor channel: per day (UTC), source and reason, how many events or requests were turned
away and the last detail — what the admin shows when a sensor's data does not arrive."""

from collections.abc import Mapping
from datetime import UTC, datetime

from django.db import connection
from django.utils import timezone

from config.errors import DomainError

from .models import IngestSource, SensorRejectCount


def reject_count(*, source: str, counts: Mapping[str, tuple[int, str]], now: datetime | None = None) -> None:
    """Add ``{reason: (n, last detail)}`` to today's (UTC) counters, in one upsert per reason."""
    if not counts:
        return
    now = now or timezone.now()
    table = SensorRejectCount._meta.db_table
    sql = (f"INSERT INTO {table} (day, source, reason, count, last_detail, last_at) VALUES (%s, %s, %s, %s, %s, %s) "
           f"ON CONFLICT (day, source, reason) DO UPDATE SET count = {table}.count + excluded.count, "
           "last_detail = excluded.last_detail, last_at = excluded.last_at")
    ops = connection.ops
    day = ops.adapt_datefield_value(now.astimezone(UTC).date())
    at = ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        for reason in sorted(counts):  # a fixed order: concurrent batches never wait on each other in a cycle
            n, detail = counts[reason]
            cursor.execute(sql, [day, source, reason, n, detail[:300], at])


def refuse(error: DomainError, *, reason: str, detail: str = "", source: str = IngestSource.HTTP) -> DomainError:
    """Count a request refused as a whole, and hand back the error to raise."""
    reject_count(source=source, counts={reason: (1, detail or error.message)})
    return error

