"""Admin for sensors: register devices (through events.sensors.services, which locates the unit grid and makes the
secret), integration keys, rules; read-only views of the rule states, the alarm log and the reject counters.

A secret is shown in full once, in the message after it was made (registration, a new key, rotation)."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from config.errors import DomainError
from events.admin import ReadOnlyAdmin

from .models import (
    SensorAlarm,
    SensorDevice,
    SensorIntegrationKey,
    SensorRejectCount,
    SensorRule,
    SensorRuleState,
)
from .services import (
    device_check,
    device_register,
    device_secret_rotate,
    integration_key_create,
    sensor_config_changed,
)


def _masked(secret: str) -> str:
    return f"{secret[:4]}…{secret[-2:]}" if secret else ""


class SensorDeviceForm(forms.ModelForm):
    class Meta:
        model = SensorDevice
        fields = ["device_id", "type", "name", "lat", "lng", "address", "department", "integration_key", "active"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        values = {**data, "device_id": data.get("device_id") or (self.instance.device_id if self.instance else "")}
        try:
            self.checked = device_check(values)
        except DomainError as exc:
            name = exc.field if exc.field in self.fields else None
            self.add_error(name, exc.message.split(": ", 1)[-1] if name else exc.message)
        return data


@admin.register(SensorDevice)
class SensorDeviceAdmin(admin.ModelAdmin):
    form = SensorDeviceForm
    list_display = ["device_id", "type", "name", "region_code", "department", "integration_key", "active"]
    list_filter = ["type", "active"]
    search_fields = ["device_id", "name", "address", "region_code"]
    raw_id_fields = ["department"]
    readonly_fields = ["grid", "region_code", "secret_hint", "registered_at", "updated_at"]
    actions = ["rotate_secrets"]

    @admin.display(description=_("secret"))
    def secret_hint(self, obj):
        return _masked(obj.secret)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (["device_id"] if obj is not None else [])

    def save_model(self, request, obj, form, change):
        device, created, secret = device_register(**form.checked)
        obj.pk = device.pk
        obj.refresh_from_db()
        if secret:
            self.message_user(request, _("Secret of %(device)s (shown only now): %(secret)s")
                              % {"device": device.device_id, "secret": secret}, messages.WARNING)

    @admin.action(description=_("Give the selected sensors new secrets"))
    def rotate_secrets(self, request, queryset):
        for device in queryset:
            secret = device_secret_rotate(device=device)
            self.message_user(request, _("Secret of %(device)s (shown only now): %(secret)s")
                              % {"device": device.device_id, "secret": secret}, messages.WARNING)


@admin.register(SensorIntegrationKey)
class SensorIntegrationKeyAdmin(admin.ModelAdmin):
    list_display = ["key_id", "name", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["key_id", "name"]

    def get_fields(self, request, obj=None):
        return ["name"] if obj is None else ["key_id", "name", "secret_hint", "active", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["key_id", "secret_hint", "created_at"]

    @admin.display(description=_("secret"))
    def secret_hint(self, obj):
        return _masked(obj.secret)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key = integration_key_create(name=form.cleaned_data["name"])
        obj.pk = key.pk
        obj.refresh_from_db()
        self.message_user(request, _("Integration key %(key)s, secret (shown only now): %(secret)s")
                          % {"key": key.key_id, "secret": key.secret}, messages.WARNING)


@admin.register(SensorRule)
class SensorRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "device_type", "metric", "comparison", "threshold", "duration_seconds", "category",
                    "urgency", "verify_on_recovery", "active"]
    list_filter = ["device_type", "active", "urgency"]
    search_fields = ["name", "metric"]
    raw_id_fields = ["category"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        sensor_config_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        sensor_config_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        sensor_config_changed()


@admin.register(SensorRuleState)
class SensorRuleStateAdmin(ReadOnlyAdmin):
    list_display = ["device", "rule", "run_start", "run_fired", "last_ts", "case", "occurrences", "verify_pending"]
    list_filter = ["run_fired", "rule"]
    search_fields = ["device__device_id", "case__number"]


@admin.register(SensorAlarm)
class SensorAlarmAdmin(ReadOnlyAdmin):
    list_display = ["device", "rule", "kind", "seq", "ts", "value", "outcome", "case", "processed_at"]
    list_filter = ["kind", "outcome"]
    search_fields = ["device__device_id", "case__number"]


@admin.register(SensorRejectCount)
class SensorRejectCountAdmin(ReadOnlyAdmin):
    list_display = ["day", "source", "reason", "count", "last_detail", "last_at"]
    list_filter = ["source", "reason"]
    date_hierarchy = "day"
