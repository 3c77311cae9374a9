"""Writes for the events app: categories, case intake (受理), the one case transition function ``case_act``, the
timeline-only events (signals, further reports, inquiries) and contact-detail views. Events are appended through
``events.log``; the clocks, notices, routing and supervision orders of a change are dispatch's, called through
``events.hooks``."""
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from config.compiled import CompiledQuery
from config.csv_rows import csv_rows
from config.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unprocessable
from config.rows import row_insert, row_update, rows_insert, rows_insert_many, rows_update_many
from grids.models import Department, DepartmentType, Level, Region, Role, User
from grids.selectors import ancestor_codes, covers, locate, roles_of

from .access import Acting, acting, capacities, may_see_contact
from .actors import Actor, citizen_key
from .duplicates import Candidate, distance_m, duplicate_candidates, nearby_lock_keys
from .hooks import (
    clocks_for_new_case,
    clocks_on_transition,
    notifications_for_event,
    route,
    supervision_order_create,
)
from .log import NEXT_LEVEL, case_level_up, escalation_apply, event_append, event_row
from .models import (
    KIND_LETTER,
    OPEN_STATES,
    ActorKind,
    Attachment,
    AttachmentKind,
    Case,
    CaseEvent,
    CaseNumberSequence,
    CaseState,
    Category,
    CategoryKind,
    Channel,
    ClockEffect,
    CloseReason,
    CommandLevel,
    ContactView,
    EscalationPolicy,
    EventKind,
    FieldCheck,
    InboundReport,
    LimitUnit,
    Urgency,
)
from .photos import Photo, photos_check
from .selectors import with_related
from .workflow import ACTIONS, Action

CATEGORY_COLUMNS = [
    "kind", "major_code", "major_name", "minor_code", "minor_name",
    "default_urgency", "handling_limit", "limit_unit", "department_type",
]
DEFAULT_CATEGORIES_CSV = Path(__file__).resolve().parent / "data" / "categories.csv"


class CategoryLoadError(InvalidInput):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("categories not loaded, nothing was written:\n" + "\n".join(problems))


@dataclass(frozen=True)
class CategoryLoadSummary:
    created: int
    updated: int


def _check_row(line: int, row: dict, problems: list[str]) -> dict | None:
    before = len(problems)

    def bad(field, why):
        problems.append(f"line {line}, field {field}: {why} (got {row.get(field)!r})")

    values = {key: (row.get(key) or "").strip() for key in CATEGORY_COLUMNS}
    if values["kind"] not in CategoryKind.values:
        bad("kind", f"must be one of {', '.join(CategoryKind.values)}")
    for field in ("major_code", "minor_code"):
        if not (values[field].isdigit() and len(values[field]) == 2):
            bad(field, "must be two digits")
    for field in ("major_name", "minor_name"):
        if not values[field] or len(values[field]) > 50:
            bad(field, "must be 1–50 characters")
    if values["default_urgency"] not in Urgency.values:
        bad("default_urgency", f"must be one of {', '.join(Urgency.values)}")
    if not values["handling_limit"].isdigit() or int(values["handling_limit"]) <= 0:
        bad("handling_limit", "must be a whole number above 0")
    if values["limit_unit"] not in LimitUnit.values:
        bad("limit_unit", f"must be one of {', '.join(LimitUnit.values)}")
    if values["department_type"] not in DepartmentType.values:
        bad("department_type", f"must be one of {', '.join(DepartmentType.values)}")
    if len(problems) > before:
        return None
    values["handling_limit"] = int(values["handling_limit"])
    values["code"] = KIND_LETTER[values["kind"]] + values["major_code"] + values["minor_code"]
    return values


def categories_load(*, path: Path | str = DEFAULT_CATEGORIES_CSV) -> CategoryLoadSummary:
    """Create or update categories from a CSV with the columns of shared/domain/categories.csv. All-or-nothing;
    every problem names its line and field. Categories missing from the file are left as they are."""
    rows = csv_rows(path, required=CATEGORY_COLUMNS, error=CategoryLoadError)

    problems: list[str] = []
    checked: dict[str, tuple[int, dict]] = {}
    for line, row in rows:
        values = _check_row(line, row, problems)
        if values is None:
            continue
        if values["code"] in checked:
            problems.append(f"line {line}: duplicate category {values['code']}, first on line {checked[values['code']][0]}")
            continue
        checked[values["code"]] = (line, values)
    if not rows:
        problems.append("the file has no category rows")
    if problems:
        raise CategoryLoadError(problems)

    created = updated = 0
    with transaction.atomic():
        for _line, values in checked.values():
            _, was_created = Category.objects.update_or_create(code=values["code"], defaults=values)
            created += was_created
            updated += not was_created
    return CategoryLoadSummary(created=created, updated=updated)


@transaction.atomic
def category_set_active(*, category: Category, active: bool) -> Category:
    """Deactivate (or reactivate) a category: it stays on old cases but is no longer offered for new ones."""
    category.active = active
    category.save(update_fields=["active"])
    return category


# =====================================================================================================================
# Cases: intake and the one transition function
# =====================================================================================================================
log = logging.getLogger(__name__)
RETURNS_BEFORE_LEVEL_UP = 2  # a case returned twice goes up one level for re-dispatch


def case_number_next(now: datetime) -> str:
    """Next case number for the (Asia/Shanghai) day: YYYYMMDD + 5-digit sequence, unique and increasing.

    One ``UPDATE … RETURNING`` in its own short transaction: the day's counter row is locked only for that statement,
    not for the whole intake transaction (which would serialise every concurrent intake behind one row lock). Call
    it before the intake transaction; a number whose case then fails to be written is simply skipped (a gap).
    """
    day = timezone.localdate(now)
    sql = "UPDATE events_casenumbersequence SET last = last + 1 WHERE day = %s RETURNING last"
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # One round trip in autocommit: the statement is its own transaction, and set_config(…, true) turns off the
        # wait for its WAL flush — the intake's own (synchronous) commit, which follows, makes it durable too. Inside
        # a caller's transaction this must not be done (it would relax that whole transaction's commit).
        sql = ("UPDATE events_casenumbersequence SET last = last + 1 "
               "WHERE day = %s AND set_config('synchronous_commit', 'off', true) = 'off' RETURNING last")
        block: AbstractContextManager = nullcontext()
    else:  # (inside the caller's transaction: no savepoint of its own, the statement is atomic by itself)
        block = nullcontext() if connection.in_atomic_block else transaction.atomic()
    with block, connection.cursor() as cursor:
        cursor.execute(sql, [day])
        row = cursor.fetchone()
        if row is None:  # the day's first case
            CaseNumberSequence.objects.get_or_create(day=day)
            cursor.execute(sql, [day])
            row = cursor.fetchone()
    return f"{day:%Y%m%d}{row[0]:05d}"


def _attach(case: Case, photos: list[Photo], kind: str, actor: Actor, now: datetime, seq: int | None
            ) -> list[Attachment]:
    attachments = []
    for photo in photos:
        attachment = Attachment(
            case=case, event_seq=seq, kind=kind, content_type=photo.content_type, size=photo.size,
            sha256=photo.sha256, metadata=photo.metadata, uploaded_by=actor.user, uploaded_at=now,
        )
        extension = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}[photo.content_type]
        attachment.file.save(f"{case.number}-{photo.sha256[:12]}.{extension}", photo.upload, save=False)
        attachment.save()
        attachments.append(attachment)
    return attachments


# --- Intake -------------------------------------------------------------------------------------------------------------
@dataclass
class ReportInput:
    """What a channel delivered. ``photos`` are report photos; ``before``/``after`` go with self-handled reports."""

    channel: str
    description: str
    lat: float | None = None
    lng: float | None = None
    address: str = ""
    region_code: str = ""
    category: Category | None = None
    urgency: str = ""
    citizen_name: str = ""
    citizen_phone: str = ""
    citizen_openid: str = ""
    citizen_email: str = ""
    self_handled: bool = False
    photos: list = dc_field(default_factory=list)
    before_photos: list = dc_field(default_factory=list)
    after_photos: list = dc_field(default_factory=list)
    raw_payload: dict = dc_field(default_factory=dict)
    idempotency_key: str = ""
    # A citizen's report without a location (e.g. free text on WeChat): no lat/lng; ``region_code`` names the command
    # center (city, district or street) that owns it until a dispatcher sets the location when accepting it.
    unstructured: bool = False


def _regions():
    """Regions without their boundaries (a district's polygon is large; intake needs codes, names and levels)."""
    return Region.objects.defer("boundary")


def _region_ref(pk: int, level: str, code: str, name: str) -> Region:
    """A region as if read with only these fields (any other field is loaded from the database when first used)."""
    return Region.from_db(connection.alias, ["id", "code", "name", "level"], [pk, code, name, level])


def _place(data: ReportInput) -> tuple[Region | None, Region]:
    """(grid, most specific region) for the report's location, or the reason it cannot be placed."""
    if data.unstructured:
        return None, _intake_center(data)
    if (data.lat is None) != (data.lng is None):
        raise InvalidInput(_("give both lat and lng, or neither"), field="lat" if data.lat is None else "lng")
    if data.lat is not None and data.lng is not None:  # (both, or neither: checked above)
        if not (-90 <= data.lat <= 90):
            raise InvalidInput(_("lat must be between -90 and 90"), field="lat")
        if not (-180 <= data.lng <= 180):
            raise InvalidInput(_("lng must be between -180 and 180"), field="lng")
        entry = locate(data.lat, data.lng)
        if entry is None:
            raise Unprocessable(_("this point is outside the service area (no unit grid contains it)"), field="lat")
        # The grid and its ancestors as the locate index knows them (ids, codes, names, levels; the rest is read if
        # ever asked for): case_report needs the street and district too, and no query is needed for them.
        grid = _region_ref(entry.region_id, Level.GRID, entry.code, entry.name)
        grid._gridloop_ancestors = [_region_ref(pk, level, code, name)
                                    for pk, (level, code, name) in zip(entry.ancestor_ids, entry.ancestors, strict=True)]
        return grid, grid
    if data.region_code:
        region = _regions().filter(code=data.region_code).first()
        if region is None or region.level not in (Level.STREET, Level.COMMUNITY, Level.GRID):
            raise InvalidInput(_("region_code must be the code of a street, community or unit grid"),
                               field="region_code")
        return (region if region.level == Level.GRID else None), region
    raise InvalidInput(_("a location is needed: lat and lng, or the region_code of a street, community or grid"),
                       field="lat")


def _intake_role(actor: Actor, channel: str, region: Region) -> str:
    """Which role lets this staff actor file on this channel here (403 otherwise)."""
    user = cast(User, actor.user)  # (staff)
    if channel == Channel.PATROL:
        if any(a.role == Role.GRID_WORKER for a in roles_of(user)):
            return Role.GRID_WORKER
        raise PermissionDenied(_("only grid workers file patrol reports"))
    if channel == Channel.HOTLINE:
        if covers(user, region.code, roles=(Role.OPERATOR,)):
            return Role.OPERATOR
        raise PermissionDenied(_("only a hotline operator whose region covers this place files hotline reports"))
    if channel == Channel.WEB:
        for role in (Role.DISPATCHER, Role.SUPERVISOR, Role.OPERATOR):
            if covers(user, region.code, roles=(role,)):
                return role
        raise PermissionDenied(_("this place is outside your area"))
    raise InvalidInput(_("staff file reports on the patrol, hotline or web channel, not %(channel)r")
                       % {"channel": channel}, field="channel")


SENSOR_OPENING_LOCK = 0x6C6F6F70  # advisory lock space of sensor case openings ("loop")


def _sensor_openings_serialized(data: ReportInput) -> None:
    """On PostgreSQL, sensors open cases at one spot one at a time: advisory locks on the cells around the point
    (``events.duplicates.nearby_lock_keys``), held until the caller's transaction ends, so that two alarms within the
    category's radius at the same moment cannot both miss the other's new case in the duplicate search and open two;
    alarms elsewhere in the city do not wait. (SQLite writers are serialised by the database itself.)"""
    if connection.vendor != "postgresql" or not connection.in_atomic_block or data.lat is None or data.lng is None:
        return
    keys = nearby_lock_keys(lat=data.lat, lng=data.lng, category=data.category)
    with connection.cursor() as cursor:  # in key order (unnest keeps the array's): openings never wait in a cycle
        cursor.execute("SELECT count(pg_advisory_xact_lock(%s::int4, k)) FROM unnest(%s::int4[]) AS k",
                       [SENSOR_OPENING_LOCK, keys])


# Read on every intake (and every sensor case opening): compiled once (config.compiled).
_report_by_idempotency_key = CompiledQuery(
    lambda scope, key: InboundReport.objects.filter(idempotency_scope=scope, idempotency_key=key).order_by("id")[:1],
    str, str)
_case_to_join = CompiledQuery(
    lambda pk: Case.objects.select_for_update(of=("self",), no_key=True).select_related("category").filter(pk=pk),
    int)


def _idempotency_scope(actor: Actor, data: ReportInput) -> str:
    return f"user:{actor.user.pk}" if actor.user is not None else f"{data.channel}:{actor.ref}"


def case_report(*, actor: Actor, data: ReportInput) -> tuple[Case, bool]:
    """File a report and open a case for it (受理). Returns (case, created); a repeat of the same idempotency key
    by the same reporter returns the first case and creates nothing.

    Attempts with one key at the same moment: the report's unique key (scope, key) makes every attempt but the first
    wait for it at the report's insert and then fail; those answer the first attempt's case (created false) — so
    concurrent retries get 201 once and 200 with the same case, never an error. (Called inside the caller's own
    transaction, the failed insert has spoilt that transaction: the IntegrityError goes to the caller.)"""
    try:
        return _case_file(actor=actor, data=data)
    except IntegrityError:
        if not data.idempotency_key or connection.in_atomic_block:
            raise
        existing = _report_by_idempotency_key(_idempotency_scope(actor, data), data.idempotency_key)
        if not existing:  # some other unique key
            raise
        return existing[0].case, False


def _case_file(*, actor: Actor, data: ReportInput) -> tuple[Case, bool]:
    scope = _idempotency_scope(actor, data)
    if data.idempotency_key:
        if len(data.idempotency_key) > 100:
            raise InvalidInput(_("Idempotency-Key may be at most %(n)s characters") % {"n": 100}, field="idempotency_key")
        existing = _report_by_idempotency_key(scope, data.idempotency_key)
        if existing:
            return existing[0].case, False

    description = (data.description or "").strip()
    if not description:
        raise InvalidInput(_("describe what is wrong"), field="description")
    if len(description) > 4000:
        raise InvalidInput(_("the description may be at most %(n)s characters") % {"n": "4,000"}, field="description")
    if data.category is not None and not data.category.active:
        raise InvalidInput(_("category %(code)s is no longer in use") % {"code": data.category.code}, field="category")
    if data.channel == Channel.PATROL and data.category is None:
        raise InvalidInput(_("grid workers choose a category"), field="category")
    if data.urgency and data.urgency not in Urgency.values:
        raise InvalidInput(_("urgency must be one of %(choices)s") % {"choices": ", ".join(Urgency.values)}, field="urgency")
    grid, region = _place(data)
    role = _intake_role(actor, data.channel, region) if actor.kind == ActorKind.USER else ""

    if data.self_handled:
        if data.channel != Channel.PATROL:
            raise InvalidInput(_("only grid workers on patrol report a problem as handled on the spot"),
                               field="self_handled")
        before = photos_check(data.before_photos, field="before_photos", minimum=1)
        after = photos_check(data.after_photos, field="after_photos", minimum=1)
    else:
        before = after = []
    minimum = 1 if data.channel == Channel.PATROL and not data.self_handled else 0
    photos = photos_check(data.photos, field="photos", minimum=minimum)

    known = getattr(region, "_gridloop_ancestors", None)
    if known is None:
        known = _regions().filter(code__in=ancestor_codes(region.code))
    ancestors = {r.level: r for r in known}
    ancestors[region.level] = region
    outside = role == Role.GRID_WORKER and not any(
        a.role == Role.GRID_WORKER and grid is not None and a.region_id == grid.pk for a in roles_of(cast(User, actor.user))
    )
    key = citizen_key(phone=data.citizen_phone, openid=data.citizen_openid, email=data.citizen_email)
    now = timezone.now()
    if data.channel == Channel.SENSOR:
        _sensor_openings_serialized(data)
    candidates = duplicate_candidates(lat=data.lat, lng=data.lng, category=data.category, now=now, load_cases=False)
    if data.channel == Channel.SENSOR and candidates and candidates[0].same_category:
        # A sensor repeating an open case of the same category nearby joins it instead of opening another.
        joined = _report_join(candidates[0], actor=actor, data=data, description=description, key=key, scope=scope,
                              photos=photos, now=now)
        if joined is not None:
            return joined, False
    number = case_number_next(now)
    files = bool(photos or before or after)
    # A worker's patrol report is accepted on filing only in the grids they patrol; one from elsewhere waits for the
    # dispatcher there to accept it (受理), as any citizen's report does (README "Grid workers outside their grids").
    auto_accept = (data.channel == Channel.PATROL and not data.self_handled and settings.GRIDLOOP_AUTO_ACCEPT_PATROL
                   and not outside and not (data.category is not None and data.category.manual_accept))
    # Without photos or an action to follow, the case and its first rows go in as one statement on PostgreSQL
    # (config.rows.rows_insert), atomic on its own: then no transaction is opened around it.
    together = not files and not auto_accept
    with nullcontext() if together and connection.vendor == "postgresql" else transaction.atomic():
        case = Case(
            number=number, channel=data.channel, category=data.category,
            urgency=data.urgency or (data.category.default_urgency if data.category else Urgency.NORMAL),
            description=description, lat=data.lat, lng=data.lng, address=data.address[:300], grid=grid,
            street=ancestors.get(Level.STREET), district=ancestors.get(Level.DISTRICT), region_code=region.code,
            level=OWNING_LEVEL.get(region.level, CommandLevel.STREET), unstructured=data.unstructured,
            self_handled=data.self_handled, outside_reporter_grids=outside,
            reporter=actor.user, citizen_key=key, created_at=now, updated_at=now,
        )
        payload: dict[str, Any] = {"channel": data.channel, "region_code": region.code, "photos": []}
        if outside:
            payload["outside_reporter_grids"] = True
        if data.self_handled:
            payload["self_handled"] = True
        if data.unstructured:
            payload["unstructured"] = True
        if candidates:  # suggested to the dispatcher, who may merge with one action (GET …/duplicates/ shows them)
            payload["possible_duplicates"] = [c.number for c in candidates]

        def reported() -> CaseEvent:  # the first event of the chain; moves case.last_seq and last_hash on
            return event_row(case=case, kind=EventKind.REPORTED, actor=actor, role=role, from_state="",
                             to_state=CaseState.REPORTED, payload=payload, now=now)

        if together:  # the first event is known before the case is written: the case row goes in with its head
            event = reported()
            report = _inbound_report(case, actor=actor, data=data, description=description, key=key, scope=scope,
                                     now=now, save=False)
            clocks = clocks_for_new_case(case=case, now=now)
            rows_insert(case, report, event, *clocks)
            attachments = []
        else:  # the event names the photos' ids: the chain head is written once they exist
            row_insert(case)
            report = _inbound_report(case, actor=actor, data=data, description=description, key=key,
                                     scope=scope, now=now)
            attachments = _attach(case, photos, AttachmentKind.REPORT, actor, now, 1)
            attachments += _attach(case, before, AttachmentKind.BEFORE, actor, now, 1)
            attachments += _attach(case, after, AttachmentKind.AFTER, actor, now, 1)
            payload["photos"] = [a.pk for a in attachments]
            event = reported()
            row_insert(event)
            clocks = clocks_on_transition(case=case, effect=ClockEffect.START, now=now)
            Case.objects.filter(pk=case.pk).update(last_seq=case.last_seq, last_hash=case.last_hash)
            if auto_accept:
                case_act(case=case, action="accept", actor=Actor.system("rule:auto_accept_patrol"),
                         inputs={"note": "rule: reports filed by grid workers are accepted on filing"})
                return Case.objects.get(pk=case.pk), True
    event.actor = actor.user
    with_related(case, reports=[report], attachments=attachments, events=[event], clocks=clocks)
    return case, True


# --- Transitions --------------------------------------------------------------------------------------------------------
def _conflict(case: Case, actor: Actor, message: str) -> Conflict:
    allowed = allowed_actions(case, actor)
    return Conflict(_("%(problem)s. Allowed now: %(actions)s.")
                    % {"problem": message, "actions": ", ".join(allowed) if allowed else _("none for you")},
                    extra={"allowed_actions": allowed, "state": case.state})


def _problem(action: Action, case: Case, who: Acting) -> str | None:
    """Why the action does not fit the case right now beyond its source state — the first of its conditions that
    does not hold, else its permission's rule on the acting capacities — or None."""
    for condition in action.conditions:
        problem = condition.problem(case)
        if problem is not None:
            return problem
    return action.permission.refusal(case, who)


def allowed_actions(case: Case, actor: Actor) -> list[str]:
    """Actions this actor may take on the case now: django-fsm's available transitions of the case for the actor
    (source state, conditions, and the permission: the actor's capacities on the case), in the workflow's order."""
    who = acting(actor, case)
    transitions = case.get_available_user_state_transitions(who)  # type: ignore[attr-defined]  # (FSMField adds it)
    available = {transition.name for transition in transitions}
    return [action.name for action in ACTIONS.values() if action.method in available]


def _required(action: Action, inputs: dict) -> None:
    for name in action.requires:
        value = inputs.get(name)
        if value in (None, "", []) or (isinstance(value, str) and not value.strip()):
            raise InvalidInput(_("%(action)s needs %(field)s") % {"action": action.name, "field": name}, field=name)


def _inbound_report(case: Case, *, actor: Actor, data: ReportInput, description: str, key: str, scope: str,
                    now: datetime, save: bool = True) -> InboundReport:
    """The raw, immutable record of what the channel delivered, attached to ``case`` (``save=False``: built only)."""
    report = InboundReport(
        channel=data.channel, case=case, reporter=actor.user, citizen_name=data.citizen_name[:50],
        citizen_phone=data.citizen_phone[:20], citizen_openid=data.citizen_openid[:64],
        citizen_email=data.citizen_email, citizen_key=key, description=description, lat=data.lat, lng=data.lng,
        address=data.address[:300], category=data.category, urgency=data.urgency, self_handled=data.self_handled,
        raw_payload=data.raw_payload, received_at=now, idempotency_key=data.idempotency_key,
        idempotency_scope=scope if data.idempotency_key else "",
    )
    return row_insert(report) if save else report


def _report_join(candidate: Candidate, *, actor: Actor, data: ReportInput, description: str, key: str, scope: str,
                 photos: list[Photo], now: datetime) -> Case | None:
    """Add a report to an open case it repeats (a further report, not a new case), as a ``report_added`` event;
    None when the case ended between the search and the lock (the caller then opens a case after all)."""
    with transaction.atomic():
        found = _case_to_join(candidate.pk)
        if not found or found[0].state not in OPEN_STATES:
            return None
        case = cast(Case, found[0])  # (narrows the parameter's Case | str)
        report = _inbound_report(case, actor=actor, data=data, description=description, key=key, scope=scope,
                                 now=now)
        attachments = _attach(case, photos, AttachmentKind.REPORT, actor, now, case.last_seq + 1)
        event_append(case=case, kind=EventKind.REPORT_ADDED, actor=actor, role="", from_state=case.state, to_state=case.state,
                     payload={"report": report.pk, "channel": data.channel, "distance_m": candidate.distance_m,
                              "photos": [a.pk for a in attachments]}, now=now)
        case.updated_at = now
        row_update(case, ("last_seq", "last_hash", "updated_at"))
    return case


# --- Unstructured citizen reports: owned by a command center until a dispatcher locates them on acceptance -------------
OWNING_LEVEL: dict[str, str] = {Level.CITY: CommandLevel.CITY, Level.DISTRICT: CommandLevel.DISTRICT}  # else the street's center


def _intake_center(data: ReportInput) -> Region:
    if data.channel in (Channel.PATROL, Channel.SENSOR):
        raise InvalidInput(_("only citizens' reports may come without a location"), field="unstructured")
    if data.lat is not None or data.lng is not None:
        raise InvalidInput(_("a report with lat/lng is not unstructured"), field="unstructured")
    region = _regions().filter(code=data.region_code).first() if data.region_code else None
    if region is None or region.level not in (Level.CITY, Level.DISTRICT, Level.STREET):
        raise InvalidInput(_("an unstructured report goes to a command center: region_code must be the code of a "
                             "city, district or street"), field="region_code")
    return region


def _locate_on_accept(case: Case, inputs: dict, payload: dict) -> None:
    """Set the location of an unstructured report (lat/lng, or the region_code of a street, community or grid) inside
    the area of the command center that owns it. The caller holds the case row lock and saves the case after."""
    lat, lng, code = inputs.get("lat"), inputs.get("lng"), str(inputs.get("region_code") or "").strip()
    if lat in (None, "") and lng in (None, "") and not code:
        raise InvalidInput(_("this report has no location yet: give lat and lng, or region_code, to accept it"),
                           field="lat")
    try:
        lat = None if lat in (None, "") else float(lat)
        lng = None if lng in (None, "") else float(lng)
    except (TypeError, ValueError):
        raise InvalidInput(_("lat and lng must be numbers"), field="lat") from None
    grid, region = _place(ReportInput(channel=case.channel, description="", lat=lat, lng=lng, region_code=code))
    center = case.region_code[:4] if case.level == CommandLevel.CITY else case.region_code
    if not region.code.startswith(center):
        raise InvalidInput(_("this place is outside the area of the command center that owns case %(number)s")
                           % {"number": case.number},
                           field="region_code" if lat is None else "lat")
    ancestors = {r.level: r for r in _regions().filter(code__in=ancestor_codes(region.code))}
    ancestors[region.level] = region
    case.lat, case.lng, case.grid, case.region_code = lat, lng, grid, region.code
    case.street, case.district = ancestors.get(Level.STREET), ancestors.get(Level.DISTRICT)
    if inputs.get("address"):
        case.address = str(inputs["address"])[:300]
    case.unstructured = False
    payload["location"] = {"lat": lat, "lng": lng, "region_code": region.code, "address": case.address}


_department_by_code = CompiledQuery(lambda code: Department.objects.select_related("region").filter(code=code), str)


def _department(case: Case, code) -> Department:
    department = next(iter(_department_by_code(str(code))), None)
    if department is None or not department.active:
        raise InvalidInput(_("no active department with code %(code)r") % {"code": code}, field="department")
    if not case.region_code.startswith(department.region.subtree_prefix):
        raise InvalidInput(_("%(department)s does not serve %(region)s") % {"department": department.name,
                                                                     "region": case.region_code}, field="department")
    return department


def _lock_pair(first_number: str, second_number: str) -> dict[str, Case]:
    """Lock two cases in a fixed order (by id) so concurrent merges cannot deadlock."""
    rows = (Case.objects.select_for_update(of=("self",), no_key=True)
            .filter(number__in=[first_number, second_number]).order_by("id"))
    return {row.number: row for row in rows}


# The case an action locks. Category, department, reporter and regions come along (not locked): the clocks need the
# category's limits, and the caller usually shows the case after the action. Compiled once: it is on every transition.
_case_for_action = CompiledQuery(
    lambda number: (Case.objects.select_for_update(of=("self",), no_key=True)
                    .select_related("category", "department", "reporter", "grid", "street", "district")
                    .defer(*(f"{name}__{field}" for name in ("grid", "street", "district")
                             for field in ("boundary", "parent", "updated_at")))
                    .filter(number=number)),
    str)


def case_act(*, case: Case | str, action: str, actor: Actor, inputs: dict | None = None) -> Case:
    """Take ``action`` on a case: the only way a case changes state.

    In one transaction: lock the row, check the actor's scope (403), the transition and its conditions (409, naming
    the actions allowed now), the required inputs (400, naming the field); apply; append the case event; move the
    stage clocks; write the notifications to the outbox (delivered by the relay after commit).
    """
    inputs = dict(inputs or {})
    spec = ACTIONS.get(action)
    if spec is None:
        raise NotFound(_("unknown action %(action)r; actions are: %(actions)s") % {"action": action, "actions": ", ".join(ACTIONS)})
    number = case.number if isinstance(case, Case) else str(case)
    now = timezone.now()
    with transaction.atomic():
        target = None
        found: Case | None
        if spec.name == "merge" and inputs.get("target"):
            locked = _lock_pair(number, str(inputs["target"]))
            found, target = locked.get(number), locked.get(str(inputs["target"]))
        else:
            found = next(iter(_case_for_action(number)), None)
        if found is None:
            raise NotFound(_("no case %(number)s") % {"number": number})
        case = found
        who = acting(actor, case)
        mine = spec.permission.holders(who)
        if not mine:
            raise PermissionDenied(_("you may not %(action)s case %(number)s: it is outside your role or area")
                                   % {"action": spec.name, "number": case.number})
        key = str(inputs.get("idempotency_key") or "")[:100]
        if key and CaseEvent.objects.filter(case=case, kind=spec.name, actor_kind=actor.kind, actor_ref=actor.ref,
                                            actor_id=actor.user.pk if actor.user else None,
                                            payload__idempotency_key=key).exists():
            return case  # a retry of an action already taken (checked under the row lock): nothing more happens
        _version_check(case, actor, inputs)
        if not can_proceed(getattr(case, spec.method), check_conditions=False):
            raise _conflict(case, actor, _("cannot %(action)s a case that is %(state)s")
                             % {"action": spec.name, "state": case.get_state_display()})
        problem = _problem(spec, case, who)
        if problem:
            raise _conflict(case, actor, _("cannot %(action)s: %(problem)s") % {"action": spec.name, "problem": problem})
        _required(spec, inputs)
        first_new_seq = case.last_seq + 1
        from_state = case.state
        getattr(case, spec.method)()  # django-fsm: the state changes (its source and conditions checked again)
        payload = _payload(spec, Step(action=spec.name, case=case, actor=actor, inputs=inputs, now=now, target=target))
        case.updated_at = now
        event = event_append(case=case, kind=spec.name, actor=actor, role=mine[0], from_state=from_state,
                             to_state=case.state, payload=payload, now=now)
        if payload.get("goes_up_to"):
            case_level_up(case, reason=_("returned %(n)s times: re-dispatch from the upper command center")
                      % {"n": case.returns_count}, now=now, policy=EscalationPolicy.TAKE_OVER)
        clocks = clocks_on_transition(case=case, effect=spec.clock, now=now)  # after a level-up
        row_update(case)
        with_related(case, clocks=clocks)  # as they are now: the detail shown after the action reads them no more
        _notify(case, since_seq=first_new_seq, last=event)
        routing = payload.get("routing") or {}
        if spec.name == "accept" and routing.get("auto_dispatch") and routing.get("department"):
            case = case_act(case=case.number, action="dispatch", actor=Actor.system(f"rule:{routing['rule']}"),
                            inputs={"department": routing["department"], "explanation": routing["reason"]})
    return case


def _notify(case: Case, *, since_seq: int, last: CaseEvent) -> None:
    """Write the messages for the events this action appended (its own, and a level-up) to the outbox, in the same
    transaction: they are delivered after commit by the relay, or not at all if the change rolls back."""
    appended = [last] if last.seq == since_seq == case.last_seq else (
        CaseEvent.objects.filter(case=case, seq__gte=since_seq).order_by("seq"))
    for event in appended:
        notifications_for_event(case=case, event=event)


_category_by_code = CompiledQuery(lambda code: Category.objects.filter(code=code), str)


# --- What each action changes besides the state, and its event payload ---------------------------------------------------
@dataclass(frozen=True)
class Step:
    """An action being taken: its name, the case (locked, its state already the transition's target), who acts, the
    inputs, the moment, and for merge the locked target case."""

    action: str
    case: Case
    actor: Actor
    inputs: dict
    now: datetime
    target: Case | None = None


ACTION_PAYLOADS: dict[str, Callable[[Step, dict], None]] = {}


def _payload_of(action: str) -> Callable[[Callable[[Step, dict], None]], Callable[[Step, dict], None]]:
    """Register the function that checks an action's inputs, changes the case's fields (not its state) and adds to
    its event payload. An action without one changes nothing else (its payload: reason, note, idempotency key)."""
    def register(function: Callable[[Step, dict], None]) -> Callable[[Step, dict], None]:
        ACTION_PAYLOADS[action] = function
        return function
    return register


def _payload(spec: Action, step: Step) -> dict:
    """The event payload of the action (and its changes to the case)."""
    inputs = step.inputs
    payload = {key: inputs[key] for key in ("reason", "note") if inputs.get(key)}
    if inputs.get("idempotency_key"):
        payload["idempotency_key"] = str(inputs["idempotency_key"])[:100]
    does = ACTION_PAYLOADS.get(spec.name)
    if does is not None:
        does(step, payload)
    return payload


@_payload_of("accept")
def _accept(step: Step, payload: dict) -> None:
    case, inputs = step.case, step.inputs
    category = inputs.get("category") or case.category
    if isinstance(category, str):
        code = category
        category = next(iter(_category_by_code(code)), None)
        if category is None:
            raise InvalidInput(_("no category with code %(code)r") % {"code": code}, field="category")
    if category is None:
        raise InvalidInput(_("set the category when accepting a report that has none"), field="category")
    if not category.active:
        raise InvalidInput(_("category %(code)s is no longer in use") % {"code": category.code}, field="category")
    if case.category_id != category.pk:
        case.category = category
        payload["category"] = category.code
    if case.unstructured:
        _locate_on_accept(case, inputs, payload)
    payload["routing"] = route(case).as_payload()
    if inputs.get("urgency"):
        if inputs["urgency"] not in Urgency.values:
            raise InvalidInput(_("urgency must be one of %(choices)s") % {"choices": ", ".join(Urgency.values)},
                               field="urgency")
        case.urgency = inputs["urgency"]
        payload["urgency"] = case.urgency


@_payload_of("reject")
def _reject(step: Step, payload: dict) -> None:
    step.case.close_reason, step.case.closed_at = CloseReason.REJECTED, step.now


@_payload_of("merge")
def _merge(step: Step, payload: dict) -> None:
    case, target, actor, now = step.case, step.target, step.actor, step.now
    outside = target is not None and actor.user is not None and not covers(
        actor.user, target.region_code, roles=(Role.DISPATCHER,))
    if target is None or outside:  # the same answer, so case numbers outside one's area are not revealed
        raise InvalidInput(_("no case %(number)s in your area to merge into") % {"number": step.inputs["target"]},
                           field="target")
    if target.pk == case.pk:
        raise InvalidInput(_("a case cannot be merged into itself"), field="target")
    if target.state not in OPEN_STATES:
        raise InvalidInput(_("case %(number)s is %(state)s; merge into an open case")
                           % {"number": target.number, "state": target.get_state_display()},
                           field="target")
    case.merged_into, case.close_reason, case.closed_at = target, CloseReason.DUPLICATE, now
    event_append(case=target, kind=EventKind.MERGED_IN, actor=actor, role="dispatcher",
                 payload={"case": case.number}, now=now)
    target.save(update_fields=["last_seq", "last_hash"])
    payload["target"] = target.number


@_payload_of("confirm_self_handled")
def _confirm_self_handled(step: Step, payload: dict) -> None:
    step.case.close_reason, step.case.closed_at = CloseReason.SELF_HANDLED, step.now


@_payload_of("request_field_check")
def _request_field_check(step: Step, payload: dict) -> None:
    if step.case.grid_id is None:
        raise InvalidInput(_("the case has no unit grid, so no grid worker to ask; set its location first"),
                           field="lat")
    step.case.field_check_status = FieldCheck.REQUESTED


@_payload_of("field_check")
def _field_check(step: Step, payload: dict) -> None:
    case, inputs = step.case, step.inputs
    result = inputs["result"]
    if result not in (FieldCheck.CONFIRMED, FieldCheck.NOT_FOUND):
        raise InvalidInput(_("result must be confirmed or not_found"), field="result")
    case.field_check_status = result
    payload["result"] = result
    _fix_into(payload, case, inputs)
    minimum = 1 if result == FieldCheck.CONFIRMED else 0
    _photos_into(payload, case, photos_check(inputs.get("photos"), minimum=minimum), AttachmentKind.CHECK,
                 step.actor, step.now)


@_payload_of("dispatch")
def _dispatch(step: Step, payload: dict) -> None:
    case = step.case
    case.department = _department(case, step.inputs["department"])
    payload["department"] = case.department.code
    if step.inputs.get("explanation"):
        payload["explanation"] = step.inputs["explanation"]


@_payload_of("return")
def _return(step: Step, payload: dict) -> None:
    case = step.case
    payload["department"] = cast(Department, case.department).code
    case.department = None
    case.returns_count += 1
    if case.returns_count % RETURNS_BEFORE_LEVEL_UP == 0 and case.level in NEXT_LEVEL:
        payload["goes_up_to"] = NEXT_LEVEL[case.level]
    case.extension_pending = False


@_payload_of("request_extension")
def _request_extension(step: Step, payload: dict) -> None:
    step.case.extension_pending = True


@_payload_of("approve_extension")
def _approve_extension(step: Step, payload: dict) -> None:
    step.case.extension_pending = False
    step.case.extensions_count += 1
    payload["extensions"] = step.case.extensions_count


@_payload_of("deny_extension")
def _deny_extension(step: Step, payload: dict) -> None:
    step.case.extension_pending = False


@_payload_of("suspend")
def _suspend(step: Step, payload: dict) -> None:
    now, until = step.now, step.inputs["until"]
    if isinstance(until, str):
        until = _parse_when(until)
    elif isinstance(until, date) and not isinstance(until, datetime):
        until = timezone.make_aware(datetime(until.year, until.month, until.day))
    elif isinstance(until, datetime) and timezone.is_naive(until):
        until = timezone.make_aware(until)
    elif not isinstance(until, datetime):
        raise InvalidInput(_("until must be an ISO date or date-time, e.g. 2026-12-31"), field="until")
    if until <= now or until > now + timedelta(days=366):
        raise InvalidInput(_("until must be in the future and at most one year ahead"), field="until")
    step.case.suspended_until = until
    step.case.suspensions_count += 1
    payload["until"] = until.isoformat()


@_payload_of("resume")
def _resume(step: Step, payload: dict) -> None:
    case = step.case
    payload["suspended_until"] = case.suspended_until.isoformat() if case.suspended_until else None
    case.suspended_until = None


@_payload_of("complete")
def _complete(step: Step, payload: dict) -> None:
    step.case.extension_pending = False  # a request still waiting lapses with the handling (as on return)
    _photos_into(payload, step.case, photos_check(step.inputs.get("photos"), minimum=1), AttachmentKind.AFTER,
                 step.actor, step.now)


@_payload_of("verify")
def _verify(step: Step, payload: dict) -> None:
    _fix_into(payload, step.case, step.inputs)
    _photos_into(payload, step.case, photos_check(step.inputs.get("photos"), minimum=1), AttachmentKind.CHECK,
                 step.actor, step.now)
    step.case.verified_at = step.now


@_payload_of("rework")
def _rework(step: Step, payload: dict) -> None:
    step.case.reworks_count += 1
    step.case.verified_at = None


@_payload_of("feedback")
def _feedback(step: Step, payload: dict) -> None:
    case, raw = step.case, step.inputs["rating"]
    try:
        rating = int(raw)
    except (TypeError, ValueError, OverflowError):
        rating = None
    if isinstance(raw, bool) or (isinstance(raw, float) and raw != rating):
        rating = None  # int() would take true as 1 and 2.5 as 2
    if rating is None or not 1 <= rating <= 5:
        raise InvalidInput(_("rating must be a whole number from 1 to 5"), field="rating")
    case.rating, case.rating_comment = rating, str(step.inputs.get("comment") or "")[:500]
    case.reopen_review = rating <= 2  # very dissatisfied: a supervisor decides whether to reopen
    case.close_reason, case.closed_at = CloseReason.RESOLVED, step.now
    payload.update(rating=rating, comment=case.rating_comment)


@_payload_of("close")
def _close(step: Step, payload: dict) -> None:
    step.case.close_reason, step.case.closed_at = CloseReason.RESOLVED, step.now


@_payload_of("reopen")
def _reopen(step: Step, payload: dict) -> None:
    case = step.case
    case.reopens_count += 1
    payload["previous_rating"] = case.rating  # the rating stays in the log; the next closure gets its own
    case.close_reason, case.closed_at, case.verified_at = "", None, None
    case.rating, case.rating_comment = None, ""
    case.reopen_review = False


@_payload_of("escalate")
def _escalate_payload(step: Step, payload: dict) -> None:
    payload.update(escalation_apply(step.case))


@_payload_of("urge")
@_payload_of("supervise")
def _supervision_order(step: Step, payload: dict) -> None:
    """urge (催办) and supervise (督办) each issue a supervision order (``dispatch.supervision``)."""
    if step.actor.user is None:
        raise InvalidInput(_("urge and supervision orders are issued by a supervisor"), field="actor")
    payload.update(supervision_order_create(case=step.case, kind=step.action, inputs=step.inputs,
                                            user=step.actor.user, now=step.now, event_seq=step.case.last_seq + 1))


@_payload_of("cancel")
def _cancel(step: Step, payload: dict) -> None:
    step.case.close_reason, step.case.closed_at = CloseReason.CANCELLED, step.now


def _photos_into(payload: dict, case: Case, photos: list[Photo], kind: str, actor: Actor, now: datetime) -> None:
    """Store the photos under the event about to be appended (the case row is locked, so its seq is known)."""
    if photos:
        payload["photos"] = [a.pk for a in _attach(case, photos, kind, actor, now, case.last_seq + 1)]


def _parse_when(value: str) -> datetime:
    from django.utils.dateparse import parse_date, parse_datetime

    try:  # parse_* raise ValueError for well-formed but impossible values (2026-02-30, 25:00)
        when = parse_datetime(value)
        day = parse_date(value) if when is None else None
    except ValueError:
        when = day = None
    if when is None:
        if day is None:
            raise InvalidInput(_("until must be an ISO date or date-time, e.g. 2026-12-31"), field="until")
        when = datetime(day.year, day.month, day.day)
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    return when


# --- Signals: timeline events that change nothing else (sensor re-alarms and recoveries) --------------------------------
SIGNAL_KINDS = (EventKind.SENSOR_ALARM, EventKind.SENSOR_RECOVERED)


@dataclass(frozen=True)
class Signal:
    """A timeline event of kind SIGNAL_KINDS for the case with id ``case_id``: its state, level and clocks stay."""

    case_id: int
    kind: str
    actor: Actor
    payload: dict


_cases_for_update = CompiledQuery(
    lambda ids: Case.objects.select_for_update(of=("self",), no_key=True).filter(pk__any=ids).order_by("id"), list)


CHAIN_HEAD = ("id", "number", "state", "level", "last_seq", "last_hash")  # what appending an event needs
_cases_for_update_only: dict[tuple[str, ...], CompiledQuery] = {}


def cases_lock(ids, *, only: tuple[str, ...] | None = None) -> dict[int, Case]:
    """Lock the cases with these ids, in id order: the order every writer of several cases takes them in, so that
    two of them wait for each other instead of deadlocking. Returns them by id (those that exist); with ``only``,
    read with just those columns (the others are deferred: read on first use)."""
    query: CompiledQuery | None
    if only is None:
        query = _cases_for_update
    else:
        query = _cases_for_update_only.get(only)
        if query is None:
            query = _cases_for_update_only[only] = CompiledQuery(
                lambda ids: Case.objects.select_for_update(of=("self",), no_key=True).filter(pk__any=ids).order_by("id")
                .only(*only), list)
    return {case.pk: case for case in query(sorted(ids))}


def case_signals(*, signals: list[Signal], now: datetime | None = None) -> list[CaseEvent | None]:
    """Append signal events to open cases in one go (e.g. a batch's sensor re-alarms and recoveries): the cases are
    locked in id order, each case's events chained in the order given, written with one INSERT, and the cases moved
    on (last event, updated_at) with one UPDATE. Returns each signal's event, or None where the case is not open (nothing appended for it).
    Nobody is notified by these events (the caller writes to the outbox when someone must act)."""
    for signal in signals:
        if signal.kind not in SIGNAL_KINDS:
            raise ValueError(f"not a signal kind: {signal.kind!r}")
    if not signals:
        return []
    now = now or timezone.now()
    with transaction.atomic(savepoint=False):  # all or nothing with the caller's transaction (no savepoint round trip)
        cases = cases_lock({signal.case_id for signal in signals}, only=CHAIN_HEAD)
        events: list[CaseEvent | None] = []
        for signal in signals:
            case = cases.get(signal.case_id)
            if case is None or case.state not in OPEN_STATES:
                events.append(None)
                continue
            events.append(event_row(case=case, kind=signal.kind, actor=signal.actor, role="system",
                                    from_state=case.state, to_state=case.state, payload=signal.payload, now=now))
        rows_insert_many([event for event in events if event is not None])
        touched = [cases[case_id] for case_id in sorted({event.case_id for event in events if event is not None})]
        for case in touched:
            case.updated_at = now
        rows_update_many(touched, ("last_seq", "last_hash", "updated_at"))
    return events


# --- Contact details -----------------------------------------------------------------------------------------------------
def case_contact_view(*, case: Case, user) -> dict:
    """The citizen's unmasked contact details, for roles that call them back; every view is logged."""
    if not may_see_contact(user, case):
        raise PermissionDenied(_("only operators and dispatchers of this area may see the caller's phone number"))
    role = next(a.role for a in roles_of(user) if a.role in (Role.OPERATOR, Role.DISPATCHER)
                and a.region is not None and case.region_code.startswith(a.region.subtree_prefix))
    ContactView.objects.create(case=case, user=user, role=role, viewed_at=timezone.now())
    log.info("contact view: user=%s case=%s role=%s", user.pk, case.number, role)
    report = cast(InboundReport, case.reports.order_by("id").first())  # (every case has its first report)
    return {"name": report.citizen_name, "phone": report.citizen_phone, "email": report.citizen_email}


# --- Offline clients: the version an action was made on, and the on-site position fix -----------------------------------
def _version_check(case: Case, actor: Actor, inputs: dict) -> None:
    """An action prepared offline names the case's last event it was made on (``expected_seq``); if the case moved
    on since (someone else acted, it was re-dispatched or cancelled), the action is refused with a 409 that lists what
    happened meanwhile, instead of being applied to a case the actor has not seen. The caller holds the row lock."""
    expected = inputs.get("expected_seq")
    if expected in (None, ""):
        return
    try:
        expected = int(expected)
    except (TypeError, ValueError):
        raise InvalidInput(_("expected_seq must be the number of the case's last event you saw"),
                           field="expected_seq") from None
    if expected == case.last_seq:
        return
    if expected < 1 or expected > case.last_seq:
        raise InvalidInput(_("case %(number)s has no event %(seq)s; its last event is %(last)s")
                           % {"number": case.number, "seq": expected, "last": case.last_seq}, field="expected_seq")
    since = [{"seq": e.seq, "kind": e.kind, "from_state": e.from_state, "to_state": e.to_state,
              "occurred_at": e.occurred_at.isoformat()}
             for e in CaseEvent.objects.filter(case=case, seq__gt=expected).order_by("seq")[:20]]
    allowed = allowed_actions(case, actor)
    raise Conflict(
        _("case %(number)s changed after you saw it (event %(seq)s, now %(last)s): it is %(state)s now; look at it "
          "again before acting") % {"number": case.number, "seq": expected, "last": case.last_seq,
                                    "state": case.get_state_display()},
        extra={"allowed_actions": allowed, "state": case.state, "last_seq": case.last_seq, "moved_on": since})


def _fix_into(payload: dict, case: Case, inputs: dict) -> None:
    """Record the actor's on-site position fix (``fix_lat``/``fix_lng``, ``fix_accuracy`` in metres, from the phone's
    GPS) in the event, with its distance from the case's point: a check made far from the case can be seen."""
    lat, lng, accuracy = inputs.get("fix_lat"), inputs.get("fix_lng"), inputs.get("fix_accuracy")
    if lat in (None, "") and lng in (None, ""):
        return
    try:
        lat, lng = float(lat), float(lng)  # type: ignore[arg-type]  # None: TypeError below
        accuracy = None if accuracy in (None, "") else float(accuracy)
    except (TypeError, ValueError):
        raise InvalidInput(_("fix_lat, fix_lng and fix_accuracy must be numbers"), field="fix_lat") from None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidInput(_("fix_lat must be between -90 and 90 and fix_lng between -180 and 180"), field="fix_lat")
    if accuracy is not None and not (0 <= accuracy <= 100_000):
        raise InvalidInput(_("fix_accuracy is the fix's accuracy in metres (0 to 100,000)"), field="fix_accuracy")
    fix = {"lat": round(lat, 7), "lng": round(lng, 7), "accuracy_m": None if accuracy is None else round(accuracy, 1)}
    if case.lat is not None and case.lng is not None:
        from .duplicates import distance_m

        fix["distance_m"] = round(distance_m(lat, lng, case.lat, case.lng), 1)
    payload["fix"] = fix

# --- A caller joins an open case (instead of a duplicate), and progress inquiries answered by the hotline ------------
_case_for_report_add = CompiledQuery(
    lambda number: Case.objects.select_for_update(of=("self",)).select_related("category").filter(number=number), str)


def case_report_add(*, case: Case | str, actor: Actor, data: ReportInput) -> tuple[Case, bool]:
    """Add a staff-filed citizen report (e.g. a hotline call) to an open case it repeats, instead of opening a
    duplicate: the report is kept as received, attached to the case, and a ``report_added`` event is appended under
    the case row lock. The caller follows the case from then on (their phone finds it; notices to the case's
    reporters reach them). Returns (case, added); a repeat of the same idempotency key by the same actor returns the
    case and adds nothing. The actor needs the channel's intake role over the case's area (hotline: an operator
    covering it); a case that ended cannot be joined (409)."""
    if actor.user is None:
        raise InvalidInput("only staff add a report to an existing case", field="actor")
    scope = f"user:{actor.user.pk}"
    number = case.number if isinstance(case, Case) else str(case)
    if len(data.idempotency_key) > 100:
        raise InvalidInput("Idempotency-Key may be at most 100 characters", field="idempotency_key")
    description = (data.description or "").strip()
    if not description:
        raise InvalidInput("describe what is wrong", field="description")
    if len(description) > 4000:
        raise InvalidInput("the description may be at most 4,000 characters", field="description")
    photos = photos_check(data.photos, field="photos")
    now = timezone.now()
    with transaction.atomic():
        found = _case_for_report_add(number)
        if not found:
            raise NotFound(f"no case {number}")
        case = cast(Case, found[0])  # (narrows the parameter's Case | str)
        role = _intake_role(actor, data.channel, Region(code=case.region_code))
        if data.idempotency_key:  # checked under the lock: a double submit waits here and finds the first report
            existing = _report_by_idempotency_key(scope, data.idempotency_key)
            if existing:
                return existing[0].case, False
        if case.state not in OPEN_STATES:
            raise Conflict(f"case {case.number} is {case.get_state_display()}; only an open case can be joined — "
                           "file a new case instead")
        key = citizen_key(phone=data.citizen_phone, openid=data.citizen_openid, email=data.citizen_email)
        report = _inbound_report(case, actor=actor, data=data, description=description, key=key, scope=scope,
                                 now=now)
        attachments = _attach(case, photos, AttachmentKind.REPORT, actor, now, case.last_seq + 1)
        payload = {"report": report.pk, "channel": data.channel, "photos": [a.pk for a in attachments]}
        if data.lat is not None and data.lng is not None and case.lat is not None and case.lng is not None:
            payload["distance_m"] = round(distance_m(data.lat, data.lng, case.lat, case.lng), 1)
        event_append(case=case, kind=EventKind.REPORT_ADDED, actor=actor, role=role, from_state=case.state,
                     to_state=case.state, payload=payload, now=now)
        case.updated_at = now
        row_update(case, ("last_seq", "last_hash", "updated_at"))
    return case, True


INQUIRY_ANSWERED = EventKind.INQUIRY_ANSWERED  # the evaluation counts them per operator and area


def case_inquiry_answer(*, case: Case | str, actor: Actor, citizen_phone: str = "", idempotency_key: str = ""
                        ) -> tuple[Case, bool]:
    """Record that a hotline operator answered a caller's progress inquiry (查询进度) about the case: an
    ``inquiry_answered`` event (state, level and clocks stay) saying which state was told and whether the caller is
    one of the case's reporters. Any state, ended cases too. Returns (case, recorded); a repeat of the same
    idempotency key by the same operator records nothing more."""
    if actor.user is None:
        raise InvalidInput("inquiries are answered by hotline operators", field="actor")
    number = case.number if isinstance(case, Case) else str(case)
    key = str(idempotency_key or "")[:100]
    now = timezone.now()
    with transaction.atomic():
        found = _case_for_report_add(number)
        if not found:
            raise NotFound(f"no case {number}")
        case = cast(Case, found[0])  # (narrows the parameter's Case | str)
        if "operator" not in capacities(actor, case):
            raise PermissionDenied(f"only a hotline operator whose region covers case {case.number} answers for it")
        if key and CaseEvent.objects.filter(case=case, kind=INQUIRY_ANSWERED, actor_id=actor.user.pk,
                                            payload__idempotency_key=key).exists():
            return case, False
        caller = citizen_key(phone=citizen_phone)
        payload = {"state": case.state,
                   "caller_is_reporter": bool(caller) and (caller == case.citizen_key or InboundReport.objects.filter(
                       case=case, citizen_key=caller).exists())}
        if key:
            payload["idempotency_key"] = key
        event_append(case=case, kind=INQUIRY_ANSWERED, actor=actor, role=Role.OPERATOR, from_state=case.state,
                     to_state=case.state, payload=payload, now=now)
        case.updated_at = now
        row_update(case, ("last_seq", "last_hash", "updated_at"))
    return case, True
