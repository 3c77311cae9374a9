"""The case workflow at a glance: every action, the states it starts from, who may take it and what it needs.

Each action is declared once, as a django-fsm transition on ``events.models.Case`` (sources, target, conditions,
permission, and in ``custom`` the inputs it requires, its clock effect and its notices); ``ACTIONS`` below is read
from those transitions, in the order they are declared. ``events.services.case_act`` is the one function that
performs them. Action names are part of the API (``POST /cases/{number}/actions/{action}/``).

    action                from                       to          by                                requires
    request_field_check   reported                   —           dispatcher, system
    field_check           reported                   —           grid_worker                       result
    accept                reported                   accepted    dispatcher, system
    reject                reported                   rejected    dispatcher                        reason
    merge                 reported, accepted         merged      dispatcher                        target
    confirm_self_handled  reported                   closed      dispatcher
    dispatch              accepted                   dispatched  dispatcher, system                department
    sign                  dispatched                 handling    handler
    return                dispatched, handling       accepted    handler                           reason
    request_extension     handling                   —           handler                           reason
    approve_extension     handling                   —           dispatcher
    deny_extension        handling                   —           dispatcher                        reason
    suspend               handling                   suspended   dispatcher                        reason, until
    resume                suspended                  handling    dispatcher, system
    complete              handling                   handled     handler                           note, photos
    verify                handled                    verified    grid_worker, supervisor           photos
    rework                handled                    handling    grid_worker, dispatcher           reason
    feedback              verified                   closed      reporter, operator                rating
    close                 verified                   closed      dispatcher, system
    reopen                closed                     handling    supervisor                        reason
    escalate              open                       —           dispatcher, supervisor, system    reason
    urge                  open                       —           dispatcher, supervisor            note
    supervise             open                       —           supervisor                        note, type, reply_due
    cancel                open                       cancelled   supervisor                        reason

(— : the state stays; open: any open state.) tests/events/test_workflow.py holds this table to the transitions.

Who ("by"):
    dispatcher  — a dispatcher of the command center that owns the case at its current level (street/district/city)
    handler     — a handler of the department in charge
    grid_worker — the grid worker of the case's unit grid
    supervisor  — a supervisor whose region covers the case
    operator    — a hotline operator whose region covers the case (on a citizen's behalf)
    reporter    — the citizen who reported the case (staff who filed a case do not give its feedback)
    system      — Gridloop itself (rules, the sweep)
"""

from dataclasses import dataclass

from django_fsm import Transition

from .models import Audience, By, Case, ClockEffect, Condition


@dataclass(frozen=True)
class Action:
    """One action as its transition declares it."""

    name: str  # API name, and the kind of its case event
    method: str  # the django-fsm transition on Case
    sources: tuple[str, ...]
    target: str | None  # None: the state stays
    permission: By  # who may take it
    requires: tuple[str, ...] = ()  # inputs that must be present (400 naming the field when missing)
    conditions: tuple[Condition, ...] = ()  # what must hold besides the source state (409 saying why)
    clock: ClockEffect = ClockEffect.MOVE
    notices: tuple[Audience, ...] = ()

    @property
    def by(self) -> tuple[str, ...]:
        """The capacities that may take it (see "Who" above)."""
        return self.permission.capacities


def _actions() -> dict[str, Action]:
    found = []
    for method, member in vars(Case).items():  # in the order of declaration
        meta = getattr(member, "_django_fsm", None)
        if meta is None:
            continue
        transitions: list[Transition] = list(meta.transitions.values())  # one per source, alike but for it
        first = transitions[0]
        found.append(Action(
            name=first.custom["name"] or method, method=method, sources=tuple(t.source for t in transitions),
            target=first.target, permission=first.permission, requires=first.custom["requires"],
            conditions=tuple(first.conditions), clock=first.custom["clock"], notices=first.custom["notices"]))
    return {action.name: action for action in found}


ACTIONS: dict[str, Action] = _actions()
ACTION_OF_METHOD: dict[str, Action] = {action.method: action for action in ACTIONS.values()}


def notices_of(kind: str) -> tuple[Audience, ...]:
    """Whom an event of this kind is announced to (the action's notices; events that are not actions: nobody)."""
    action = ACTIONS.get(kind)
    return action.notices if action is not None else ()
