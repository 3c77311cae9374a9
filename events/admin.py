from django.contrib import admin

from .models import Category


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "kind", "major_name", "minor_name", "default_urgency", "handling_limit", "limit_unit",
                    "department_type", "active"]
    list_filter = ["kind", "active", "default_urgency", "limit_unit", "department_type"]
    search_fields = ["code", "major_name", "minor_name"]
    readonly_fields = ["code", "kind", "major_code", "minor_code"]
