"""The case event log: hash chain verification, tamper detection, and the PostgreSQL append-only trigger."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from events.integrity import chain_verify
from events.models import CaseEvent
from tests.events.conftest import act, file_patrol

pytestmark = pytest.mark.django_db


def _tamper(sql, params):
    """Change a row behind the application's back (on PostgreSQL the trigger must be bypassed to do so)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # fire pending FK checks so the table can be altered
            cursor.execute("ALTER TABLE events_caseevent DISABLE TRIGGER case_event_append_only")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE events_caseevent ENABLE TRIGGER case_event_append_only")


def test_verify_events_passes_on_intact_chains(world, capsys):
    case = file_patrol(world)
    act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    file_patrol(world)
    call_command("verify_events")
    assert "all 2 case chain(s) intact" in capsys.readouterr().out


def test_verify_events_names_the_first_altered_row(world, capsys):
    case = file_patrol(world)
    act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    act(case, "sign", world.handler)
    dispatch_event = CaseEvent.objects.get(case=case, kind="dispatch")
    _tamper("UPDATE events_caseevent SET payload = %s WHERE id = %s", ['{"department": "elsewhere"}', dispatch_event.pk])
    with pytest.raises(CommandError, match="1 of 1 case chain"):
        call_command("verify_events")
    out = capsys.readouterr().out
    assert f"case {case.number}: event #{dispatch_event.seq} (id {dispatch_event.pk})" in out
    assert "row was altered" in out


def test_a_deleted_last_event_is_detected(world):
    case = file_patrol(world)
    case = act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    last = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    _tamper("DELETE FROM events_caseevent WHERE id = %s", [last.pk])
    problem = chain_verify(case)
    assert problem is not None and "events are missing" in problem.problem


def test_a_deleted_middle_event_breaks_the_sequence(world):
    case = file_patrol(world)
    case = act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    case = act(case, "sign", world.handler)
    middle = CaseEvent.objects.get(case=case, kind="dispatch")
    _tamper("DELETE FROM events_caseevent WHERE id = %s", [middle.pk])
    problem = chain_verify(case)
    assert problem.seq == middle.seq + 1 and "expected event" in problem.problem


@pytest.mark.postgres
def test_postgresql_refuses_update_and_delete_of_case_events(world):
    case = file_patrol(world)
    event = CaseEvent.objects.filter(case=case).first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        CaseEvent.objects.filter(pk=event.pk).update(kind="forged")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        CaseEvent.objects.filter(pk=event.pk).delete()
    assert CaseEvent.objects.get(pk=event.pk).kind == "reported"
