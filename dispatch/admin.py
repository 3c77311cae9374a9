from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import (
    CalendarOverride,
    Heartbeat,
    InboxItem,
    OutboxMessage,
    OutboxState,
    RoutingRule,
    SlaPolicy,
    StageClock,
    SupervisionTemplate,
)
from .outbox import outbox_retry
from .selectors import missing_holiday_years, work_calendar_invalidate
from .sla import sla_policies_invalidate


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "seen_at", "detail"]
    readonly_fields = ["name", "seen_at", "detail"]


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(admin.ModelAdmin):
    """Extra holidays and working days; warns on the list when a coming year has no holiday table at all."""

    list_display = ["day", "weekday", "is_workday", "note", "updated_at"]
    list_filter = ["is_workday"]
    search_fields = ["note"]
    date_hierarchy = "day"
    readonly_fields = ["updated_at"]

    @admin.display(description=gettext_lazy("weekday"))
    def weekday(self, obj):
        return date_format(obj.day, "l")

    def changelist_view(self, request, extra_context=None):
        years = missing_holiday_years()
        if years:
            messages.warning(request, _(
                "No statutory holiday table for %(years)s: the chinesecalendar package does not know it and there are "
                "no calendar overrides for it, so working-day deadlines there count weekends only. Enter the State "
                "Council's holiday schedule (holidays and make-up working days) here as calendar overrides the day "
                "it is published."
            ) % {"years": ", ".join(str(year) for year in years)})
        return super().changelist_view(request, extra_context)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        work_calendar_invalidate()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        work_calendar_invalidate()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        work_calendar_invalidate()


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["id", "category", "major_kind", "major_code", "region", "department", "priority", "auto_dispatch",
                    "active"]
    list_filter = ["active", "auto_dispatch", "major_kind"]
    search_fields = ["region__code", "region__name", "department__name", "category__minor_name"]
    raw_id_fields = ["category", "region", "department"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """Notification deliveries; filter on "parked" for those that kept failing, fix the cause, then "retry now"."""

    list_display = ["id", "kind", "case", "channel", "recipient_user", "recipient_address", "state", "attempts",
                    "next_attempt_at", "last_error", "created_at", "delivered_at"]
    list_filter = ["state", "channel", "kind"]
    search_fields = ["case__number", "recipient_address", "recipient_user__username", "title"]
    readonly_fields = [f.name for f in OutboxMessage._meta.fields]
    actions = ["retry_now"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # parked, not dropped

    @admin.action(description=gettext_lazy("Retry now"))
    def retry_now(self, request, queryset):
        count = outbox_retry(ids=list(queryset.exclude(state=OutboxState.DELIVERED).values_list("pk", flat=True)))
        self.message_user(request, _("%(count)s message(s) will be sent again now.") % {"count": count})


@admin.register(InboxItem)
class InboxItemAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "title", "case", "created_at", "read_at"]
    list_filter = ["read_at"]
    search_fields = ["user__username", "title", "case__number"]
    readonly_fields = ["user", "outbox", "title", "body", "case", "created_at", "read_at"]

    def has_add_permission(self, request):
        return False


class SlaPolicyForm(forms.ModelForm):
    """The checks of the SLA policy API (``dispatch.services.sla_policy_check``), so the admin cannot store a limit
    the clocks cannot count (e.g. 1.5 work_day)."""

    class Meta:
        model = SlaPolicy
        fields = ["stage", "category", "urgency", "level", "amount", "unit", "priority"]

    def clean(self):
        from config.errors import InvalidInput

        from .services import SLA_POLICY_FIELDS, sla_policy_check

        cleaned = super().clean()
        if not self.errors:
            values = {name: cleaned.get(name) for name in SLA_POLICY_FIELDS}
            values["urgency"], values["level"] = values["urgency"] or "", values["level"] or ""
            try:
                sla_policy_check(values, self.instance.pk)
            except InvalidInput as error:
                if error.field in self.fields:
                    raise ValidationError({error.field: error.message}) from None
                raise ValidationError(error.message) from None
        return cleaned


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    """Time limits per stage; blank category / urgency / level match any, the most specific row wins."""

    form = SlaPolicyForm
    list_display = ["stage", "category", "urgency", "level", "amount", "unit", "priority"]
    list_filter = ["stage", "urgency", "level", "unit"]
    autocomplete_fields = ["category"]
    search_fields = ["category__code", "category__minor_name"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        sla_policies_invalidate()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        sla_policies_invalidate()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        sla_policies_invalidate()


@admin.register(StageClock)
class StageClockAdmin(admin.ModelAdmin):
    """Read-only: clocks are written by the case transitions and the sweep."""

    list_display = ["case", "stage", "level", "started_at", "deadline", "light", "finished_at", "on_time",
                    "escalated_for_breach"]
    list_filter = ["stage", "light", "level", "on_time"]
    search_fields = ["case__number"]
    list_select_related = ["case"]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SupervisionTemplate)
class SupervisionTemplateAdmin(admin.ModelAdmin):
    """The notes a supervisor starts a 催办 or 督办 from on the cockpit."""

    list_display = ["title", "kind", "type", "reply_days", "position"]
    list_filter = ["kind", "type"]
    list_editable = ["position"]
