"""How intake writes a case: without photos, on PostgreSQL, the case and its first rows (report, first event,
accept clock) are one INSERT statement with no transaction around it; with photos, a transaction of single rows.
Either way the rows and the event chain are the same."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config import fastpath
from dispatch.models import StageClock
from events.chain import row_hash
from events.models import Case, CaseEvent, InboundReport
from tests.events.conftest import file_hotline, file_patrol


def written(case_number: str) -> dict:
    case = Case.objects.get(number=case_number)
    event = CaseEvent.objects.get(case=case)
    return {
        "case": (case.state, case.last_seq, case.last_hash == event.hash, case.region_code),
        "report": list(InboundReport.objects.filter(case=case).values_list("channel", "citizen_phone", "received_at")),
        "event": (event.seq, event.kind, event.prev_hash, event.hash == row_hash(event, case.number),
                  event.occurred_at == case.created_at),
        "clocks": list(StageClock.objects.filter(case=case).values_list("stage", "started_at", "finished_at")),
    }


@pytest.mark.django_db
def test_a_report_without_photos_writes_its_case_report_event_and_clock(world):
    with CaptureQueriesContext(connection) as captured:
        case = file_hotline(world)
    rows = written(case.number)
    assert rows["case"] == ("reported", 1, True, world.grid)
    assert rows["report"] == [("hotline", "13812341234", case.created_at)]
    assert rows["event"] == (1, "reported", "", True, True)
    assert rows["clocks"] == [("accept", case.created_at, None)]
    inserts = [q["sql"] for q in captured.captured_queries
               if "INSERT INTO" in q["sql"] and "casenumbersequence" not in q["sql"]]  # (the day's first number)
    if connection.vendor == "postgresql" and fastpath.active("rows.arrays"):  # (config.rows.rows_insert)
        assert len(inserts) == 1 and inserts[0].startswith("WITH r0 AS (INSERT INTO")
    else:
        assert len(inserts) == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_one_statement_needs_no_transaction_and_the_chain_verifies(world, capsys):
    case = file_hotline(world)  # in autocommit: the statement is its own transaction
    assert written(case.number)["event"] == (1, "reported", "", True, True)
    call_command("verify_events")
    assert "all 1 case chain(s) intact" in capsys.readouterr().out


@pytest.mark.django_db
def test_a_report_with_photos_is_written_row_by_row_with_the_photos_in_its_first_event(world):
    case = file_patrol(world)  # (accepted by rule at once: its second event)
    first = CaseEvent.objects.get(case=case, seq=1)
    assert first.kind == "reported" and first.payload["photos"] == [a.pk for a in case.attachments.all()]
    assert first.hash == row_hash(first, case.number)
