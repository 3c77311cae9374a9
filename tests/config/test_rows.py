"""config/rows.py: row_insert and row_update write exactly what save() would (foreign keys set after the parent was
saved, JSON, dates, auto_now), and only the fields named."""

from datetime import timedelta

import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from config.rows import row_insert, row_update
from events.models import Case, Channel, InboundReport
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
