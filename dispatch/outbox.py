"""The notification outbox: enqueue in the caller's transaction, relay with retries, park what keeps failing.

    outbox_enqueue(...)            one OutboxMessage row per destination, inside the transaction of the change
    notifications_for_event(...)   the messages a case event means, to the audiences its action names (enqueues them)
    notifications_for_light(...)   the same for a clock light turning yellow (warning) or red (overdue)
    notifications_bulk(...)        the same for many staff events at once (the sweep)
    relay_batch(...)               deliver due rows once: claim, deliver through the channel adapter, record
    outbox_retry(...)              an admin sends parked rows round again

Delivery is at-least-once from the relay and exactly-once at the destination: the relay claims rows for a lease
(``GRIDLOOP_OUTBOX_LEASE_SECONDS``) in a short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so parallel
relays take different rows), delivers without holding locks, then records the result. A relay killed in between
leaves its rows to be claimed again once the lease ends; the inbox adapter makes one item per outbox row (one-to-one)
and the HTTP receivers de-duplicate by the ``X-Gridloop-Message-Id`` header (the outbox id).

Titles and bodies are written in the reader's language when the row is enqueued, whoever caused it: staff notices in
``LANGUAGE_CODE``, a citizen's in their channel's (``citizen_language``).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from config.compiled import CompiledQuery
from config.queries import pk_in
from config.rows import rows_insert_many
from events.models import (
    Audience,
    Case,
    CaseEvent,
    CaseState,
    CommandLevel,
    EventKind,
    InboundReport,
    center_code,
)
from events.workflow import notices_of
from grids.models import Role, User
from grids.selectors import ancestor_codes

from .adapters import ChannelDisabled, DeliveryFailed, adapter_for
from .models import OutboxChannel, OutboxMessage, OutboxState

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 3600


@dataclass(frozen=True)
class Recipient:
    """One destination: a staff user's inbox, or a citizen's WeChat openid / phone number."""

    channel: str
    user: User | None = None
    address: str = ""

    @classmethod
    def inbox(cls, user: User) -> "Recipient":
        return cls(OutboxChannel.INBOX, user=user)

    @property
    def key(self) -> tuple:
        return self.channel, self.user.pk if self.user is not None else None, self.address


def outbox_enqueue(*, kind: str, case: Case | None, event_seq: int | None, recipients: list[Recipient], title: str,
                   body: str = "", payload: dict | None = None, now: datetime | None = None) -> list[OutboxMessage]:
    """Write one pending row per distinct destination. Call it inside the transaction of the change it announces,
    so the message exists exactly when the change does."""
    _in_transaction("outbox_enqueue")
    return OutboxMessage.objects.bulk_create(_rows(kind=kind, case=case, event_seq=event_seq, recipients=recipients,
                                                   title=title, body=body, payload=payload, now=now or timezone.now()))


def _in_transaction(name: str) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"{name} must be called inside the transaction of the change it announces")


def _rows(*, kind: str, case, event_seq: int | None, recipients: list[Recipient], title: str, body: str = "",
          payload: dict | None = None, now: datetime) -> list[OutboxMessage]:
    """One pending row (not saved) per distinct destination. ``case``: a Case, a ``NoticeCase`` or None."""
    rows, seen = [], set()
    of_case = {"case": case} if case is None or isinstance(case, Case) else {"case_id": case.pk}
    for recipient in recipients:
        if recipient.key in seen:
            continue
        seen.add(recipient.key)
        if recipient.channel == OutboxChannel.INBOX and recipient.user is None:
            raise ValueError("an inbox message needs a recipient user")
        if recipient.channel != OutboxChannel.INBOX and not recipient.address:
            raise ValueError(f"a {recipient.channel} message needs a recipient address")
        rows.append(OutboxMessage(
            kind=kind, **of_case, event_seq=event_seq, channel=recipient.channel, recipient_user=recipient.user,
            recipient_address=recipient.address, title=title[:200], body=body, payload=payload or {},
            state=OutboxState.PENDING, next_attempt_at=now, created_at=now,
        ))
    return rows


# --- Who hears about what: each action names its audiences (``Action.notices``, events/workflow.py) ----------------
LIGHT_KINDS = {"yellow": "warning", "red": "overdue"}  # the notices of a clock's light turning (no case event)
LIGHT_AUDIENCES = (Audience.IN_CHARGE,)  # … told to those an urge is
STAFF_AUDIENCES = frozenset({Audience.DISPATCHED_DEPARTMENT, Audience.OWNING_CENTER, Audience.UPPER_CENTER,
                             Audience.IN_CHARGE, Audience.DISSATISFIED})


def audiences_of(kind: str) -> tuple[Audience, ...]:
    """Whom an event (or a light notice) of this kind is announced to."""
    return LIGHT_AUDIENCES if kind in LIGHT_KINDS.values() else notices_of(kind)


# Asked on most transitions (who to tell): compiled once (config.compiled).
_dispatchers_of = CompiledQuery(
    lambda code: User.objects.filter(is_active=True, roles__role=Role.DISPATCHER, roles__region__code=code)
    .distinct().order_by("id"), str)
_handlers_of = CompiledQuery(
    lambda department_code: User.objects.filter(is_active=True, roles__role=Role.HANDLER,
                                                roles__department__code=department_code).distinct().order_by("id"),
    str)


def dispatchers_of(code: str) -> list[User]:
    return _dispatchers_of(code)


def supervisors_over(region_code: str) -> list[User]:
    """Active supervisors whose area covers the region (their region is it or one of its ancestors)."""
    codes = [*ancestor_codes(region_code), region_code]
    return list(User.objects.filter(is_active=True, roles__role=Role.SUPERVISOR, roles__region__code__in=codes)
                .distinct().order_by("id"))


def handlers_of(department_code: str) -> list[User]:
    return _handlers_of(department_code)


def citizen_language(channel: str) -> str:
    """The language a citizen reads on ``channel``: the WeChat bot's (``GRIDLOOP_WECHAT_LANGUAGE``), else the site's."""
    if channel == OutboxChannel.WECHAT:
        return settings.GRIDLOOP_WECHAT_LANGUAGE
    return settings.LANGUAGE_CODE


def citizen_recipients(case: Case) -> list[Recipient]:
    """The citizens who reported the case: WeChat when they came by WeChat (an openid), else SMS to their phone."""
    return _recipients_of(case.reports.all())


def _recipients_of(reports) -> list[Recipient]:
    found, seen = [], set()
    for openid, phone in reports.order_by("id").values_list("citizen_openid", "citizen_phone"):
        if openid:
            recipient = Recipient(OutboxChannel.WECHAT, address=openid)
        elif phone:
            recipient = Recipient(OutboxChannel.SMS, address=phone)
        else:
            continue
        if recipient.key not in seen:
            seen.add(recipient.key)
            found.append(recipient)
    return found


def _department_in_charge(case) -> str:
    return case.department.code if case.department_id else ""


class People:
    """Who works where — ``handlers_of`` and ``dispatchers_of`` with the same answers — each department or center
    looked up once for the lifetime of this object (the sweep keeps one per pass), many at a time with ``preload``."""

    def __init__(self):
        self._handlers: dict[str, list[User]] = {}
        self._dispatchers: dict[str, list[User]] = {}

    @staticmethod
    def _grouped(assignments, key: str, codes: set[str]) -> dict[str, list[User]]:
        found: dict[str, dict[int, User]] = {code: {} for code in codes}
        for assignment in assignments:
            found[getattr(assignment, key).code][assignment.user_id] = assignment.user
        return {code: [users[pk] for pk in sorted(users)] for code, users in found.items()}

    def preload(self, *, departments: set[str] = frozenset(), centers: set[str] = frozenset()) -> None:
        """Look up the handlers of ``departments`` and the dispatchers of ``centers`` not known yet: two queries."""
        from grids.models import RoleAssignment

        departments = set(departments) - set(self._handlers)
        centers = set(centers) - set(self._dispatchers)
        if departments:
            self._handlers.update(self._grouped(RoleAssignment.objects.filter(
                role=Role.HANDLER, user__is_active=True, department__code__in=departments,
            ).select_related("user", "department").only("user", "department__code"), "department", departments))
        if centers:
            self._dispatchers.update(self._grouped(RoleAssignment.objects.filter(
                role=Role.DISPATCHER, user__is_active=True, region__code__in=centers,
            ).select_related("user", "region").only("user", "region__code"), "region", centers))

    def handlers(self, department_code: str) -> list[User]:
        if department_code not in self._handlers:
            self._handlers[department_code] = handlers_of(department_code)
        return self._handlers[department_code]

    def dispatchers(self, code: str) -> list[User]:
        if code not in self._dispatchers:
            self._dispatchers[code] = dispatchers_of(code)
        return self._dispatchers[code]


class _Lookup:
    """The same questions, asked of the database every time (one event at a time)."""

    @staticmethod
    def handlers(department_code: str) -> list[User]:
        return handlers_of(department_code)

    @staticmethod
    def dispatchers(code: str) -> list[User]:
        return dispatchers_of(code)


def _owning_dispatchers(case: Case, event: CaseEvent, people=_Lookup) -> list[User]:
    return people.dispatchers(center_code(case.region_code, event.level or case.level))


def _reason(event) -> str:
    payload = event.payload or {}
    return payload.get("reason") or payload.get("note") or ""


def _summary(case) -> str:
    what = case.category.minor_name if case.category_id else ""
    return " · ".join(part for part in (what, case.address, case.description[:100]) if part)


# Staff audiences: (users, title, body) in the active language, or None when the event tells them nothing.
StaffMessage = tuple[list[User], str, str] | None


def _to_dispatched_department(case: Case, event: CaseEvent, people=_Lookup) -> StaffMessage:
    users = people.handlers((event.payload or {}).get("department") or _department_in_charge(case))
    return users, _("New case %(number)s dispatched: please sign for it") % {"number": case.number}, _summary(case)


def _to_owning_center(case: Case, event: CaseEvent, people=_Lookup) -> StaffMessage:
    return (_owning_dispatchers(case, event, people),
            _("Case %(number)s was returned by the department: please dispatch it again") % {"number": case.number},
            _reason(event))


def _to_upper_center(case: Case, event: CaseEvent, people=_Lookup) -> StaffMessage:
    level = (event.payload or {}).get("to_level") or case.level
    users = people.dispatchers(center_code(case.region_code, level))
    center = {CommandLevel.DISTRICT: _("Case %(number)s was escalated to the district command center"),
              CommandLevel.CITY: _("Case %(number)s was escalated to the city command center")}.get(
                  level, _("Case %(number)s was escalated to the street command center"))
    return users, center % {"number": case.number}, _reason(event)


def _to_in_charge(case: Case, event: CaseEvent, people=_Lookup) -> StaffMessage:
    code = _department_in_charge(case)
    users = people.handlers(code) if code else _owning_dispatchers(case, event, people)
    warning, overdue = LIGHT_KINDS["yellow"], LIGHT_KINDS["red"]
    title = {
        EventKind.URGE: _("Urged: case %(number)s"),
        EventKind.SUPERVISE: _("Supervision order: case %(number)s"),
        warning: _("Warning: case %(number)s is nearly due"),
        overdue: _("Overdue: case %(number)s is past its time limit"),
    }[event.kind] % {"number": case.number}
    return users, title, _reason(event) or _summary(case)


def _to_supervisors_if_dissatisfied(case: Case, event: CaseEvent, people=_Lookup) -> StaffMessage:
    if not case.reopen_review:
        return None
    payload = event.payload or {}
    rating, comment = payload.get("rating"), payload.get("comment") or ""
    return (supervisors_over(case.region_code),
            _("Citizen dissatisfied: case %(number)s rated %(rating)s; decide whether to reopen it")
            % {"number": case.number, "rating": rating}, comment or _summary(case))


_TO_STAFF = {
    Audience.DISPATCHED_DEPARTMENT: _to_dispatched_department,
    Audience.OWNING_CENTER: _to_owning_center,
    Audience.UPPER_CENTER: _to_upper_center,
    Audience.IN_CHARGE: _to_in_charge,
    Audience.DISSATISFIED: _to_supervisors_if_dissatisfied,
}
MERGED_CLOSED = "merged_closed"  # the notice kind of a main case's closure to the reporters merged into it


def _to_reporters(case: Case, event: CaseEvent) -> tuple[str, list[Recipient], str]:
    return event.kind, citizen_recipients(case), _reason(event)


def _to_merged_reporters(case: Case, event: CaseEvent) -> tuple[str, list[Recipient], str]:
    """The main case closed: the citizens whose reports were merged into it (并案), each on their own channel."""
    if case.state != CaseState.CLOSED:
        return MERGED_CLOSED, [], ""
    merged_ids, frontier = [], [case.pk]
    while frontier:  # cases merged into cases merged into this one, too
        frontier = list(Case.objects.filter(merged_into_id__in=frontier).values_list("id", flat=True))
        merged_ids += frontier
    if not merged_ids:
        return MERGED_CLOSED, [], ""
    recipients = _recipients_of(InboundReport.objects.filter(case_id__in=merged_ids))
    mine = set(r.key for r in citizen_recipients(case))
    return MERGED_CLOSED, [r for r in recipients if r.key not in mine], ""  # (its own reporters hear of it anyway)


_TO_CITIZENS = {Audience.REPORTERS: _to_reporters, Audience.MERGED_REPORTERS: _to_merged_reporters}


def _citizen_text(kind: str, number: str, reason: str = "") -> tuple[str, str]:
    """(title, body) of a notice to the citizens who reported case ``number``, in the active language."""
    if kind == EventKind.REJECT:
        return _("Your report (%(number)s) was not accepted") % {"number": number}, reason
    if kind == EventKind.VERIFY:
        return (_("Your report (%(number)s) has been handled") % {"number": number},
                _("Please rate the result (1–5). Thank you for taking part."))
    if kind == EventKind.CLOSE:
        return _("Your report (%(number)s) is closed") % {"number": number}, _("Thank you for taking part.")
    if kind == MERGED_CLOSED:
        return (_("Your report was handled together with case %(number)s, which is now closed") % {"number": number},
                _("Thank you for taking part."))
    raise ValueError(f"no citizen notice for {kind!r}")


def _notice_rows(case, event, people=_Lookup) -> list[OutboxMessage]:
    """The outbox rows (not saved) that announce ``event`` of ``case`` to each audience its kind names, in that
    order: staff in ``LANGUAGE_CODE``, each citizen in their channel's language. ``case`` and ``event`` may be the
    lighter ``NoticeCase`` and ``_NoticeEvent`` (staff audiences only)."""
    rows: list[OutboxMessage] = []
    for audience in audiences_of(event.kind):
        if audience in _TO_STAFF:
            with translation.override(settings.LANGUAGE_CODE):
                found = _TO_STAFF[audience](case, event, people)
            if found is None:
                continue
            users, title, body = found
            if not users:
                log.info("case %s event %s (%s): nobody to notify", case.number, event.seq, event.kind)
                continue
            rows += _rows(kind=event.kind, case=case, event_seq=event.seq, recipients=[Recipient.inbox(u) for u in users],
                          title=title, body=body, payload={"case": case.number, "event": event.kind, "seq": event.seq},
                          now=event.occurred_at)
            continue
        kind, recipients, reason = _TO_CITIZENS[audience](case, event)
        for language in dict.fromkeys(citizen_language(r.channel) for r in recipients):
            with translation.override(language):
                title, body = _citizen_text(kind, case.number, reason)
            rows += _rows(kind=kind, case=case, event_seq=event.seq, title=title, body=body,
                          recipients=[r for r in recipients if citizen_language(r.channel) == language],
                          payload={"case": case.number, "event": kind, "seq": event.seq}, now=event.occurred_at)
    return rows


def notifications_for_event(*, case: Case, event: CaseEvent) -> list[OutboxMessage]:
    """Enqueue the messages that ``event`` of ``case`` means: to the audiences its action names (``Action.notices``
    in events/workflow.py; light notices: ``LIGHT_AUDIENCES``); [] for events that tell nobody.

    dispatch → handlers of the department; return → dispatchers of the owning command center; escalate →
    dispatchers of the new level's center; urge, supervise, warning, overdue → handlers of the department in charge
    (the owning center's dispatchers when none is); feedback of 1–2 (a reopen decision due) → the supervisors over
    the case's area; reject, verify (the request for feedback), close → the citizen; close and feedback → the
    citizens whose reports were merged into the case. Call inside the transaction that appended the event."""
    rows = _notice_rows(case, event)
    if not rows:
        return []
    _in_transaction("notifications_for_event")
    return OutboxMessage.objects.bulk_create(rows)


def notifications_for_light(*, case: Case, light: str, stage: str = "",
                            now: datetime | None = None) -> list[OutboxMessage]:
    """For the clock sweep, which changes lights without a case event: a light turning yellow enqueues a
    ``warning``, red an ``overdue`` notice, to the same people as those events (event_seq stays empty).
    Call inside the sweep's transaction; other lights notify nobody."""
    kind = LIGHT_KINDS.get(light)
    if kind is None:
        return []
    now = now or timezone.now()
    event = CaseEvent(case=case, seq=None, kind=kind, level=case.level, payload={"stage": stage} if stage else {},
                      occurred_at=now)
    return notifications_for_event(case=case, event=event)


@dataclass(frozen=True)
class Notice:
    """One staff event to announce through ``notifications_bulk``: what ``notifications_for_event`` gets as a
    CaseEvent (``seq`` None for a light change, which has no event). ``case`` is a Case with its category and
    department loaded, or the lighter ``NoticeCase``."""

    case: object
    kind: str
    level: str
    payload: dict
    seq: int | None = None


class _Named(NamedTuple):
    code: str = ""
    minor_name: str = ""


class _NoticeEvent(NamedTuple):
    """The fields of an event that its staff notices read (``_notice_rows``)."""

    kind: str
    level: str
    payload: dict
    seq: int | None
    occurred_at: datetime


class NoticeCase(NamedTuple):
    """The fields of a case that its staff notices read (``_notice_rows``), without building a Case."""

    pk: int
    number: str
    address: str
    description: str
    region_code: str
    level: str
    category_id: int | None
    department_id: int | None
    category: _Named
    department: _Named


def notice_cases(case_ids) -> dict[int, NoticeCase]:
    """``NoticeCase`` of each case, by id: one query."""
    rows = Case.objects.filter(pk_in(case_ids)).values_list(
        "pk", "number", "address", "description", "region_code", "level", "category_id", "department_id",
        "category__minor_name", "department__code")
    return {row[0]: NoticeCase(*row[:8], _Named("", row[8] or ""), _Named(row[9] or "", "")) for row in rows}


def _outbox_insert(rows: list[OutboxMessage]) -> None:
    """Insert rows built by ``_notice_rows`` in one statement (config.rows.rows_insert_many)."""
    rows_insert_many(rows)


def notifications_bulk(notices: list[Notice], *, now: datetime, people: People | None = None) -> int:
    """Write the rows ``notifications_for_event`` / ``notifications_for_light`` would write for each notice — the
    same rows, built by the same ``_notice_rows`` — for many at once: the handlers of every department and the
    dispatchers of every center concerned are looked up together (``people`` keeps them for the next call), and the
    rows go in with one statement. For the sweep: staff audiences only (the citizens' messages read each case's reports).
    Call inside the transaction of the change. Returns the number of rows written."""
    _in_transaction("notifications_bulk")
    people = people if people is not None else People()
    departments, centers = set(), set()
    for notice in notices:
        audiences = audiences_of(notice.kind)
        if not audiences or not STAFF_AUDIENCES.issuperset(audiences):
            raise ValueError(f"notifications_bulk writes staff notices only, not {notice.kind!r}")
        case = notice.case
        if case.department_id:
            departments.add(case.department.code)
        for level in {notice.level, case.level, (notice.payload or {}).get("to_level")} - {None, ""}:
            centers.add(center_code(case.region_code, level))
    people.preload(departments=departments, centers=centers)
    rows: list[OutboxMessage] = []
    for notice in notices:
        event = _NoticeEvent(kind=notice.kind, level=notice.level, payload=notice.payload, seq=notice.seq,
                             occurred_at=now)
        rows += _notice_rows(notice.case, event, people)
    _outbox_insert(rows)
    return len(rows)


# --- Relay ------------------------------------------------------------------------------------------------------------
@dataclass
class RelayResult:
    claimed: int = 0
    delivered: int = 0
    failed: int = 0
    parked: int = 0


def retry_delay(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: 30 s, 60 s, 120 s … capped at one hour."""
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_CAP_SECONDS))


def _claim(limit: int, now: datetime) -> list[OutboxMessage]:
    lease = timedelta(seconds=settings.GRIDLOOP_OUTBOX_LEASE_SECONDS)
    with transaction.atomic():
        due = OutboxMessage.objects.filter(state=OutboxState.PENDING, next_attempt_at__lte=now)
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True)
        else:
            due = due.select_for_update()
        rows = list(due.order_by("next_attempt_at", "id")[:limit])
        if rows:  # leased: no other relay takes them until the lease ends
            OutboxMessage.objects.filter(pk__in=[row.pk for row in rows]).update(next_attempt_at=now + lease)
    return rows


def _record_failure(row: OutboxMessage, error: str, now: datetime, *, park: bool = False) -> str:
    attempts = row.attempts + 1
    park = park or attempts >= settings.GRIDLOOP_OUTBOX_MAX_ATTEMPTS
    state = OutboxState.PARKED if park else OutboxState.PENDING
    OutboxMessage.objects.filter(pk=row.pk, state=OutboxState.PENDING).update(
        state=state, attempts=attempts, last_error=error[:2000],
        next_attempt_at=now if park else now + retry_delay(attempts),
    )
    if park:
        log.warning("outbox %s parked after %s attempts: %s", row.pk, attempts, error)
    return state


def _mark_delivered(row: OutboxMessage, now: datetime) -> None:
    OutboxMessage.objects.filter(pk=row.pk, state=OutboxState.PENDING).update(
        state=OutboxState.DELIVERED, delivered_at=now)


def _deliver(row: OutboxMessage, now: datetime) -> None:
    adapter = adapter_for(row.channel)
    if row.channel == OutboxChannel.INBOX:  # a database write: the item and the delivery commit together
        with transaction.atomic():
            adapter.deliver(row)
            _mark_delivered(row, now)
    else:
        adapter.deliver(row)
        _mark_delivered(row, now)


def _renew_lease(rows: list[OutboxMessage], now: datetime) -> None:
    """Extend the lease of the rows this relay still holds (those not yet delivered, failed or parked)."""
    lease = timedelta(seconds=settings.GRIDLOOP_OUTBOX_LEASE_SECONDS)
    OutboxMessage.objects.filter(pk__in=[r.pk for r in rows], state=OutboxState.PENDING).update(
        next_attempt_at=now + lease)


def relay_batch(limit: int = 100, now: datetime | None = None) -> RelayResult:
    """Deliver up to ``limit`` due messages once. Failures wait ``retry_delay`` and are parked after
    ``GRIDLOOP_OUTBOX_MAX_ATTEMPTS``; a disabled channel parks at once.

    The rows are leased for ``GRIDLOOP_OUTBOX_LEASE_SECONDS`` (30 s) and the lease of the rows still to send is renewed
    every third of it while the batch runs, so a relay that dies (SIGKILL, a lost machine) leaves its rows to the next
    one within one lease, never in the middle of a live relay's batch."""
    clock = (lambda: now) if now is not None else timezone.now
    rows = _claim(limit, clock())
    result = RelayResult(claimed=len(rows))
    renew_every = timedelta(seconds=settings.GRIDLOOP_OUTBOX_LEASE_SECONDS / 3)
    renewed = clock()
    for index, row in enumerate(rows):
        if clock() - renewed >= renew_every:
            renewed = clock()
            _renew_lease(rows[index:], renewed)
        try:
            _deliver(row, clock())
        except ChannelDisabled as exc:
            _record_failure(row, str(exc), clock(), park=True)
            result.parked += 1
        except DeliveryFailed as exc:
            state = _record_failure(row, str(exc), clock())
            result.parked += state == OutboxState.PARKED
            result.failed += state == OutboxState.PENDING
        except Exception as exc:  # a bug in one message must not stop the others
            log.exception("outbox %s: unexpected error while delivering", row.pk)
            state = _record_failure(row, f"{type(exc).__name__}: {exc}", clock())
            result.parked += state == OutboxState.PARKED
            result.failed += state == OutboxState.PENDING
        else:
            result.delivered += 1
    return result


def relay_pending(*, limit: int = 100, max_batches: int = 10) -> RelayResult:
    """Run batches while they come back full (up to ``max_batches``): what the beat-scheduled task calls."""
    total = RelayResult()
    for _batch in range(max_batches):
        batch = relay_batch(limit=limit)
        for field in ("claimed", "delivered", "failed", "parked"):
            setattr(total, field, getattr(total, field) + getattr(batch, field))
        if batch.claimed < limit:
            break
    return total


def outbox_retry(*, ids: list[int], now: datetime | None = None) -> int:
    """Send parked (or waiting) messages round again now, with a fresh attempt count. Returns how many."""
    return OutboxMessage.objects.filter(pk__in=ids).exclude(state=OutboxState.DELIVERED).update(
        state=OutboxState.PENDING, attempts=0, next_attempt_at=now or timezone.now())
