"""The steps of a case change that the ``dispatch`` app owns, called by ``events`` through one registered object.

``events`` holds the case, its state machine and its log and imports nothing of ``dispatch`` (DESIGN.md: imports
flow ``config`` ← ``grids`` ← ``events`` ← ``dispatch``). Yet a transition (``events.services.case_act``) must move
the case's stage clocks, write its notices to the outbox, ask routing for a department and create 催办/督办 orders —
all in its own transaction, under its row lock. Those are dispatch's: dispatch registers them here once, in
``DispatchConfig.ready()`` (``dispatch.steps``), and events calls them explicitly through the functions below, in
the caller's transaction (no signals, nothing deferred).

Without the registration (``dispatch`` not installed, or not ready yet) every call raises ``ImproperlyConfigured``:
a case change never silently skips its clocks or notices.
"""

from datetime import datetime
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

from .models import Case, CaseEvent, ClockEffect


class RouteSuggestion(Protocol):
    """Routing's answer for an accepted case (``dispatch.routing.RouteDecision``), as it goes into the event."""

    def as_payload(self) -> dict: ...


class DispatchSteps(Protocol):
    """What a case change asks of dispatch. Each is called with the case row locked, inside the change's transaction."""

    def clocks_for_new_case(self, *, case: Case, now: datetime) -> list[Any]:
        """The stage clocks a case just reported starts with, built, not saved (the caller inserts them)."""
        ...

    def clocks_on_transition(self, *, case: Case, effect: ClockEffect, now: datetime) -> list[Any]:
        """Move the case's clocks as the action just applied declares (its ``ClockEffect``); returns all its clocks
        as they are now."""
        ...

    def case_clocks(self, case_id: int) -> list[Any]:
        """The case's stage clocks, oldest first (the case detail shows them)."""
        ...

    def notifications_for_event(self, *, case: Case, event: CaseEvent) -> list[Any]:
        """Write the outbox messages that the event means."""
        ...

    def route(self, case: Case) -> RouteSuggestion:
        """The department an accepted case should go to, and why."""
        ...

    def supervision_order_create(self, *, case: Case, kind: str, inputs: dict, user: Any, now: datetime,
                                 event_seq: int) -> dict:
        """The 催办/督办 order of an urge or supervise action; returns its part of the event payload."""
        ...


_registered: DispatchSteps | None = None


def dispatch_steps_register(steps: DispatchSteps) -> None:
    """Register dispatch's steps (once, from ``DispatchConfig.ready()``; the same object again changes nothing)."""
    global _registered
    if _registered is not None and _registered is not steps:
        raise ImproperlyConfigured(f"dispatch steps are registered already ({_registered!r}); not replacing them")
    _registered = steps


def dispatch_steps() -> DispatchSteps:
    """The registered steps; ``ImproperlyConfigured`` when there are none."""
    if _registered is None:
        raise ImproperlyConfigured(
            "a case change needs the dispatch app's steps (clocks, outbox, routing, supervision), and none are "
            "registered: add 'dispatch' to INSTALLED_APPS (its AppConfig.ready() registers them)")
    return _registered


# --- The calls events makes (named as dispatch names them) ------------------------------------------------------------
def clocks_for_new_case(*, case: Case, now: datetime) -> list[Any]:
    return dispatch_steps().clocks_for_new_case(case=case, now=now)


def clocks_on_transition(*, case: Case, effect: ClockEffect, now: datetime) -> list[Any]:
    return dispatch_steps().clocks_on_transition(case=case, effect=effect, now=now)


def case_clocks(case_id: int) -> list[Any]:
    return dispatch_steps().case_clocks(case_id)


def notifications_for_event(*, case: Case, event: CaseEvent) -> list[Any]:
    return dispatch_steps().notifications_for_event(case=case, event=event)


def route(case: Case) -> RouteSuggestion:
    return dispatch_steps().route(case)


def supervision_order_create(*, case: Case, kind: str, inputs: dict, user: Any, now: datetime,
                             event_seq: int) -> dict:
    return dispatch_steps().supervision_order_create(case=case, kind=kind, inputs=inputs, user=user, now=now,
                                                     event_seq=event_seq)
