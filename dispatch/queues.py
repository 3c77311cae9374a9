"""Work queues of a command center (指挥中心): the cases waiting for it, in buckets.

A case belongs to a center when it sits at the center's level and inside its area: ``level == center.level`` and
``region_code`` starting with ``center.subtree_prefix`` (the SQL form of ``Case.command_code == center.code``).

    new                state reported (waiting to be accepted)
    awaiting_dispatch  state accepted, never returned
    returned           state accepted after a department returned it
    escalated_to_us    open and escalated at least once (district and city centers only; a street center has none):
                       owned here since, or watched from here while a lower center stays responsible (an escalation
                       under the "supervise" policy: ``Case.escalated_to``)
    overdue            open with a running stage clock whose light is red

Every bucket costs one COUNT and one LIMIT query; the regions of all rows shown come in three queries in all.
"""

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, prefetch_related_objects

import dispatch.models as dispatch_models
from events.access import cases_visible_q
from events.models import OPEN_STATES, Case, CaseEvent, CaseState, CommandLevel
from grids.models import Region, Role
from grids.selectors import command_centers_of, is_admin, region_scope_q, roles_of

QUEUE_LEVELS = (CommandLevel.STREET, CommandLevel.DISTRICT, CommandLevel.CITY)
BUCKETS = ("new", "awaiting_dispatch", "returned", "escalated_to_us", "overdue")
BUCKET_SIZE = 20


def clocks_available() -> bool:
    """Whether SLA stage clocks exist in this deployment (the overdue bucket needs them)."""
    return hasattr(dispatch_models, "StageClock")


def queue_centers(user, level: str) -> QuerySet[Region]:
    """Command centers at ``level`` whose queues the user may read, by code: those they dispatch for, those in the
    area of their supervisor roles, every one for an admin."""
    centers = Region.objects.filter(level=level).defer("boundary").order_by("code")
    if is_admin(user):
        return centers
    dispatching = [r.pk for r in command_centers_of(user) if r.level == level]
    return centers.filter(Q(pk__in=dispatching) | region_scope_q(user, roles=(Role.SUPERVISOR,)))


def _bucket_q(name: str, level: str) -> Q | None:
    """The filter of one bucket; None when the bucket does not apply (or cannot be computed) here."""
    if name == "new":
        return Q(state=CaseState.REPORTED)
    if name == "awaiting_dispatch":
        return Q(state=CaseState.ACCEPTED, returns_count=0)
    if name == "returned":
        return Q(state=CaseState.ACCEPTED, returns_count__gt=0)
    if name == "escalated_to_us":
        if level == CommandLevel.STREET:
            return None
        return Q(state__in=OPEN_STATES, escalations_count__gt=0)  # (with the watched ones: bucket_cases)
    if name == "overdue":
        if not clocks_available():
            return None
        red = dispatch_models.StageClock.objects.filter(case=OuterRef("pk"), finished_at__isnull=True, light="red")
        return Q(Exists(red), state__in=OPEN_STATES)
    raise ValueError(f"unknown bucket {name!r}")


def bucket_available(name: str, level: str) -> bool:
    return _bucket_q(name, level) is not None


def center_cases(*, user, center: Region) -> QuerySet[Case]:
    """Open and new cases owned by ``center`` that the user may see (list rows: category and department joined)."""
    return (
        Case.objects.select_related("category", "department")
        .filter(cases_visible_q(user), level=center.level, region_code__startswith=center.subtree_prefix)
        .order_by("-created_at", "-number")
    )


def bucket_cases(*, user, center: Region, bucket: str) -> QuerySet[Case]:
    """All the cases of one bucket, newest first (empty for a bucket that does not apply)."""
    q = _bucket_q(bucket, center.level)
    cases = center_cases(user=user, center=center)
    if q is not None and bucket == "escalated_to_us":  # owned here, or watched from here
        watched = Case.objects.filter(escalated_to=center.level, region_code__startswith=center.subtree_prefix)
        cases = cases | watched.filter(cases_visible_q(user))
    return cases.none() if q is None else cases.filter(q)


def with_regions(cases: list[Case]) -> list[Case]:
    """Load grid, street and district of the rows (one query each for the whole list)."""
    regions = Region.objects.only("id", "code", "name", "level")
    prefetch_related_objects(cases, Prefetch("grid", queryset=regions), Prefetch("street", queryset=regions),
                             Prefetch("district", queryset=regions))
    return cases


@dataclass
class Bucket:
    count: int = 0
    items: list[Case] = field(default_factory=list)
    available: bool = True


def center_queues(*, user, center: Region, size: int = BUCKET_SIZE) -> dict[str, Bucket]:
    """Each bucket's total and its ``size`` newest cases."""
    buckets = {}
    for name in BUCKETS:
        if not bucket_available(name, center.level):
            buckets[name] = Bucket(available=False)
            continue
        cases = bucket_cases(user=user, center=center, bucket=name)
        count = cases.count()
        buckets[name] = Bucket(count=count, items=list(cases[:size]) if count else [])
    with_regions([case for bucket in buckets.values() for case in bucket.items])
    return buckets


# --- A department's workbench (处置单位): its cases in buckets ------------------------------------------------------------
#     to_sign   dispatched to the department, not signed yet (签收)
#     handling  signed and being handled (or suspended: 挂账, the clock paused)
#     due_soon  to sign or handling, the running stage clock yellow (80 % of the limit used)
#     overdue   to sign or handling, the running stage clock red (超期)
#     rework    handling again because the result was sent back (返工): the last entry into handling was a rework
DEPARTMENT_BUCKETS = ("to_sign", "handling", "due_soon", "overdue", "rework")
DEPARTMENT_STATES = (CaseState.DISPATCHED, CaseState.HANDLING, CaseState.SUSPENDED)


def _department_bucket(cases: QuerySet[Case], name: str) -> QuerySet[Case]:
    from django.db.models import Subquery

    if name == "to_sign":
        return cases.filter(state=CaseState.DISPATCHED)
    if name == "handling":
        return cases.filter(state__in=(CaseState.HANDLING, CaseState.SUSPENDED))
    if name in ("due_soon", "overdue"):
        light = "yellow" if name == "due_soon" else "red"
        lit = dispatch_models.StageClock.objects.filter(case=OuterRef("pk"), finished_at__isnull=True, light=light)
        return cases.filter(Exists(lit), state__in=(CaseState.DISPATCHED, CaseState.HANDLING))
    if name == "rework":
        entry = (CaseEvent.objects.filter(case=OuterRef("pk"), kind__in=("sign", "rework", "reopen"))
                 .order_by("-seq").values("kind")[:1])
        return (cases.filter(state__in=(CaseState.HANDLING, CaseState.SUSPENDED), reworks_count__gt=0)
                .alias(entry=Subquery(entry)).filter(entry="rework"))
    raise ValueError(f"unknown bucket {name!r}")


def department_cases(*, user) -> QuerySet[Case]:
    """Open cases in the charge of the user's departments (handler roles) at the workbench's stages, oldest first
    (the longest waiting on top)."""
    departments = [a.department_id for a in roles_of(user) if a.role == Role.HANDLER]
    return (Case.objects.select_related("category", "department")
            .filter(department_id__in=departments, state__in=DEPARTMENT_STATES).order_by("created_at", "number"))


def department_bucket_cases(*, user, bucket: str) -> QuerySet[Case]:
    return _department_bucket(department_cases(user=user), bucket)


def department_queues(*, user, size: int = BUCKET_SIZE) -> dict[str, Bucket]:
    """Each workbench bucket's total and its ``size`` longest-waiting cases."""
    buckets = {}
    for name in DEPARTMENT_BUCKETS:
        cases = department_bucket_cases(user=user, bucket=name)
        count = cases.count()
        buckets[name] = Bucket(count=count, items=list(cases[:size]) if count else [])
    with_regions([case for bucket in buckets.values() for case in bucket.items])
    return buckets
