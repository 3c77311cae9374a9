"""Input (query) and output serializers for the grids API. Inputs validate query strings; outputs only shape data."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from .geo import LAT_RANGE, LNG_RANGE
from .models import COMMAND_LEVELS, DepartmentType, Level, Role

MAX_TREE_DEPTH = 5
DEFAULT_TREE_DEPTH = 3


# --- Shared ----------------------------------------------------------------------------------------------------------
class ErrorSerializer(serializers.Serializer):
    """The error envelope of config.api.exception_handler."""

    detail = serializers.CharField(help_text=_("A sentence a person can act on."))
    code = serializers.CharField(help_text=_("A machine-readable error code."))
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text=_("For validation errors: the messages of each bad field."),
    )


class TokenRequestSerializer(AuthTokenSerializer):
    device = serializers.CharField(required=False, allow_blank=True, max_length=100, help_text=_(
        "A name for the device (e.g. 'phone of Li Si'): signing in again on it replaces its token."))


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text=_("Send as the header 'Authorization: Token <token>'."))
    device = serializers.CharField()
    expires_at = serializers.DateTimeField(help_text=_("Moves on with every use (sliding lifetime)."))


class ApiTokenSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    device = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    current = serializers.SerializerMethodField(help_text=_("The token this request was made with."))

    def get_current(self, token) -> bool:
        return token.pk == self.context.get("current")


# --- Query inputs ----------------------------------------------------------------------------------------------------
class RegionFilterSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=Level.choices, required=False, help_text=_("Only regions of this level."))
    parent = serializers.CharField(required=False, max_length=15, help_text=_("Only direct children of this code."))
    q = serializers.CharField(required=False, max_length=100, help_text=_("Name or code contains this text."))


class RegionTreeQuerySerializer(serializers.Serializer):
    root = serializers.CharField(
        required=False, max_length=15,
        help_text=_("Code of the region at the top of the tree; default: your topmost visible region(s)."),
    )
    depth = serializers.IntegerField(
        required=False, default=DEFAULT_TREE_DEPTH, min_value=1, max_value=MAX_TREE_DEPTH,
        help_text=_("Levels in the answer, the root counting as one (1 = the root only)."),
    )


class LocateQuerySerializer(serializers.Serializer):
    lat = serializers.FloatField(min_value=LAT_RANGE[0], max_value=LAT_RANGE[1], help_text=_("WGS84 latitude."))
    lng = serializers.FloatField(min_value=LNG_RANGE[0], max_value=LNG_RANGE[1], help_text=_("WGS84 longitude."))


class DepartmentFilterSerializer(serializers.Serializer):
    level = serializers.ChoiceField(
        choices=[(lv.value, lv.label) for lv in COMMAND_LEVELS], required=False,
        help_text=_("Only departments of this level."),
    )
    type = serializers.ChoiceField(
        choices=DepartmentType.choices, required=False, help_text=_("Only departments of this type.")
    )
    region = serializers.CharField(
        required=False, max_length=15, help_text=_("Only departments whose jurisdiction is this region code.")
    )
    active = serializers.BooleanField(required=False, help_text=_("Only active (true) or inactive (false) ones."))


# --- Regions ---------------------------------------------------------------------------------------------------------
class RegionRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.ChoiceField(choices=Level.choices)


class RegionListSerializer(RegionRefSerializer):
    parent_code = serializers.CharField(source="parent.code", allow_null=True)


@extend_schema_field({"type": "object", "description": "A GeoJSON geometry (Polygon or MultiPolygon, WGS84)."})
class GeometryField(serializers.JSONField):
    pass


class RegionDetailSerializer(RegionListSerializer):
    ancestors = RegionRefSerializer(many=True, help_text=_("City first."))
    children = RegionRefSerializer(many=True, help_text=_("Children within your scope."))
    boundary = GeometryField()


class RegionTreeNodeSerializer(serializers.Serializer):
    """A node of ``regions/tree``, built from dicts (see grids.api). ``children`` is null where depth cut the tree."""

    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.ChoiceField(choices=Level.choices)

    def get_fields(self):
        fields = super().get_fields()
        fields["children"] = RegionTreeNodeSerializer(
            many=True, allow_null=True, help_text=_("Visible children; null where the depth limit cut the tree.")
        )
        return fields


class RegionFeaturePropertiesSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.ChoiceField(choices=Level.choices)
    parent_code = serializers.CharField(allow_null=True)


@extend_schema_field({"type": "string", "pattern": "^Feature$", "example": "Feature"})
class FeatureTypeField(serializers.CharField):
    pass


class RegionFeatureSerializer(serializers.Serializer):
    """Schema only: the body is grids.services.region_feature(region)."""

    type = FeatureTypeField()
    properties = RegionFeaturePropertiesSerializer()
    geometry = GeometryField()


# --- Locate ----------------------------------------------------------------------------------------------------------
class NamedCodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class LocateResultSerializer(serializers.Serializer):
    grid = NamedCodeSerializer()
    community = NamedCodeSerializer(allow_null=True)
    street = NamedCodeSerializer(allow_null=True)
    district = NamedCodeSerializer(allow_null=True)
    city = NamedCodeSerializer(allow_null=True)
    in_your_scope = serializers.BooleanField(help_text=_("Whether the grid is inside your area scope."))


# --- Departments -----------------------------------------------------------------------------------------------------
class DepartmentSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=DepartmentType.choices)
    type_label = serializers.CharField(source="get_type_display")
    level = serializers.ChoiceField(choices=Level.choices, help_text=_("city, district or street."))
    region = RegionRefSerializer(help_text=_("Jurisdiction."))
    active = serializers.BooleanField()


# --- Me --------------------------------------------------------------------------------------------------------------
class DepartmentRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)
    role_label = serializers.CharField(source="get_role_display")
    region = RegionRefSerializer(allow_null=True)
    department = DepartmentRefSerializer(allow_null=True)


class ScopeSerializer(serializers.Serializer):
    grid_codes = serializers.ListField(child=serializers.CharField(), help_text=_("Grids you patrol."))
    region_prefixes = serializers.ListField(
        child=serializers.CharField(), allow_null=True,
        help_text=_("Region code prefixes your roles cover; null means everywhere."),
    )
    department_codes = serializers.ListField(child=serializers.CharField(), help_text=_("Departments you handle for."))
    command_center_codes = serializers.ListField(
        child=serializers.CharField(), help_text=_("Regions whose command center you dispatch for.")
    )


class MeSerializer(serializers.Serializer):
    """Built from a dict: the user's fields plus grids.selectors.scope_of(user)."""

    username = serializers.CharField()
    display_name = serializers.CharField()
    is_admin = serializers.BooleanField()
    roles = RoleSerializer(many=True)
    scope = ScopeSerializer()
