"""config/representation.py: PlannedOutput gives the document DRF's own Serializer.to_representation gives — on every
kind of field and source the case output uses, on the edge cases DRF decides (missing attributes, None, defaults),
and on real case details and lists."""

import datetime
import zoneinfo

import pytest
from django.utils import timezone
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from config.representation import PlannedOutput
from events import selectors
from events.models import Case, CaseState
from events.serializers import CaseDetailSerializer, CaseListSerializer, case_detail_data
from tests.events.conftest import act, file_hotline, file_patrol


def drf_document(serializer, instance, monkeypatch) -> dict:
    """The same serializer's document with PlannedOutput switched off everywhere (nested serializers too)."""
    with monkeypatch.context() as patch:
        patch.setattr(PlannedOutput, "to_representation", serializers.Serializer.to_representation)
        return serializer.to_representation(instance)


class Thing:
    def __init__(self, **values):
        self.__dict__.update(values)

    def label(self):
        return gettext_lazy("Label")

    def needs_argument(self, x):  # DRF does not call a callable with required arguments
        return x


class Child(PlannedOutput, serializers.Serializer):
    n = serializers.IntegerField()
    at = serializers.DateTimeField(allow_null=True)


class Shouting(serializers.CharField):
    def to_representation(self, value):
        return str(value).upper()


class Sample(PlannedOutput, serializers.Serializer):
    text = serializers.CharField()
    number = serializers.IntegerField()
    ratio = serializers.FloatField()
    flag = serializers.BooleanField()
    choice = serializers.ChoiceField(choices=[("1", "one"), ("2", "two")])
    data = serializers.JSONField()
    when = serializers.DateTimeField()
    when_naive = serializers.DateTimeField()
    when_utc = serializers.DateTimeField(default_timezone=datetime.UTC)
    when_text = serializers.DateTimeField(format="%Y/%m/%d")
    label = serializers.CharField()
    method_ref = serializers.CharField(source="needs_argument")
    nested = serializers.CharField(source="inner.name", allow_null=True)
    missing_null = serializers.CharField(source="absent", allow_null=True)
    missing_default = serializers.CharField(source="absent", default="d")
    missing_skipped = serializers.CharField(source="absent", required=False)
    none_value = serializers.CharField(allow_null=True)
    whole = Child(source="*")
    children = Child(many=True)
    shouted = Shouting(source="text")
    computed = serializers.SerializerMethodField()

    def get_computed(self, obj) -> str:
        return f"{obj['text'] if isinstance(obj, dict) else obj.text}!"


def sample(**changes):
    aware = datetime.datetime(2026, 12, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC)
    values = dict(
        text="街道", number=7, ratio=1.5, flag=1, choice=2, data={"a": [1, None]}, when=aware,
        when_naive=datetime.datetime(2026, 12, 2, 11, 0), when_utc=aware, when_text=aware, inner=Thing(name="网格"),
        none_value=None, n=3, at=aware, children=[Thing(n=1, at=None), Thing(n=2, at=aware)],
    )
    return Thing(**{**values, **changes})


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC"])
def test_every_field_kind_and_source_reads_as_drf_reads_it(zone, monkeypatch, settings):
    settings.USE_TZ = True
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        for instance in (sample(), sample(inner=None, choice="x", flag="false", when=None),
                         {**sample().__dict__, "label": "x", "needs_argument": "y", "inner": {"name": "k"}}):
            planned = Sample().to_representation(instance)
            assert planned == drf_document(Sample(), instance, monkeypatch)
    assert "missing_skipped" not in planned and planned["missing_default"] == "d"


def test_the_shown_time_follows_the_active_time_zone():
    with timezone.override(zoneinfo.ZoneInfo("Asia/Shanghai")):
        assert Sample().to_representation(sample())["when"] == "2026-12-02T11:04:05.678000+08:00"
    with timezone.override(datetime.UTC):
        assert Sample().to_representation(sample())["when"] == "2026-12-02T03:04:05.678000Z"


def test_a_required_attribute_missing_is_drf_s_error():
    class Strict(PlannedOutput, serializers.Serializer):
        gone = serializers.CharField()

    with pytest.raises(AttributeError, match="gone"):
        Strict().to_representation(Thing())


@pytest.mark.django_db
def test_case_details_and_lists_are_the_documents_drf_makes(world, monkeypatch, rf):
    request = rf.get("/")
    patrol = file_patrol(world)
    hotline = file_hotline(world)
    act(hotline, "accept", world.dispatcher, category=world.category.code)
    act(hotline, "dispatch", world.dispatcher, department=world.dept.code)
    act(hotline, "sign", world.handler)
    merged = file_hotline(world)
    act(merged, "merge", world.dispatcher, target=hotline.number)
    cancelled = file_hotline(world)
    act(cancelled, "cancel", world.supervisor, reason="重复来电")
    cases = [selectors.case_detail_get(number=c.number) for c in (patrol, hotline, merged, cancelled)]
    assert {c.state for c in cases} >= {CaseState.HANDLING, CaseState.CANCELLED}
    assert cases[2].merged_into_id == cases[1].pk and cases[0].attachments.all()
    for case in cases:
        detail = case_detail_data(case, request=request, allowed_actions=["urge"])
        serializer = CaseDetailSerializer(context={"request": request, "allowed_actions": ["urge"]})
        assert detail == drf_document(serializer, case, monkeypatch)
        assert detail["timeline"] and detail["clocks"] is not None
    listed = CaseListSerializer(Case.objects.order_by("id"), many=True)
    with monkeypatch.context() as patch:
        patch.setattr(PlannedOutput, "to_representation", serializers.Serializer.to_representation)
        by_drf = CaseListSerializer(Case.objects.order_by("id"), many=True).data
    assert listed.data == by_drf and len(by_drf) == 4
