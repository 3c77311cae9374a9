"""Input (query) and output serializers for the events API."""

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Category, CategoryKind


class CategoryFilterSerializer(serializers.Serializer):
    active = serializers.BooleanField(required=False, help_text=_("Only active (true) or inactive (false) ones."))
    kind = serializers.ChoiceField(choices=CategoryKind.choices, required=False, help_text=_("component or event."))
    major = serializers.CharField(
        required=False, help_text=_("Two-digit major class code, e.g. 01."),
        validators=[RegexValidator(r"^\d{2}$", _("A major class code is two digits, e.g. 01."))],
    )


# A plain string in the schema: the department type enum is documented once, on Department.type (one choice set
# under two property names makes drf-spectacular warn without ENUM_NAME_OVERRIDES).
@extend_schema_field({"type": "string", "description": "The type of department responsible (see Department.type)."})
class DepartmentTypeField(serializers.CharField):
    pass


class CategorySerializer(serializers.ModelSerializer):
    department_type = DepartmentTypeField()
    kind_label = serializers.CharField(source="get_kind_display")
    default_urgency_label = serializers.CharField(source="get_default_urgency_display")
    limit_unit_label = serializers.CharField(source="get_limit_unit_display")
    department_type_label = serializers.CharField(source="get_department_type_display")

    class Meta:
        model = Category
        fields = [
            "code", "kind", "kind_label", "major_code", "major_name", "minor_code", "minor_name",
            "default_urgency", "default_urgency_label", "handling_limit", "limit_unit", "limit_unit_label",
            "department_type", "department_type_label", "active",
        ]
        read_only_fields = fields
