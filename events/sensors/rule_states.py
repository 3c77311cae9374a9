"""The evaluation state of each (device, rule) pair — where its run of breaching readings stands, its open case — locked
by whoever evaluates its readings or writes its alarms (ingestion, alarms → cases), always in id order."""

from dataclasses import dataclass
from datetime import datetime

from django.db import OperationalError, connection

from config import fastpath

from .models import SensorRule, SensorRuleState

DEADLOCK_RETRIES = 3


def is_deadlock(exc: OperationalError) -> bool:
    return getattr(getattr(exc, "__cause__", None), "sqlstate", None) in ("40P01", "40001")


def arrays_in_binary() -> bool:
    """Whether statements here may send arrays in binary (psycopg 3's ``%b``: a third of the time of rendering 7,000
    literals) — on PostgreSQL, unless the performance layer is off (config.fastpath, ``rows.arrays``): then the
    plain statements of the other databases run."""
    return connection.vendor == "postgresql" and fastpath.active("rows.arrays")


def array_cursor(*, binary_rows: bool = False):
    """Django's cursor (its queries logged and seen by execute wrappers like any other), for statements with ``%b``
    parameters (``arrays_in_binary``); with ``binary_rows``, and where parameters are bound on the server
    (DB_SERVER_SIDE_BINDING, the default), rows come back in binary too (no text dates to parse)."""
    cursor = connection.cursor()
    if binary_rows and getattr(connection.features, "uses_server_side_binding", False):
        from psycopg.pq import Format

        cursor.cursor.format = Format.BINARY  # (psycopg 3's cursor under Django's wrapper: the format of its results)
    return cursor


STATE_COLUMNS = ["id", "device_id", "rule_id", "run_start", "run_fired", "last_ts", "last_seq", "case_id",
                 "occurrences", "verify_pending"]


@dataclass(slots=True)
class RuleState:
    """A (device, rule) state as read under its lock, in plain values: a batch touches hundreds of them and a model
    instance costs several times more to make. The few pairs with alarms become model instances (``as_model``)."""

    pk: int
    device_id: int
    rule_id: int
    run_start: datetime | None
    run_fired: bool
    last_ts: datetime | None
    last_seq: int | None
    case_id: int | None
    occurrences: int
    verify_pending: bool
    rule: SensorRule | None = None

    def as_model(self) -> SensorRuleState:
        return SensorRuleState(id=self.pk, device_id=self.device_id, rule=self.rule, run_start=self.run_start,
                               run_fired=self.run_fired, last_ts=self.last_ts, last_seq=self.last_seq,
                               case_id=self.case_id, occurrences=self.occurrences, verify_pending=self.verify_pending)


def lock_states(pairs: list[tuple[int, int]]) -> dict[tuple[int, int], RuleState]:
    """Lock the rule states of (device_pk, rule_pk) pairs, in id order, creating the missing ones."""
    devices, rule_ids = {d for d, _r in pairs}, {r for _d, r in pairs}
    wanted = set(pairs)

    def locked():
        if arrays_in_binary():  # arrays bound in binary, rows read in binary (no text dates to parse)
            with array_cursor(binary_rows=True) as cursor:
                cursor.execute(f"SELECT {', '.join(STATE_COLUMNS)} FROM {SensorRuleState._meta.db_table} "
                               "WHERE device_id = ANY(%b) AND rule_id = ANY(%b) ORDER BY id FOR UPDATE",
                               [sorted(devices), sorted(rule_ids)])
                rows = cursor.fetchall()
        else:
            rows = (SensorRuleState.objects.select_for_update().filter(device_id__in=devices, rule_id__in=rule_ids)
                    .order_by("id").values_list(*STATE_COLUMNS))
        return {(row[1], row[2]): RuleState(*row) for row in rows if (row[1], row[2]) in wanted}

    states = locked()
    if len(states) < len(wanted):
        SensorRuleState.objects.bulk_create(
            [SensorRuleState(device_id=d, rule_id=r) for d, r in sorted(wanted - set(states))], ignore_conflicts=True)
        states = locked()
    return states

