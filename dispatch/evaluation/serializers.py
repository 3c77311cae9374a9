"""Query and output serializers of the metrics API."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from dispatch.models.evaluation import COUNTERS, EvaluationObject
from events.models import Channel
from events.serializers import CaseFilterSerializer, CaseListSerializer
from grids.models import Role

from .rollups import DIMENSIONS
from .scores import REGION_LEVELS

EXPORTS = [("csv", "CSV"), ("xlsx", "XLSX")]


def _period_fields(cls):
    """Add ``from`` and ``to`` (Python keywords, so not declarable as attributes) to a query serializer."""
    cls._declared_fields["from"] = serializers.DateField(
        required=False, help_text=_("First day (inclusive), e.g. 2026-03-01. Default: the first of this month."))
    cls._declared_fields["to"] = serializers.DateField(
        required=False, help_text=_("Last day (inclusive). Default: today."))
    return cls


class ScopeQuerySerializer(serializers.Serializer):
    period = serializers.CharField(
        required=False, max_length=10,
        help_text=_("Instead of from/to: 2026 (year), 2026-Q1, 2026-03 (month), 2026-W10 (ISO week), 2026-03-05."))
    region = serializers.CharField(required=False, max_length=15,
                                   help_text=_("Region code: only cases there (must be inside your area)."))
    department = serializers.CharField(required=False, max_length=40, help_text=_("Department code."))
    category = serializers.CharField(required=False, max_length=10, help_text=_("Category code."))
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    export = serializers.ChoiceField(choices=EXPORTS, required=False,
                                     help_text=_("Download the table as csv or xlsx instead of JSON."))


@_period_fields
class IndicatorQuerySerializer(ScopeQuerySerializer):
    group_by = serializers.ChoiceField(choices=[(d, d) for d in DIMENSIONS], required=False, default="district",
                                       help_text=_("One row per region of a level, department, category, channel "
                                                   "or person."))
    indicators = serializers.CharField(required=False, max_length=1000,
                                       help_text=_("Comma-separated indicator codes (default: all)."))


@_period_fields
class RankingQuerySerializer(ScopeQuerySerializer):
    object = serializers.ChoiceField(choices=EvaluationObject.choices,
                                     help_text=_("department, region or position."))
    level = serializers.ChoiceField(choices=[(v, v) for v in REGION_LEVELS], required=False, default="district",
                                    help_text=_("For object=region: the level of the regions ranked."))
    role = serializers.ChoiceField(choices=[(Role.GRID_WORKER, Role.GRID_WORKER), (Role.DISPATCHER, Role.DISPATCHER)],
                                   required=False, default=Role.GRID_WORKER,
                                   help_text=_("For object=position: grid_worker or dispatcher."))


@_period_fields
class FigureCasesQuerySerializer(serializers.Serializer):
    counter = serializers.ChoiceField(choices=[(c, c) for c in COUNTERS],
                                      help_text=_("The counter behind the figure (numerator_counter or "
                                                  "denominator_counter)."))
    period = serializers.CharField(required=False, max_length=10, help_text=_("Instead of from/to."))
    region = serializers.CharField(required=False, max_length=15, help_text=_("Region code prefix."))
    unplaced = serializers.ChoiceField(choices=[(v, v) for v in ("district", "street", "community", "grid")],
                                       required=False,
                                       help_text=_("Only cases not placed down to this level (the row with no key)."))
    department = serializers.CharField(required=False, max_length=40,
                                       help_text=_("Department code the counter was counted for, or none."))
    category = serializers.CharField(required=False, max_length=10, help_text=_("Category code, or none."))
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    person = serializers.CharField(required=False, max_length=20, help_text=_("User id, or none."))
    export = serializers.ChoiceField(choices=EXPORTS, required=False)


class CaseExportQuerySerializer(CaseFilterSerializer):
    export = serializers.ChoiceField(choices=EXPORTS, default="csv", help_text=_("csv (streamed) or xlsx."))


class BriefingQuerySerializer(serializers.Serializer):
    region = serializers.CharField(max_length=15, help_text=_("Region code (usually a district)."))
    date = serializers.DateField(required=False, help_text=_("The day summarised. Default: yesterday."))
    refresh = serializers.BooleanField(required=False, default=False,
                                       help_text=_("Compute it again even if it is stored."))
    export = serializers.ChoiceField(choices=[("html", "HTML"), ("xlsx", "XLSX")], required=False,
                                     help_text=_("html (a page) or xlsx (a download) instead of JSON."))


class BlackListQuerySerializer(serializers.Serializer):
    object = serializers.ChoiceField(choices=EvaluationObject.choices, required=False)


# --- Output (documentation of the JSON shapes) -----------------------------------------------------------------------
class FigureSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True, help_text=_("A count, a rate (0–1) or hours; null when the "
                                                                "denominator is 0."))
    numerator = serializers.FloatField(allow_null=True)
    denominator = serializers.IntegerField(allow_null=True)
    numerator_counter = serializers.CharField()
    denominator_counter = serializers.CharField(required=False)
    approximate = serializers.BooleanField(required=False)


class IndicatorRowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text=_("Region code, department code, category code, channel or username; "
                                            "empty for cases without one."))
    name = serializers.CharField()
    counters = serializers.DictField(child=serializers.IntegerField())
    filter = serializers.DictField(child=serializers.CharField(),
                                   help_text=_("Query of /api/v1/metrics/cases/ (add counter=…) listing the cases "
                                               "behind this row's figures."))
    indicators = serializers.DictField(child=FigureSerializer())


class IndicatorTableSerializer(serializers.Serializer):
    group_by = serializers.CharField()
    period = serializers.DictField(child=serializers.CharField())
    region = serializers.CharField(allow_null=True)
    indicators = serializers.DictField(child=serializers.DictField(),
                                       help_text=_("Code → title (in your language) and the standard's name."))
    rows = IndicatorRowSerializer(many=True)
    total = serializers.DictField()


class RankingEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField(allow_null=True, help_text=_("null: below the minimum sample, not ranked."))
    key = serializers.CharField()
    name = serializers.CharField()
    score = serializers.FloatField(allow_null=True)
    grade = serializers.CharField()
    sample = serializers.IntegerField()
    ranked = serializers.BooleanField()
    components = serializers.DictField()


class RankingSerializer(serializers.Serializer):
    object = serializers.CharField()
    kind = serializers.CharField()
    period = serializers.DictField(child=serializers.CharField())
    weights = serializers.DictField(child=serializers.FloatField())
    min_sample = serializers.IntegerField()
    entries = RankingEntrySerializer(many=True)
    lists = serializers.DictField(help_text=_("red and yellow: this period's lists (computed); stored: the lists "
                                              "stored for the month and the black listings in force."))


class FigureCaseSerializer(CaseListSerializer):
    weight = serializers.IntegerField(help_text=_("What this case adds to the counter."))


class BriefingSerializer(serializers.Serializer):
    region = serializers.DictField()
    day = serializers.DateField()
    generated_at = serializers.DateTimeField()
    counts = serializers.DictField(child=serializers.IntegerField())
    cases = serializers.DictField()
    top_categories = serializers.ListField(child=serializers.DictField())
    hot_spots = serializers.ListField(child=serializers.DictField())
    worst_streets = serializers.ListField(child=serializers.DictField())
    worst_departments = serializers.ListField(child=serializers.DictField())
    supervision = serializers.ListField(child=serializers.DictField())


class BlackListingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    object = serializers.CharField()
    kind = serializers.CharField()
    key = serializers.CharField()
    name = serializers.CharField()
    scope = serializers.CharField()
    month = serializers.DateField()
    yellow_months = serializers.ListField(child=serializers.CharField())
    rectify_by = serializers.DateField()
    rectified_at = serializers.DateTimeField(allow_null=True)
    rectified_by = serializers.StringRelatedField(allow_null=True)
    rectification_note = serializers.CharField()


class RectifySerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, allow_blank=True,
                                 help_text=_("What the unit rectified (required)."))

