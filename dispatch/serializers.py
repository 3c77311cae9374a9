"""Input and output serializers for the dispatch API: command-center queues, routing rules, calendar overrides and SLA
policies."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from events.models import Category, CategoryKind
from events.serializers import CaseListSerializer
from grids.models import Department, Region

from .models import CalendarOverride, RoutingRule, SlaPolicy
from .queues import BUCKETS

# =====================================================================================================================
# Queues
# =====================================================================================================================


class QueueQuerySerializer(serializers.Serializer):
    center = serializers.CharField(
        required=False, max_length=15,
        help_text=_("Code of the command center, when you may read the queues of several at this level."),
    )
    bucket = serializers.ChoiceField(
        choices=[(name, name) for name in BUCKETS], required=False,
        help_text=_("Page through this one bucket (all its cases) instead of the overview."),
    )
    page = serializers.IntegerField(required=False, min_value=1, help_text=_("With bucket: the page number."))
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500,
                                         help_text=_("With bucket: cases per page."))


class QueueCenterSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    level = serializers.CharField(help_text=_("street, district or city."))


class QueueBucketSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text=_("How many cases the bucket holds."))
    items = CaseListSerializer(many=True, help_text=_("The 20 newest of them."))
    available = serializers.BooleanField(
        help_text=_("false when the bucket does not apply here (escalated_to_us at street level) or cannot be "
                    "computed (overdue without SLA clocks); count is then 0."),
    )


class QueueBucketsSerializer(serializers.Serializer):
    new = QueueBucketSerializer(help_text=_("Reported, waiting to be accepted."))
    awaiting_dispatch = QueueBucketSerializer(help_text=_("Accepted, never returned: waiting for dispatch."))
    returned = QueueBucketSerializer(help_text=_("Accepted again after a department returned them."))
    escalated_to_us = QueueBucketSerializer(help_text=_("Open cases escalated up to this center."))
    overdue = QueueBucketSerializer(help_text=_("Open cases whose current stage is past its time limit (red)."))


class QueueSerializer(serializers.Serializer):
    center = QueueCenterSerializer()
    buckets = QueueBucketsSerializer()


class QueueBucketPageSerializer(serializers.Serializer):
    """``?bucket=NAME``: one page of one bucket."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CaseListSerializer(many=True)


# =====================================================================================================================
# Routing rules
# =====================================================================================================================


class RoutingRuleSerializer(serializers.ModelSerializer):
    """A routing rule, its category, region and department given by code. Give either ``category`` or a major class
    (``major_kind`` and ``major_code``)."""

    category = serializers.SlugRelatedField(
        slug_field="code", queryset=Category.objects.all(), required=False, allow_null=True,
        help_text=_("Category code, e.g. E0101 (or give major_kind and major_code instead)."),
        error_messages={"does_not_exist": _("There is no category with the code {value}."),
                        "invalid": _("Give the category as its code, e.g. E0101.")},
    )
    # Plain strings: the category kind enum is documented once, on Category.kind.
    major_kind = serializers.CharField(required=False, allow_blank=True, max_length=10,
                                       help_text=_("Kind of the major class: component or event."))
    major_code = serializers.CharField(required=False, allow_blank=True, max_length=2,
                                       help_text=_("Two-digit major class code, e.g. 01."))
    region = serializers.SlugRelatedField(
        slug_field="code", queryset=Region.objects.all(),
        help_text=_("Code of the region (any level) the rule applies in."),
        error_messages={"does_not_exist": _("There is no region with the code {value}."),
                        "invalid": _("Give the region as its code.")},
    )
    department = serializers.SlugRelatedField(
        slug_field="code", queryset=Department.objects.select_related("region"),
        help_text=_("Code of the department that handles matching cases."),
        error_messages={"does_not_exist": _("There is no department with the code {value}."),
                        "invalid": _("Give the department as its code.")},
    )
    region_name = serializers.CharField(source="region.name", read_only=True)
    department_name = serializers.CharField(source="department.name", read_only=True)

    class Meta:
        model = RoutingRule
        fields = ["id", "category", "major_kind", "major_code", "region", "region_name", "department",
                  "department_name", "priority", "auto_dispatch", "active", "note"]
        read_only_fields = ["id"]

    def validate_major_kind(self, value: str) -> str:
        if value and value not in CategoryKind.values:
            raise serializers.ValidationError(
                _("The kind of a major class is one of: %(kinds)s.") % {"kinds": ", ".join(CategoryKind.values)})
        return value

    def validate_major_code(self, value: str) -> str:
        if value and not (len(value) == 2 and value.isdigit()):
            raise serializers.ValidationError(_("A major class code is two digits, e.g. 01."))
        return value

    def _current(self, attrs: dict, name: str, default):
        if name in attrs:
            return attrs[name]
        return getattr(self.instance, name) if self.instance is not None else default

    def validate(self, attrs: dict) -> dict:
        category_given = attrs.get("category") is not None
        major_given = bool(attrs.get("major_kind") or attrs.get("major_code"))
        if category_given and major_given:
            raise serializers.ValidationError({"category": [
                _("Give either a category or a major class (major_kind and major_code), not both.")]})
        # On an update, switching between a category and a major class clears the other one.
        if category_given:
            attrs["major_kind"] = attrs["major_code"] = ""
        elif major_given and "category" not in attrs:
            attrs["category"] = None
        category = self._current(attrs, "category", None)
        major_kind = self._current(attrs, "major_kind", "")
        major_code = self._current(attrs, "major_code", "")
        if category is None:
            if not major_kind and not major_code:
                raise serializers.ValidationError({"category": [
                    _("Give a category code, or a major class with major_kind and major_code.")]})
            if not major_kind:
                raise serializers.ValidationError({"major_kind": [
                    _("Give the kind of the major class: component or event.")]})
            if not major_code:
                raise serializers.ValidationError({"major_code": [_("Give the two-digit major class code.")]})
            if not Category.objects.filter(kind=major_kind, major_code=major_code).exists():
                raise serializers.ValidationError({"major_code": [
                    _("There is no %(kind)s major class with the code %(code)s.")
                    % {"kind": major_kind, "code": major_code}]})
        region = self._current(attrs, "region", None)
        department = self._current(attrs, "department", None)
        if region is not None and department is not None \
                and not region.code.startswith(department.region.subtree_prefix):
            raise serializers.ValidationError({"department": [
                _("The department %(department)s serves %(jurisdiction)s, which does not contain the region "
                  "%(region)s: choose a department whose jurisdiction covers the region.")
                % {"department": department.code, "jurisdiction": department.region.code, "region": region.code}]})
        return attrs


class RoutingRuleFilterSerializer(serializers.Serializer):
    active = serializers.BooleanField(required=False, allow_null=True, default=None,
                                      help_text=_("Only active (true) or inactive (false) rules."))
    region = serializers.CharField(required=False, max_length=15, help_text=_("Only the rules of this region code."))
    department = serializers.CharField(required=False, max_length=40,
                                       help_text=_("Only the rules sending work to this department code."))
    category = serializers.CharField(required=False, max_length=10, help_text=_("Only the rules of this category."))


# =====================================================================================================================
# Calendar overrides
# =====================================================================================================================
DATE_ERRORS = {"invalid": _("Give the day as an ISO date, e.g. 2026-10-01.")}


class CalendarOverrideSerializer(serializers.ModelSerializer):
    day = serializers.DateField(error_messages=DATE_ERRORS, help_text=_("The day, as an ISO date."))
    is_workday = serializers.BooleanField(
        help_text=_("true: a working day (e.g. a make-up working day); false: a day off (e.g. a holiday)."))
    note = serializers.CharField(required=False, allow_blank=True, max_length=200)

    class Meta:
        model = CalendarOverride
        fields = ["day", "is_workday", "note", "updated_at"]
        read_only_fields = ["updated_at"]


class CalendarOverrideUpdateSerializer(serializers.Serializer):
    """``PUT``/``PATCH /calendar-overrides/{day}/``: the day is in the address."""

    is_workday = serializers.BooleanField(
        help_text=_("true: a working day (e.g. a make-up working day); false: a day off (e.g. a holiday)."))
    note = serializers.CharField(required=False, allow_blank=True, max_length=200)


class CalendarOverrideFilterSerializer(serializers.Serializer):
    year = serializers.IntegerField(required=False, min_value=1900, max_value=2200,
                                    help_text=_("Only the overrides of this year."))


class CalendarDaySerializer(serializers.Serializer):
    day = serializers.DateField(error_messages=DATE_ERRORS)


# =====================================================================================================================
# SLA policies
# =====================================================================================================================
# Plain strings in the schema (with the values in the help text): stage, urgency, level and unit appear elsewhere
# under the same names with other choice sets, which would make drf-spectacular's enum names collide.
STAGE_HELP = _("accept, dispatch, sign, handle, verify or feedback.")
SLA_UNIT_HELP = _("urgent_hour (紧急工作时, wall clock), work_hour (工作时), work_day (工作日, whole days) or "
                  "natural_day (自然日).")


class SlaPolicySerializer(serializers.ModelSerializer):
    """A time limit for one stage; a blank category, urgency or level matches any. The most specific matching
    policy wins (category, then urgency, then level); without one the built-in default applies."""

    stage = serializers.CharField(max_length=10, help_text=STAGE_HELP)
    category = serializers.SlugRelatedField(
        slug_field="code", queryset=Category.objects.all(), required=False, allow_null=True,
        help_text=_("Category code, e.g. E0101; null for any category."),
        error_messages={"does_not_exist": _("There is no category with the code {value}."),
                        "invalid": _("Give the category as its code, e.g. E0101.")},
    )
    category_name = serializers.CharField(source="category.minor_name", read_only=True, allow_null=True,
                                          default=None)
    urgency = serializers.CharField(required=False, allow_blank=True, max_length=10,
                                    help_text=_("normal or urgent; blank for any."))
    level = serializers.CharField(required=False, allow_blank=True, max_length=10,
                                  help_text=_("Command level street, district or city; blank for any."))
    amount = serializers.DecimalField(max_digits=8, decimal_places=2,
                                      help_text=_("The time limit, greater than 0, in the unit."))
    unit = serializers.CharField(max_length=12, help_text=SLA_UNIT_HELP)
    priority = serializers.IntegerField(required=False, default=0, min_value=-1_000_000, max_value=1_000_000,
                                        help_text=_("Higher wins between equally specific policies."))

    class Meta:
        model = SlaPolicy
        fields = ["id", "stage", "category", "category_name", "urgency", "level", "amount", "unit", "priority"]
        read_only_fields = ["id"]


class SlaPolicyFilterSerializer(serializers.Serializer):
    stage = serializers.CharField(required=False, max_length=10, help_text=_("Only the policies of this stage."))
    category = serializers.CharField(required=False, max_length=10,
                                     help_text=_("Only the policies of this category code."))
    urgency = serializers.CharField(required=False, max_length=10, help_text=_("Only the policies of this urgency."))
    level = serializers.CharField(required=False, max_length=10, help_text=_("Only the policies of this level."))
