"""Serializers of the sensor API: the batch (for the OpenAPI document — the view reads the raw body to check its
signature), the ingestion answer, devices and reject counts."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .models import SensorDevice, SensorType


class SensorEventSerializer(serializers.Serializer):
    device_id = serializers.CharField(help_text=_("The device's id. May be left out when the device signs."))
    seq = serializers.IntegerField(min_value=0, help_text=_("Per device, increasing; (device_id, seq) is stored once."))
    ts = serializers.CharField(help_text=_("When measured: Unix seconds, or ISO 8601 with a UTC offset."))
    metric = serializers.CharField(help_text=_("E.g. water_level, tilt, smoke, fill, noise."))
    value = serializers.FloatField()
    alarm = serializers.BooleanField(required=False, help_text=_("The device's own alarm flag (default false)."))


class SensorBatchSerializer(serializers.Serializer):
    events = SensorEventSerializer(many=True, help_text=_("1 to 1,000 events."))


class SensorProblemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("Position of the event in the batch, from 0."))
    status = serializers.ChoiceField(choices=["rejected", "duplicate"])
    reason = serializers.CharField(help_text=_("A machine-readable reason, e.g. unknown_device, malformed."))
    detail = serializers.CharField()


class SensorIngestResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    accepted = serializers.IntegerField(help_text=_("Stored now (new readings)."))
    duplicates = serializers.IntegerField(help_text=_("Already stored before (a retry or a replay): ignored."))
    rejected = serializers.IntegerField()
    problems = SensorProblemSerializer(many=True, help_text=_("One entry per event not accepted, in batch order."))


class SensorDeviceSerializer(serializers.ModelSerializer):
    type_label = serializers.CharField(source="get_type_display")
    grid = serializers.CharField(source="grid.code")
    department = serializers.CharField(source="department.code")
    department_name = serializers.CharField(source="department.name")

    class Meta:
        model = SensorDevice
        fields = ["device_id", "type", "type_label", "name", "lat", "lng", "address", "grid", "department",
                  "department_name", "active", "registered_at"]


class SensorDeviceFilterSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=SensorType.choices, required=False)
    active = serializers.BooleanField(required=False, help_text=_("Only active (true) or inactive (false) ones."))
    region = serializers.RegexField(r"^\d{1,15}$", required=False, help_text=_("A region code prefix."))


class SensorRejectFilterSerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=366, default=7, help_text=_("The last N days (UTC)."))


class SensorRejectTotalSerializer(serializers.Serializer):
    source = serializers.CharField()
    reason = serializers.CharField()
    count = serializers.IntegerField()
    last_detail = serializers.CharField()
    last_at = serializers.DateTimeField()
