"""config/rows.py: row_insert and row_update write exactly what save() would (foreign keys set after the parent was
saved, JSON, dates, auto_now), and only the fields named."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection
from django.forms.models import model_to_dict
from django.utils import timezone

from config.rows import row_insert, row_update, rows_insert, rows_insert_many, rows_update_many
from dispatch.models import StageClock
from events.models import Case, CaseEvent, Channel, InboundReport
from tests.events.conftest import file_hotline

pytestmark = pytest.mark.django_db


NOW = timezone.now()


def report(case, **changes):
    fields = dict(channel=Channel.HOTLINE, case=case, citizen_name="张三", citizen_phone="13812341234",
                  citizen_key="k", description="路灯不亮", lat=30.1, lng=120.2, raw_payload={"来电": [1, {"a": None}]},
                  received_at=NOW, idempotency_key="", idempotency_scope="")
    return InboundReport(**{**fields, **changes})


def stored(obj) -> dict:
    row = model_to_dict(type(obj).objects.get(pk=obj.pk))
    row.pop("id")
    return row


def test_an_inserted_row_reads_back_as_the_same_row_save_writes(world):
    case = file_hotline(world)
    by_save, by_rows = report(case), report(case)
    by_save.save()
    assert row_insert(by_rows) is by_rows
    assert by_rows.pk is not None and by_rows.pk != by_save.pk and not by_rows._state.adding
    assert stored(by_rows) == stored(by_save)
    assert InboundReport.objects.get(pk=by_rows.pk).raw_payload == {"来电": [1, {"a": None}]}


def test_a_row_built_before_its_parent_was_saved_gets_the_parents_key(world):
    parent = Case.objects.get(pk=file_hotline(world).pk)
    parent.pk, parent.number, parent._state.adding = None, "2099010100001", True
    child = report(parent)  # built while the parent has no key yet (as intake builds a case and its rows)
    row_insert(parent)
    row_insert(child)
    assert InboundReport.objects.get(pk=child.pk).case_id == parent.pk


def test_an_update_writes_all_fields_or_only_the_named_ones(world):
    case = file_hotline(world)
    row = report(case)
    row_insert(row)
    row.description, row.lat = "井盖缺失", 31.5
    row_update(row, ("description",))
    fresh = InboundReport.objects.get(pk=row.pk)
    assert (fresh.description, fresh.lat) == ("井盖缺失", 30.1)
    row.received_at = timezone.now() + timedelta(hours=1)
    row_update(row)
    assert stored(row)["lat"] == 31.5 and InboundReport.objects.get(pk=row.pk).received_at == row.received_at


def new_case(world, number="2099010100001", like=None):
    case = Case.objects.get(pk=like.pk if like is not None else file_hotline(world).pk)
    case.pk, case.number, case._state.adding = None, number, True
    return case


def first_rows(case, world):
    """A case's first rows as intake builds them: its report, its first event, its accept clock (none saved)."""
    event = CaseEvent(case=case, seq=1, kind="reported", actor_id=world.operator.pk, actor_kind="user",
                      to_state="reported", level=case.level, payload={"channel": "hotline"}, occurred_at=NOW,
                      prev_hash="", hash="h" * 64)
    clock = StageClock(case=case, stage="accept", level=case.level, started_at=NOW, deadline=NOW + timedelta(hours=2),
                       warn_at=NOW + timedelta(hours=1), limit_amount=2, limit_unit="work_hours")
    return report(case), event, clock


def test_rows_inserted_together_point_at_each_other_and_read_back_as_row_insert_writes_them(world):
    like = file_hotline(world)
    together, one_by_one = new_case(world, like=like), new_case(world, "2099010100002", like=like)
    rows = first_rows(together, world)
    rows_insert(together, *rows)
    row_insert(one_by_one)
    singles = first_rows(one_by_one, world)
    for row in singles:
        row_insert(row)
    assert all(row.pk is not None and not row._state.adding for row in (together, *rows))
    for row, single in zip((together, *rows), (one_by_one, *singles), strict=True):
        mine, theirs = stored(row), stored(single)
        if "case" in mine:
            assert (mine.pop("case"), theirs.pop("case")) == (together.pk, one_by_one.pk)
            assert row.case is together  # the related object stays cached, with its key
        assert {k: v for k, v in mine.items() if k != "number"} == {k: v for k, v in theirs.items() if k != "number"}


@pytest.mark.postgres
def test_on_postgresql_they_are_one_statement_with_no_transaction(world, django_assert_num_queries):
    case = new_case(world)
    rows = first_rows(case, world)
    with django_assert_num_queries(1) as captured:
        rows_insert(case, *rows)
    assert captured.captured_queries[0]["sql"].startswith("WITH r0 AS (INSERT INTO")
    assert InboundReport.objects.filter(case=case).count() == CaseEvent.objects.filter(case=case).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_row_that_fails_leaves_none_of_them_written(world):
    taken = file_hotline(world).number
    case = new_case(world)
    report_row, event, _clock = first_rows(case, world)
    twin = new_case(world, taken)  # the same case number again: the unique constraint refuses the last row
    counts = Case.objects.count(), InboundReport.objects.count(), CaseEvent.objects.count()
    with pytest.raises(IntegrityError):
        rows_insert(case, report_row, event, twin)
    assert (Case.objects.count(), InboundReport.objects.count(), CaseEvent.objects.count()) == counts


def test_a_row_pointing_at_an_unsaved_row_not_listed_before_it_is_refused(world):
    case = new_case(world)
    with pytest.raises(ValueError, match="unsaved"):
        rows_insert(report(case), case)  # the case comes after the row that needs its key
    assert not Case.objects.filter(number=case.number).exists()


@pytest.mark.postgres
def test_on_postgresql_a_value_json_cannot_carry_is_refused_before_anything_is_written(world):
    case = new_case(world)
    bad = report(case, lat=float("nan"))
    with pytest.raises(ValueError, match="InboundReport value cannot be stored"):
        rows_insert(case, bad)
    assert not Case.objects.filter(number=case.number).exists()


def test_many_rows_of_one_model_get_their_own_keys_in_order(world, django_assert_max_num_queries):
    case = file_hotline(world)
    rows = [report(case, description=f"第{i}次", raw_payload={"i": i, "at": [i, None]}) for i in range(30)]
    singles = [report(case, description=f"第{i}次", raw_payload={"i": i, "at": [i, None]}) for i in range(30)]
    with django_assert_max_num_queries(1 if connection.vendor == "postgresql" else 30):
        rows_insert_many(rows)
    for single in singles:
        row_insert(single)
    assert len({row.pk for row in rows}) == 30 and not any(row._state.adding for row in rows)
    for row, single in zip(rows, singles, strict=True):
        assert stored(row) == stored(single)  # each key holds its own row's values
        assert InboundReport.objects.get(pk=row.pk).description == row.description


def test_many_rows_must_be_of_one_model(world):
    case = file_hotline(world)
    with pytest.raises(ValueError, match="one model"):
        rows_insert_many([report(case), Case()])


def test_many_rows_updated_at_once_hold_their_own_values_and_only_the_fields_named(world, django_assert_max_num_queries):
    from types import SimpleNamespace

    cases = [file_hotline(world) for _ in range(3)]
    for index, case in enumerate(cases):
        case.last_seq, case.description = 40 + index, "not written"
    with django_assert_max_num_queries(1 if connection.vendor == "postgresql" else 3):
        rows_update_many(cases, ("last_seq",))
    assert [Case.objects.get(pk=case.pk).last_seq for case in cases] == [40, 41, 42]
    assert "not written" not in set(Case.objects.values_list("description", flat=True))
    # Plain objects with the model's attribute names (pk, attname) do as well.
    rows_update_many([SimpleNamespace(pk=cases[0].pk, last_seq=7, department_id=None)], ("last_seq", "department"),
                     model=Case)
    assert Case.objects.filter(pk=cases[0].pk, last_seq=7, department=None).exists()


@pytest.mark.postgres  # (the arrays are PostgreSQL's)
def test_the_values_sent_as_arrays_are_the_fields_own_database_values(world):
    from config.rows import Json, Jsonb, _column

    def plain(value):
        return value.obj if isinstance(value, (Json, Jsonb)) else value

    case = file_hotline(world)
    for obj in (case, case.events.get(), case.reports.get(), StageClock.objects.filter(case=case).first()):
        for field in type(obj)._meta.concrete_fields:
            value = getattr(obj, field.attname)
            expected = field.get_db_prep_save(value, connection=connection)
            assert [plain(v) for v in _column(field, [value], connection)] == [plain(expected)], field
