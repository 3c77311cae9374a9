"""Input (query) and output serializers for the events API."""

import threading

from django.core.validators import RegexValidator
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config import fastpath

from .models import (
    ActorKind,
    CaseEvent,
    CaseState,
    Category,
    CategoryKind,
    Channel,
    CommandLevel,
    FieldCheck,
    Urgency,
)


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
            "department_type", "department_type_label", "active", "manual_accept",
        ]
        read_only_fields = fields


# =====================================================================================================================
# Cases
# =====================================================================================================================
# Urgency and command level appear elsewhere in the schema under other names (Category.default_urgency,
# Department.level): plain strings here keep drf-spectacular's enum naming free of collisions.
URGENCY_HELP = _("normal or urgent.")
STAFF_CHANNELS = [(c.value, c.label) for c in (Channel.PATROL, Channel.HOTLINE, Channel.WEB)]


class FileListField(serializers.ListField):
    """Repeated multipart file fields; ``photos`` and ``photos[]`` are both accepted."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.FileField(allow_empty_file=False))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def get_value(self, dictionary):
        if hasattr(dictionary, "getlist"):
            files = dictionary.getlist(self.field_name, []) + dictionary.getlist(f"{self.field_name}[]", [])
            if files:
                return files
        return super().get_value(dictionary)


class CaseReportSerializer(serializers.Serializer):
    """``POST /cases/``: a report filed by staff (grid patrol, hotline operator, web)."""

    channel = serializers.ChoiceField(choices=STAFF_CHANNELS)
    description = serializers.CharField(max_length=4000, help_text=_("What is wrong, in the reporter's words."))
    lat = serializers.FloatField(required=False, allow_null=True, help_text=_("WGS84 latitude (with lng)."))
    lng = serializers.FloatField(required=False, allow_null=True, help_text=_("WGS84 longitude (with lat)."))
    address = serializers.CharField(required=False, allow_blank=True, max_length=300)
    region_code = serializers.CharField(
        required=False, allow_blank=True, max_length=15,
        help_text=_("Without lat/lng: the code of the street, community or unit grid."),
    )
    category = serializers.SlugRelatedField(
        slug_field="code", queryset=Category.objects.all(), required=False, allow_null=True,
        help_text=_("Category code, e.g. E0101 (grid workers must give one)."),
        error_messages={"does_not_exist": _("There is no category with the code {value}."),
                        "invalid": _("Give the category as its code, e.g. E0101.")},
    )
    urgency = serializers.CharField(required=False, allow_blank=True, max_length=10, help_text=URGENCY_HELP)
    citizen_name = serializers.CharField(required=False, allow_blank=True, max_length=50)
    citizen_phone = serializers.CharField(required=False, allow_blank=True, max_length=20)
    citizen_email = serializers.EmailField(required=False, allow_blank=True)
    self_handled = serializers.BooleanField(
        required=False, default=False, help_text=_("Handled on the spot (patrol only; needs before and after photos)."),
    )
    photos = FileListField(help_text=_("Report photos (JPEG, PNG or WebP; at least one on patrol)."))
    before_photos = FileListField(help_text=_("Photos before handling, for a report handled on the spot."))
    after_photos = FileListField(help_text=_("Photos after handling, for a report handled on the spot."))


ACTION_RESULTS = [(FieldCheck.CONFIRMED.value, FieldCheck.CONFIRMED.label),
                  (FieldCheck.NOT_FOUND.value, FieldCheck.NOT_FOUND.label)]


class CaseActionSerializer(serializers.Serializer):
    """``POST /cases/{number}/actions/{action}/``: every input any action takes; each action uses some of them and
    names a missing one in a 400."""

    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    department = serializers.CharField(required=False, allow_blank=True, max_length=40,
                                       help_text=_("dispatch: code of the department to handle the case."))
    target = serializers.CharField(required=False, allow_blank=True, max_length=20,
                                   help_text=_("merge: number of the case this one duplicates."))
    rating = serializers.IntegerField(required=False, min_value=1, max_value=5, help_text=_("feedback: 1–5."))
    comment = serializers.CharField(required=False, allow_blank=True, max_length=500)
    until = serializers.CharField(required=False, allow_blank=True, max_length=40,
                                  help_text=_("suspend: ISO date or date-time, at most one year ahead."))
    result = serializers.ChoiceField(choices=ACTION_RESULTS, required=False, help_text=_("field_check: the finding."))
    category = serializers.CharField(required=False, allow_blank=True, max_length=10,
                                     help_text=_("accept: category code, when the report has none or a wrong one."))
    urgency = serializers.CharField(required=False, allow_blank=True, max_length=10, help_text=URGENCY_HELP)
    explanation = serializers.CharField(required=False, allow_blank=True, max_length=2000,
                                        help_text=_("dispatch: why this department (e.g. when not the suggested one)."))
    photos = FileListField(help_text=_("complete, verify, field_check: photos (JPEG, PNG or WebP)."))
    type = serializers.CharField(required=False, allow_blank=True, max_length=10,
                                 help_text=_("supervise: overdue, leader or key_case."))
    reply_due = serializers.CharField(required=False, allow_blank=True, max_length=40,
                                      help_text=_("supervise: ISO date-time by which the department must reply."))
    lat = serializers.FloatField(required=False, help_text=_("accept an unstructured report: where it is."))
    lng = serializers.FloatField(required=False, help_text=_("accept an unstructured report: where it is."))
    region_code = serializers.CharField(
        required=False, allow_blank=True, max_length=15,
        help_text=_("accept an unstructured report without lat/lng: the street, community or unit grid."))
    address = serializers.CharField(required=False, allow_blank=True, max_length=300)
    expected_seq = serializers.IntegerField(
        required=False, min_value=1,
        help_text=_("The case's last event (seq) the action was made on: 409 if the case moved on since."))
    fix_lat = serializers.FloatField(required=False, help_text=_("verify, field_check: your GPS latitude on site."))
    fix_lng = serializers.FloatField(required=False, help_text=_("verify, field_check: your GPS longitude on site."))
    fix_accuracy = serializers.FloatField(required=False, min_value=0,
                                          help_text=_("verify, field_check: the GPS fix's accuracy in metres."))


class FlexibleDateTimeField(serializers.Field):
    """An ISO date (the whole day) or date-time."""

    default_error_messages = {"invalid": _("Give an ISO date or date-time, e.g. 2026-11-23 or 2026-11-23T08:00.")}

    def to_internal_value(self, data):
        value = str(data).strip()
        try:
            # a date first: parse_datetime would also take "2026-11-23", as its midnight
            parsed = parse_date(value) or parse_datetime(value)
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail("invalid")
        return parsed

    def to_representation(self, value):
        return value.isoformat()


@extend_schema_field({"type": "string", "example": "2026-11-23"})
class CreatedBoundField(FlexibleDateTimeField):
    pass


class StatusListField(serializers.CharField):
    default_error_messages = {"unknown": _("Unknown state(s): {names}. States are: {states}.")}

    def to_internal_value(self, data):
        names = [name.strip() for name in super().to_internal_value(data).split(",") if name.strip()]
        unknown = [name for name in names if name not in CaseState.values]
        if unknown:
            self.fail("unknown", names=", ".join(unknown), states=", ".join(CaseState.values))
        return names


class CaseFilterSerializer(serializers.Serializer):
    status = StatusListField(required=False, help_text=_("State, or several separated by commas."))
    open = serializers.BooleanField(required=False, allow_null=True, default=None,
                                    help_text=_("Only open (true) or only ended (false) cases."))
    level = serializers.ChoiceField(choices=CommandLevel.choices, required=False,
                                    help_text=_("Command level that owns the case now."))
    region = serializers.CharField(required=False, max_length=15, help_text=_("Region code prefix."))
    grid = serializers.CharField(required=False, max_length=15, help_text=_("Unit grid code."))
    department = serializers.CharField(required=False, max_length=40, help_text=_("Department code."))
    category = serializers.CharField(required=False, max_length=10, help_text=_("Category code."))
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    created_from = CreatedBoundField(required=False, help_text=_("Created at or after (a date: from its start)."))
    created_to = CreatedBoundField(required=False, help_text=_("Created at or before (a date: to its end)."))
    q = serializers.CharField(required=False, max_length=100,
                              help_text=_("Text in the description, case number or address."))


# --- Case output -----------------------------------------------------------------------------------------------------
def mask_phone(phone: str) -> str:
    """138****1234: the first 3 and last 4 digits of a full number; shorter numbers show only their last 2."""
    phone = "".join(ch for ch in (phone or "") if ch.isdigit() or ch == "+")
    if len(phone) >= 11:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    if len(phone) > 2:
        return "*" * (len(phone) - 2) + phone[-2:]
    return "*" * len(phone)


def mask_name(name: str) -> str:
    """张* / J***: the first character only."""
    name = (name or "").strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def mask_email(email: str) -> str:
    local, at, domain = (email or "").partition("@")
    return f"{local[:1]}***@{domain}" if at else ""


class CodeNameSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class CaseCategorySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(source="minor_name")
    major_name = serializers.CharField()


class CaseCountersSerializer(serializers.Serializer):
    returns = serializers.IntegerField(source="returns_count")
    reworks = serializers.IntegerField(source="reworks_count")
    extensions = serializers.IntegerField(source="extensions_count")
    extension_pending = serializers.BooleanField()
    reopens = serializers.IntegerField(source="reopens_count")
    escalations = serializers.IntegerField(source="escalations_count")
    suspensions = serializers.IntegerField(source="suspensions_count")


class CaseReporterSerializer(serializers.Serializer):
    """Who reported, masked: the full phone number only through ``GET /cases/{number}/contact/`` (logged)."""

    channel = serializers.CharField()
    name = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()
    staff = serializers.CharField(allow_null=True, help_text=_("The staff user who filed it, if any."))


class CasePhotoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    url = serializers.SerializerMethodField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    metadata = serializers.JSONField()
    event_seq = serializers.IntegerField(allow_null=True, help_text=_("The timeline event the photo belongs to."))

    def get_url(self, attachment) -> str:
        request = self.context.get("request")
        url = attachment.file.url
        return request.build_absolute_uri(url) if request is not None else url


def _actor_name(event: CaseEvent) -> str:
    if event.actor_kind == ActorKind.USER and event.actor is not None:
        return event.actor.display_name or event.actor.username
    return event.actor_kind


class CaseEventSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    kind = serializers.CharField(help_text=_("reported, an action name (accept, dispatch …) or merged_in."))
    actor = serializers.SerializerMethodField(help_text=_("Display name of the staff user, or system/citizen/sensor."))
    actor_kind = serializers.CharField()
    actor_role = serializers.CharField()
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    level = serializers.CharField()
    payload = serializers.JSONField()
    occurred_at = serializers.DateTimeField()

    def get_actor(self, event) -> str:
        return _actor_name(event)


class CaseClockSerializer(serializers.Serializer):
    """The time limit of one stage of the case (SLA clock)."""

    stage = serializers.CharField(help_text=_("accept, dispatch, sign, handle, verify or feedback."))
    level = serializers.CharField(help_text=_("Command level the clock ran at: street, district or city."))
    started_at = serializers.DateTimeField()
    deadline = serializers.DateTimeField()
    light = serializers.CharField(help_text=_("green (< 80 % used), yellow (80–100 %) or red (overdue)."))
    finished_at = serializers.DateTimeField(allow_null=True)
    on_time = serializers.BooleanField(allow_null=True)
    paused_seconds = serializers.FloatField()


class CaseListSerializer(serializers.Serializer):
    number = serializers.CharField()
    state = serializers.ChoiceField(choices=CaseState.choices)
    state_label = serializers.CharField(source="get_state_display")
    close_reason = serializers.CharField(help_text=_("resolved, self_handled, rejected, duplicate or cancelled."))
    close_reason_label = serializers.CharField(source="get_close_reason_display")
    channel = serializers.CharField(help_text=_("patrol, hotline, wechat, sensor, open311 or web."))
    category = CaseCategorySerializer(allow_null=True)
    urgency = serializers.CharField(help_text=URGENCY_HELP)
    description = serializers.CharField()
    address = serializers.CharField()
    grid = CodeNameSerializer(allow_null=True)
    street = CodeNameSerializer(allow_null=True)
    district = CodeNameSerializer(allow_null=True)
    level = serializers.CharField(help_text=_("Command level that owns the case now: street, district or city."))
    unstructured = serializers.BooleanField(
        help_text=_("A citizen report without a location yet: accept it with lat/lng or region_code (and category)."))
    reopen_review = serializers.BooleanField(
        help_text=_("The reporter rated the result 1–2: a supervisor decides whether to reopen."))
    department = CodeNameSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)


class CaseDetailSerializer(CaseListSerializer):
    """One case: the list fields, counters, masked reporter, photos, timeline and the caller's allowed actions.
    Expects the case from ``selectors.case_detail_get`` and ``allowed_actions`` in the context."""

    lat = serializers.FloatField(allow_null=True)
    lng = serializers.FloatField(allow_null=True)
    counters = CaseCountersSerializer(source="*")
    suspended_until = serializers.DateTimeField(allow_null=True)
    rating = serializers.IntegerField(allow_null=True)
    rating_comment = serializers.CharField()
    field_check_status = serializers.CharField(help_text=_("On-site check (核实): requested, confirmed or not_found."))
    self_handled = serializers.BooleanField()
    outside_reporter_grids = serializers.BooleanField()
    merged_into = serializers.CharField(source="merged_into.number", allow_null=True)
    verified_at = serializers.DateTimeField(allow_null=True)
    escalated_to = serializers.CharField(help_text=_(
        "The upper command level watching the case after an escalation under the supervise policy, while the owner "
        "(level) stays responsible; empty when none."))
    escalation_policy = serializers.CharField(help_text=_(
        "take_over or supervise: the policy of the case's last escalation; empty when never escalated."))
    reporter = serializers.SerializerMethodField()
    photos = CasePhotoSerializer(source="attachments", many=True)
    timeline = CaseEventSerializer(source="events", many=True)
    allowed_actions = serializers.SerializerMethodField()
    clocks = CaseClockSerializer(many=True, help_text=_("Stage clocks, oldest first."))

    @extend_schema_field(CaseReporterSerializer)
    def get_reporter(self, case):
        report = next(iter(case.reports.all()), None)
        staff = case.reporter
        return {  # the fields of CaseReporterSerializer, all plain strings
            "channel": report.channel if report else case.channel,
            "name": mask_name(report.citizen_name) if report else "",
            "phone": mask_phone(report.citizen_phone) if report else "",
            "email": mask_email(report.citizen_email) if report else "",
            "staff": (staff.display_name or staff.username) if staff is not None else None,
        }

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_actions(self, case) -> list[str]:
        return list(self.context.get("allowed_actions", []))


class CaseStatusSerializer(serializers.Serializer):
    """Where the case stands after an intake or an action — the answer to ``POST /cases/`` and
    ``POST /cases/{number}/actions/{action}/``. The whole case is at ``GET /cases/{number}/``, its timeline at
    ``GET /cases/{number}/events/`` (``last_seq`` is its newest event). Expects ``allowed_actions`` in the context."""

    number = serializers.CharField()
    state = serializers.ChoiceField(choices=CaseState.choices)
    state_label = serializers.CharField(source="get_state_display")
    close_reason = serializers.CharField(help_text=_("resolved, self_handled, rejected, duplicate or cancelled; empty "
                                                     "while the case is open."))
    level = serializers.CharField(help_text=_("Command level that owns the case now: street, district or city."))
    last_seq = serializers.IntegerField(help_text=_("The seq of the newest event on the case's timeline."))
    updated_at = serializers.DateTimeField()
    allowed_actions = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_actions(self, case) -> list[str]:
        return list(self.context.get("allowed_actions", []))


def _reuse_check() -> str:
    """``validated_input`` clears what ``is_valid`` leaves on a serializer: DRF's private ``_validated_data``,
    ``_errors`` (and ``_data``). Checked on a small serializer, valid and not."""

    class Probe(serializers.Serializer):
        n = serializers.IntegerField()

    for data, left in (({"n": 1}, "_validated_data"), ({"n": "x"}, "_errors")):
        probe = Probe(data=data)
        probe.is_valid()
        if left not in probe.__dict__:
            return f"rest_framework's Serializer.is_valid leaves no {left}"
    return ""


fastpath.hook("serializers.reuse", _reuse_check)
_reusable = threading.local()


def validated_input(serializer_class: type[serializers.Serializer], data) -> dict:
    """``serializer_class(data=data)``'s validated data, or its ValidationError (a 400 naming the fields).

    For the input serializers of the hot write endpoints (intake, actions): one instance per thread, its fields built
    once (DRF deep-copies every declared field for each new instance); what ``is_valid`` leaves on the instance is
    cleared before each use. A hook of config.fastpath: off, a new serializer each time.
    """
    if not fastpath.active("serializers.reuse"):
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)
    serializer = getattr(_reusable, serializer_class.__name__, None)
    if serializer is None:
        serializer = serializer_class(data={})
        setattr(_reusable, serializer_class.__name__, serializer)
    for attribute in ("_validated_data", "_errors", "_data"):
        serializer.__dict__.pop(attribute, None)
    serializer.initial_data = data
    try:
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)
    finally:
        serializer.initial_data = None  # (the request's data is not kept past the request)


class DuplicateCandidateSerializer(serializers.Serializer):
    """An open case the report probably repeats (same category or class, nearby, recent)."""

    number = serializers.CharField(source="case.number")
    state = serializers.CharField(source="case.state")
    category = CaseCategorySerializer(source="case.category", allow_null=True)
    description = serializers.CharField(source="case.description")
    address = serializers.CharField(source="case.address")
    created_at = serializers.DateTimeField(source="case.created_at")
    distance_m = serializers.FloatField(help_text=_("Distance between the two points, in metres."))
    same_category = serializers.BooleanField(help_text=_("Same category (else the same major class)."))


class ContactSerializer(serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()


class ConflictSerializer(serializers.Serializer):
    """A 409: the action does not fit the case's state now."""

    detail = serializers.CharField()
    code = serializers.CharField()
    allowed_actions = serializers.ListField(child=serializers.CharField(), help_text=_("What you may do now."))
    state = serializers.CharField()
