from django.contrib import admin, messages
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import CalendarOverride, Heartbeat, RoutingRule
from .selectors import missing_holiday_years, work_calendar_invalidate


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
