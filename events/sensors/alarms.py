"""Alarms → cases: an alarm of a (device, rule) becomes an occurrence on its open case's timeline, or opens a case
(``events.services.case_report``, channel ``sensor``); a recovery is recorded there and may ask for an on-site check
(核实). Alarms left pending (those that open a case, or whose batch's case work failed) are processed one pair per
transaction (``alarms_of_pair``, the beat task's ``sensor_alarms_process``)."""

import logging
from datetime import datetime

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from config.compiled import CompiledQuery
from config.errors import DomainError
from config.rows import rows_update_many
from dispatch.outbox import Recipient, dispatchers_of, outbox_enqueue
from events.actors import Actor
from events.models import OPEN_STATES, Case, CaseState, Channel, EventKind, FieldCheck, Urgency, center_code
from events.services import ReportInput, Signal, case_act, case_report, case_signals, cases_lock
from grids.models import Role, User

from .models import (
    AlarmKind,
    AlarmOutcome,
    IngestSource,
    RejectReason,
    SensorAlarm,
    SensorDevice,
    SensorRule,
    SensorRuleState,
)
from .registry import active_rules, device_rows
from .rejects import reject_count
from .rule_states import DEADLOCK_RETRIES, is_deadlock, lock_states

log = logging.getLogger(__name__)

_pending_alarms = CompiledQuery(
    lambda devices, rules_: SensorAlarm.objects.filter(device_id__any=devices, rule_id__any=rules_,
                                                      processed_at__isnull=True).only("device_id", "rule_id")
    .order_by(), list, list)

def _actor(device: SensorDevice) -> Actor:
    return Actor.system(f"sensor:{device.device_id}")


def _open_case(state: SensorRuleState) -> Case | None:
    """The open case of the (device, rule), following merges (a merged case's alarms go to the case it joined);
    every case returned is locked by this transaction."""
    case = state.case
    for _hop in range(10):
        if case is None or case.state in OPEN_STATES:
            break
        if case.state != CaseState.MERGED or case.merged_into_id is None:
            return None
        case = Case.objects.select_for_update(of=("self",), no_key=True).get(pk=case.merged_into_id)
    if case is not None and case.state in OPEN_STATES:
        state.case = case
        return case
    return None


def _alarm_payload(alarm: SensorAlarm, device: SensorDevice, rule: SensorRule) -> dict:
    return {"device": device.device_id, "rule": rule.pk, "metric": rule.metric, "seq": alarm.seq,
            "ts": alarm.ts.isoformat(), "value": alarm.value,
            "since": alarm.since.isoformat() if alarm.since else None}


def _describe(alarm: SensorAlarm, device: SensorDevice, rule: SensorRule) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return _("Sensor %(device)s (%(type)s) raised \"%(rule)s\": %(metric)s = %(value)g at %(ts)s") % {
            "device": device.name or device.device_id, "type": device.get_type_display(), "rule": rule.name,
            "metric": rule.metric, "value": alarm.value,
            "ts": timezone.localtime(alarm.ts).strftime("%Y-%m-%d %H:%M:%S")}


class _Signals:
    """Signals (re-alarms, recoveries) gathered during one pass and written together by case_signals; written out
    before anything else touches a case, so each case's timeline keeps the order of its alarms."""

    def __init__(self, now: datetime):
        self.now = now
        self.pending: list[Signal] = []

    def add(self, case: Case, kind: str, device: SensorDevice, payload: dict) -> None:
        self.pending.append(Signal(case.pk, kind, _actor(device), payload))

    def flush(self) -> None:
        if self.pending:
            events = case_signals(signals=self.pending, now=self.now)
            missing = [s for s, e in zip(self.pending, events, strict=True) if e is None]
            self.pending = []
            if missing:  # cannot happen while the cases are locked by this pass; never silently
                raise RuntimeError(f"signals for cases no longer open: {missing}")


def _on_alarm(alarm: SensorAlarm, state: SensorRuleState, signals: _Signals) -> None:
    device, rule = state.device, state.rule
    case = _open_case(state)
    if case is not None:
        state.occurrences += 1
        signals.add(case, EventKind.SENSOR_ALARM, device, {**_alarm_payload(alarm, device, rule),
                                                   "occurrence": state.occurrences})
        alarm.case, alarm.outcome = case, AlarmOutcome.OCCURRENCE
    else:
        signals.flush()
        data = ReportInput(
            channel=Channel.SENSOR, description=_describe(alarm, device, rule), lat=device.lat, lng=device.lng,
            address=device.address or device.name, category=rule.category, urgency=rule.urgency or Urgency.URGENT,
            raw_payload=_alarm_payload(alarm, device, rule), idempotency_key=f"sensor-alarm:{alarm.pk}",
        )
        with transaction.atomic():  # a savepoint: a report refused (DomainError) leaves nothing behind
            case, _created = case_report(actor=_actor(device), data=data)
        # As it stands in the database: opened by this transaction, or joined under the lock case_report took.
        state.case, state.occurrences = case, 1
        alarm.case, alarm.outcome = case, AlarmOutcome.OPENED
    state.verify_pending = False


_grid_workers_of = CompiledQuery(
    lambda grid: User.objects.filter(is_active=True, roles__role=Role.GRID_WORKER, roles__region_id=grid)
    .distinct().order_by("id"), int)
_case_by_pk = CompiledQuery(lambda pk: Case.objects.filter(pk=pk), int)


def _grid_workers(case: Case) -> list[User]:
    return [] if case.grid_id is None else list(_grid_workers_of(case.grid_id))


def _request_check(case: Case, device: SensorDevice, now: datetime) -> None:
    """Ask for an on-site check after a recovery: a case still awaiting acceptance gets the 核实 request of the
    workflow (request_field_check); in any case the grid workers (else the owning center's dispatchers) get an inbox
    message through the outbox."""
    case = _case_by_pk(case.pk)[0]  # as the recovery just written left it
    event_seq = case.last_seq
    if case.state == CaseState.REPORTED and case.grid_id and case.field_check_status != FieldCheck.REQUESTED:
        case = case_act(case=case.number, action="request_field_check", actor=_actor(device),
                        inputs={"note": f"sensor {device.device_id} back to normal: please check on site"})
    users = _grid_workers(case) or dispatchers_of(center_code(case.region_code, case.level))
    if not users:
        return
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Sensor %(device)s is back to normal: please check case %(number)s on site") % {
            "device": device.name or device.device_id, "number": case.number}
        body = case.address or case.description[:100]
    outbox_enqueue(kind="sensor_check", case=case, event_seq=event_seq, recipients=[Recipient.inbox(u) for u in users],
                   title=title, body=body, payload={"case": case.number, "device": device.device_id}, now=now)


def _on_recovered(alarm: SensorAlarm, state: SensorRuleState, signals: _Signals) -> None:
    device, rule = state.device, state.rule
    case = _open_case(state)
    if case is None:
        alarm.outcome = AlarmOutcome.NO_CASE
        return
    check_due = case.state == CaseState.REPORTED and case.field_check_status == FieldCheck.REQUESTED
    ask = rule.verify_on_recovery and not state.verify_pending and not check_due
    signals.add(case, EventKind.SENSOR_RECOVERED, device, {**_alarm_payload(alarm, device, rule), "check_requested": ask})
    alarm.case, alarm.outcome = case, AlarmOutcome.RECOVERED
    if ask:
        signals.flush()
        try:
            with transaction.atomic():
                _request_check(case, device, signals.now)
        except DomainError as exc:  # the recovery stays recorded; say why no check was asked for
            alarm.detail = f"on-site check not requested: {exc.message}"[:500]
            log.warning("sensor %s: %s", device.device_id, alarm.detail)
        else:
            state.verify_pending = True


ALARM_STATE_FIELDS = ["case", "occurrences", "verify_pending"]
# What turning alarms into case events reads of the cases (_open_case, _on_recovered; signals: events.services).
ALARM_CASE_COLUMNS = ("id", "state", "merged_into_id", "field_check_status")
ALARM_FIELDS = ["processed_at", "outcome", "case", "detail"]


def handle_alarms(states: dict, alarms: list[SensorAlarm], now: datetime, *, open_cases: bool,
                   pending: set[tuple[int, int]] | None = None) -> tuple[dict[str, tuple[int, str]], set[tuple[int, int]]]:
    """Turn alarms into case events in (ts, seq) order. The caller holds the locks of ``states`` (``RuleState``
    keyed by (device_pk, rule_pk), with ``rule`` set) and saves their ALARM_STATE_FIELDS after; the states of the
    pairs with alarms are replaced there by SensorRuleState instances (with device and case). The cases the alarms
    go to are locked here in id order, right after the states, so two batches whose sensors share a case (a joined
    duplicate) wait for each other instead of deadlocking.

    Without ``open_cases`` (a batch's own transaction), an alarm that needs a new case is left pending with the
    rest of its pair's alarms: opening a case takes the day's case-number row and may join another sensor's case,
    locks that the batch must not take after its own (``alarms_of_pair`` does it right after the commit, one pair per
    transaction). The alarms processed get their processed_at, outcome, case and detail, for the caller to write.
    Returns the failures to count and the pairs left pending."""
    devices = device_rows({a.device_id for a in alarms})
    for key in {(a.device_id, a.rule_id) for a in alarms}:
        states[key] = states[key].as_model()
    involved = [states[(a.device_id, a.rule_id)] for a in alarms]
    cases = cases_lock({s.case_id for s in involved if s.case_id}, only=ALARM_CASE_COLUMNS)
    for state in involved:
        state.device = devices[state.device_id]
        state.case = cases.get(state.case_id)
    failures: dict[str, tuple[int, str]] = {}
    deferred: set[tuple[int, int]] = set()
    if not open_cases:  # a pair with alarms still pending from before keeps its order: these wait behind them
        pairs = {(a.device_id, a.rule_id) for a in alarms}
        if pending is None:  # (``pending``: those pairs, as the caller read them with the alarms already recorded)
            pending = {(a.device_id, a.rule_id) for a in _pending_alarms(list({d for d, _r in pairs}),
                                                                        list({r for _d, r in pairs}))}
        deferred = pending & pairs
    signals = _Signals(now)
    for alarm in sorted(alarms, key=lambda a: (a.ts, a.seq, a.pk or 0)):  # (a batch's new alarms: in found order)
        key = (alarm.device_id, alarm.rule_id)
        state = states[key]
        if key in deferred or (not open_cases and alarm.kind == AlarmKind.ALARM and _open_case(state) is None):
            deferred.add(key)
            continue
        try:
            (_on_alarm if alarm.kind == AlarmKind.ALARM else _on_recovered)(alarm, state, signals)
        except DomainError as exc:
            alarm.outcome, alarm.detail = AlarmOutcome.FAILED, exc.message[:500]
            n, _last = failures.get(RejectReason.CASE_FAILED, (0, ""))
            failures[RejectReason.CASE_FAILED] = (n + 1, f"{state.device.device_id} seq {alarm.seq}: {exc.message}")
            log.warning("sensor %s %s seq %s: %s", state.device.device_id, alarm.kind, alarm.seq, exc.message)
        alarm.processed_at = now
    signals.flush()
    return failures, deferred


_pending_alarms_of_pair = CompiledQuery(
    lambda device, rule: SensorAlarm.objects.filter(device_id=device, rule_id=rule, processed_at__isnull=True)
    .order_by(), int, int)


def _rule(pk: int) -> SensorRule:
    """The rule (with its category): the cached copy of an active one (as the batches evaluate with), else read."""
    for rule in (r for by_type in active_rules().values() for r in by_type):
        if rule.pk == pk:
            return rule
    return SensorRule.objects.select_related("category").get(pk=pk)


def alarms_of_pair(device_pk: int, rule_pk: int) -> int:
    """Process the pending alarms of one (device, rule) in a transaction of their own, opening a case if needed.
    Returns how many were processed."""
    for attempt in range(DEADLOCK_RETRIES):
        try:
            with transaction.atomic():
                now = timezone.now()
                states = lock_states([(device_pk, rule_pk)])
                states[(device_pk, rule_pk)].rule = _rule(rule_pk)
                alarms = list(_pending_alarms_of_pair(device_pk, rule_pk))
                if not alarms:
                    return 0
                failures, _ = handle_alarms(states, alarms, now, open_cases=True)
                rows_update_many(alarms, ALARM_FIELDS)
                rows_update_many(list(states.values()), ALARM_STATE_FIELDS, model=SensorRuleState)
                reject_count(source=IngestSource.RULES, counts=failures, now=now)
            return len(alarms)
        except OperationalError as exc:  # two pairs whose sensors share a case, at the same moment
            if not is_deadlock(exc) or attempt == DEADLOCK_RETRIES - 1 or connection.in_atomic_block:
                raise
            log.warning("sensor alarms: %s; trying again", exc)
    return 0


def sensor_alarms_process(*, before: datetime | None = None, limit: int = 200) -> int:
    """Alarms left pending: those that needed a new case (done right after their batch, but its process may have
    died) or whose batch's case work failed. For the (device, rule) pairs with an alarm pending since before
    ``before``, one pair per transaction. Returns how many alarms were processed (the beat task calls it until 0)."""
    pending = SensorAlarm.objects.filter(processed_at__isnull=True)
    if before is not None:
        pending = pending.filter(created_at__lt=before)
    pairs = sorted(set(pending.order_by("created_at").values_list("device_id", "rule_id")[:limit]))
    return sum(alarms_of_pair(device_pk, rule_pk) for device_pk, rule_pk in pairs)

