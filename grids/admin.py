from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import ApiToken, Department, GeoVersion, Region, RoleAssignment, User


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level", "parent", "updated_at"]
    list_filter = ["level"]
    search_fields = ["code", "name"]
    raw_id_fields = ["parent"]
    readonly_fields = ["updated_at"]

    def has_change_permission(self, request, obj=None):
        # Boundaries change through import_regions (validated, all-or-nothing, rebuilds the locate index).
        return False


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "type", "level", "region", "active"]
    list_filter = ["level", "type", "active"]
    search_fields = ["code", "name"]
    raw_id_fields = ["region"]


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    extra = 0
    raw_id_fields = ["region", "department"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = BaseUserAdmin.fieldsets + ((_("Gridloop"), {"fields": ("display_name", "phone")}),)
    list_display = ["username", "display_name", "is_active", "is_staff"]
    search_fields = ["username", "display_name"]
    inlines = [RoleAssignmentInline]


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "region", "department", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "region__code", "department__code"]
    raw_id_fields = ["user", "region", "department"]


@admin.register(GeoVersion)
class GeoVersionAdmin(admin.ModelAdmin):
    list_display = ["version"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Users' API tokens, one per device: an administrator revokes one by deleting it (the token itself is never
    shown again: only its hash is stored)."""

    list_display = ["user", "device", "created_at", "last_used_at", "expires_at"]
    list_filter = ["expires_at"]
    search_fields = ["user__username", "device"]
    readonly_fields = ["user", "device", "created_at", "last_used_at", "expires_at"]
    exclude = ["key_hash", "password_mark"]

    def has_add_permission(self, request):
        return False  # tokens are issued by signing in (POST /api/v1/auth/token/)

    def has_change_permission(self, request, obj=None):
        return False
