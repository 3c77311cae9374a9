"""The workflow is declared once, on Case's django-fsm transitions: the one-screen table in events/workflow.py's
docstring, ACTIONS, the payload functions and django-fsm's own answers all agree with those declarations."""

import pytest

from events import workflow
from events.access import acting
from events.models import OPEN_STATES, Audience, By, Case, CaseState, ClockEffect, Condition, EventKind
from events.services import ACTION_PAYLOADS, allowed_actions
from events.workflow import ACTIONS
from tests.events.states import ROLE_FOR_ACTION, actor_for, drive

TRANSITIONS = [member for member in vars(Case).values() if hasattr(member, "_django_fsm")]


def _table() -> dict[str, tuple]:
    """The docstring's table: action -> (sources, target, by, requires)."""
    lines = workflow.__doc__.split("    action ", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    rows = {}
    for line in lines:
        cells = [cell.strip() for cell in (line[4:26], line[26:53], line[53:65], line[65:99], line[99:])]
        name, sources, target, by, requires = cells
        rows[name] = (sources, target, by, requires)
    return rows


def _words(values) -> str:
    return ", ".join(str(value) for value in values)


def test_the_docstring_table_is_the_transitions():
    table = _table()
    assert list(table) == list(ACTIONS)
    for name, action in ACTIONS.items():
        sources = "open" if action.sources == tuple(OPEN_STATES) else _words(action.sources)
        assert table[name] == (sources, action.target or "—", _words(action.by), _words(action.requires)), name


def test_every_transition_is_an_action_declared_in_full():
    assert [action.method for action in ACTIONS.values()] == [t.__name__ for t in TRANSITIONS]
    for action in ACTIONS.values():
        assert action.name in EventKind.values  # its event's kind
        assert isinstance(action.permission, By) and action.by
        assert all(isinstance(condition, Condition) for condition in action.conditions)
        assert isinstance(action.clock, ClockEffect)
        assert all(isinstance(audience, Audience) for audience in action.notices)
        assert set(action.sources) <= set(CaseState.values)


def test_every_payload_function_belongs_to_an_action():
    assert set(ACTION_PAYLOADS) <= set(ACTIONS)


def test_a_condition_names_the_reason_it_refuses():
    for action in ACTIONS.values():
        for condition in action.conditions:
            assert condition.__name__ != "<lambda>" and condition.problem.__name__ == condition.__name__


@pytest.mark.django_db
@pytest.mark.usefixtures("in_english")
@pytest.mark.parametrize("state", [s.value for s in CaseState])
def test_allowed_actions_are_djangos_fsm_available_transitions(world, state):
    case = drive(world, state, extension_pending=state == "handling")
    for capacity in sorted(set(ROLE_FOR_ACTION.values())):
        actor = actor_for(world, capacity)
        allowed = allowed_actions(case, actor)
        library = {t.name for t in case.get_available_user_state_transitions(acting(actor, case))}
        assert allowed == [a.name for a in ACTIONS.values() if a.method in library]
        for name in allowed:
            assert state in ACTIONS[name].sources and capacity in ACTIONS[name].by
