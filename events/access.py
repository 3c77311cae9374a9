"""Case access: which of an actor's roles let them take an action on a case, and what they may see.

The "by" names of events/workflow.py are resolved here against the actor's role assignments and area scope.
"""

from dataclasses import dataclass

from django.db.models import Q

from grids.models import Role
from grids.selectors import covers, is_admin, region_scope_q, roles_of

from .actors import Actor
from .models import ActorKind, Case


def _dispatcher_here(user, case: Case) -> bool:
    """A dispatcher of the command center that owns the case at its current level, or of the upper center that an
    escalation under the "supervise" policy put above it (``Case.escalated_to``): both may act as its dispatcher."""
    centers = {(case.level, case.command_code)}
    if case.escalated_to:
        centers.add((case.escalated_to, case.center_code(case.escalated_to)))
    return any(
        a.role == Role.DISPATCHER and a.region is not None and (a.region.level, a.region.code) in centers
        for a in roles_of(user)
    )


def capacities(actor: Actor, case: Case) -> list[str]:
    """The "by" names (workflow.py) this actor can act as on this case."""
    if actor.kind == ActorKind.SYSTEM:
        return ["system"]
    if actor.kind == ActorKind.CITIZEN:
        return ["reporter"] if actor.ref and actor.ref == case.citizen_key else []
    user = actor.user
    found = []
    if _dispatcher_here(user, case):
        found.append("dispatcher")
    if case.department_id and any(
        a.role == Role.HANDLER and a.department_id == case.department_id for a in roles_of(user)
    ):
        found.append("handler")
    if case.grid_id and any(a.role == Role.GRID_WORKER and a.region_id == case.grid_id for a in roles_of(user)):
        found.append("grid_worker")
    if covers(user, case.region_code, roles=(Role.SUPERVISOR,)):
        found.append("supervisor")
    if covers(user, case.region_code, roles=(Role.OPERATOR,)):
        found.append("operator")
    # A staff member who filed the case (a grid worker's patrol report) is not its "reporter": 回访 asks citizens,
    # staff do not rate their own reports; the command center closes those (结案), or the system does.
    return found


@dataclass(frozen=True)
class Acting:
    """An actor with the capacities they hold on one case: whom django-fsm's permission checks are given
    (``events.models.By``), so the capacities are worked out once for all the case's transitions."""

    actor: Actor
    capacities: tuple[str, ...]


def acting(actor: Actor, case: Case) -> Acting:
    return Acting(actor, tuple(capacities(actor, case)))


def cases_visible_q(user) -> Q:
    """Cases a staff user may see: in their area scope, in their departments, or reported by them."""
    if is_admin(user):
        return Q()
    area_roles = (Role.GRID_WORKER, Role.OPERATOR, Role.DISPATCHER, Role.SUPERVISOR)
    q = region_scope_q(user, field="region_code", roles=area_roles)
    departments = [a.department_id for a in roles_of(user) if a.role == Role.HANDLER]
    if departments:
        q |= Q(department_id__in=departments)
    return q | Q(reporter_id=user.pk)


def may_see_contact(user, case: Case) -> bool:
    """Operators and dispatchers covering the case may see a citizen's full phone number (each view is logged)."""
    return covers(user, case.region_code, roles=(Role.OPERATOR, Role.DISPATCHER))
