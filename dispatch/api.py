"""The dispatch API.

- The in-app inbox: a staff user's own notifications, and marking one read. Another user's item answers 404, exactly
  like one that does not exist.
- Command-center queues (``GET /queues/{level}/``), within the caller's centers and supervised area.
- Admin-only configuration: routing rules, work-calendar overrides and SLA policies.
"""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, generics, permissions, serializers, status, viewsets
from rest_framework.response import Response

from events.models import Case
from events.serializers import CaseListSerializer
from grids.api import query_params
from grids.models import Level, Region
from grids.selectors import command_centers_of, is_admin
from grids.serializers import ErrorSerializer

from . import queues
from .models import CalendarOverride, InboxItem, RoutingRule, SlaPolicy
from .serializers import (
    CalendarDaySerializer,
    CalendarOverrideFilterSerializer,
    CalendarOverrideSerializer,
    CalendarOverrideUpdateSerializer,
    QueueBucketPageSerializer,
    QueueQuerySerializer,
    QueueSerializer,
    RoutingRuleFilterSerializer,
    RoutingRuleSerializer,
    SlaPolicyFilterSerializer,
    SlaPolicySerializer,
)
from .services import calendar_override_delete, calendar_override_set, sla_policy_delete, sla_policy_save

NOT_FOUND = OpenApiResponse(ErrorSerializer, description=_("No such item in your inbox."))


class InboxItemSerializer(serializers.ModelSerializer):
    case = serializers.SlugRelatedField(slug_field="number", read_only=True, allow_null=True,
                                        help_text=_("Case number, if the message is about a case."))
    read = serializers.SerializerMethodField()

    class Meta:
        model = InboxItem
        fields = ["id", "title", "body", "case", "created_at", "read_at", "read"]

    def get_read(self, obj) -> bool:
        return obj.read_at is not None


class InboxFilterSerializer(serializers.Serializer):
    unread = serializers.BooleanField(required=False, default=False, help_text=_("true: only items not read yet."))


def inbox_of(user):
    return InboxItem.objects.filter(user=user).select_related("case").order_by("-id")


class InboxView(generics.GenericAPIView):
    serializer_class = InboxItemSerializer
    queryset = InboxItem.objects.none()

    @extend_schema(
        tags=["inbox"],
        summary=_("Your notifications, newest first"),
        parameters=[InboxFilterSerializer],
        responses={200: InboxItemSerializer(many=True),
                   400: OpenApiResponse(ErrorSerializer, description=_("Bad input."))},
    )
    def get(self, request):
        params = InboxFilterSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        items = inbox_of(request.user)
        if params.validated_data["unread"]:
            items = items.filter(read_at__isnull=True)
        page = self.paginate_queryset(items)
        return self.get_paginated_response(InboxItemSerializer(page, many=True).data)


class InboxReadView(generics.GenericAPIView):
    serializer_class = InboxItemSerializer
    queryset = InboxItem.objects.none()

    @extend_schema(tags=["inbox"], summary=_("Mark one of your notifications read (repeating it changes nothing)"),
                   request=None, responses={200: InboxItemSerializer, 404: NOT_FOUND})
    def post(self, request, pk: int):
        item = inbox_of(request.user).filter(pk=pk).first()
        if item is None:
            raise exceptions.NotFound(_("There is no such item in your inbox."))
        if item.read_at is None:
            item.read_at = timezone.now()
            item.save(update_fields=["read_at"])
        return Response(InboxItemSerializer(item).data)


# --- Command-center queues -------------------------------------------------------------------------------------------
BAD_INPUT = OpenApiResponse(ErrorSerializer, description=_("Bad input; `fields` names each bad parameter."))
FORBIDDEN = OpenApiResponse(ErrorSerializer, description=_("You may not do this."))


class NoCommandCenter(exceptions.PermissionDenied):
    default_code = "no_command_center"


def _level_name(level: str) -> str:
    """The level's name in the request's language (街道, 区, 市)."""
    return str(dict(Level.choices).get(level, level))


def queue_center(user, level: str, code: str | None) -> Region:
    """The command center whose queues the caller reads: ``code`` if given, else their only one at ``level``."""
    centers = queues.queue_centers(user, level)
    if code:
        center = centers.filter(code=code).first()
        if center is None:
            raise NoCommandCenter(_("You neither dispatch for nor supervise a %(level)s command center with the code "
                                    "%(code)s.") % {"level": _level_name(level), "code": code})
        return center
    own = [region for region in command_centers_of(user) if region.level == level]
    if len(own) == 1:
        return own[0]
    candidates = list(centers.only("id", "code", "name", "level")[:11])
    if not candidates:
        raise NoCommandCenter(_("You neither dispatch for nor supervise a command center at the %(level)s level, so "
                                "there is no %(level)s queue for you.") % {"level": _level_name(level)})
    if len(candidates) > 1:
        codes = ", ".join(region.code for region in candidates[:10]) + (" …" if len(candidates) > 10 else "")
        raise serializers.ValidationError({"center": [
            _("You may read the queues of several %(level)s command centers (%(codes)s): choose one with "
              "?center=CODE.") % {"level": _level_name(level), "codes": codes}]})
    return candidates[0]


QUEUE_RESPONSE = PolymorphicProxySerializer(
    component_name="QueueOrBucketPage",
    serializers=[QueueSerializer, QueueBucketPageSerializer],
    resource_type_field_name=None,
)


class QueueView(generics.GenericAPIView):
    serializer_class = QueueSerializer
    queryset = Case.objects.none()

    @extend_schema(
        tags=["queues"],
        summary=_("A command center's work queues"),
        description=_(
            "The buckets of one command center at this level: new reports, accepted cases awaiting dispatch, cases "
            "returned by a department, cases escalated to this center (district and city only) and overdue cases; "
            "each with its total and its 20 newest cases. You read the queues of the centers you dispatch for and "
            "of those in the area you supervise. With `bucket`, one page of that bucket instead "
            "(`count`, `next`, `previous`, `results`)."
        ),
        parameters=[
            OpenApiParameter("level", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(queues.QUEUE_LEVELS),
                             description=_("street, district or city.")),
            QueueQuerySerializer,
        ],
        responses={200: QUEUE_RESPONSE, 400: BAD_INPUT,
                   403: OpenApiResponse(ErrorSerializer, description=_("No command center of yours at this level.")),
                   404: OpenApiResponse(ErrorSerializer, description=_("No such level, or no such page."))},
    )
    def get(self, request, level: str):
        if level not in queues.QUEUE_LEVELS:
            raise exceptions.NotFound(_("There is no %(level)s queue: the levels are street, district and city.")
                                      % {"level": level})
        params = query_params(request, QueueQuerySerializer)
        center = queue_center(request.user, level, params.get("center"))
        if params.get("bucket"):
            cases = queues.bucket_cases(user=request.user, center=center, bucket=params["bucket"])
            page = queues.with_regions(list(self.paginate_queryset(cases)))
            return self.get_paginated_response(CaseListSerializer(page, many=True).data)
        buckets = queues.center_queues(user=request.user, center=center)
        return Response(QueueSerializer({
            "center": center,
            "buckets": {name: vars(bucket) for name, bucket in buckets.items()},
        }).data)


# --- Admin configuration: routing rules, calendar overrides ----------------------------------------------------------
class IsGridloopAdmin(permissions.BasePermission):
    message = _("Only an administrator may read or change routing rules and the work calendar.")

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and is_admin(request.user))


ADMIN_ONLY = OpenApiResponse(ErrorSerializer, description=_("Only administrators may do this."))
RULE_NOT_FOUND = OpenApiResponse(ErrorSerializer, description=_("No such routing rule."))
RULE_ERRORS = {400: BAD_INPUT, 403: ADMIN_ONLY}


@extend_schema_view(
    list=extend_schema(summary=_("Routing rules"), parameters=[RoutingRuleFilterSerializer],
                       responses={200: RoutingRuleSerializer(many=True), **RULE_ERRORS}),
    create=extend_schema(summary=_("Add a routing rule"), responses={201: RoutingRuleSerializer, **RULE_ERRORS}),
    retrieve=extend_schema(summary=_("One routing rule"),
                           responses={200: RoutingRuleSerializer, 403: ADMIN_ONLY, 404: RULE_NOT_FOUND}),
    update=extend_schema(summary=_("Replace a routing rule"),
                         responses={200: RoutingRuleSerializer, 404: RULE_NOT_FOUND, **RULE_ERRORS}),
    partial_update=extend_schema(summary=_("Change some fields of a routing rule"),
                                 responses={200: RoutingRuleSerializer, 404: RULE_NOT_FOUND, **RULE_ERRORS}),
    destroy=extend_schema(summary=_("Delete a routing rule"),
                          responses={204: None, 403: ADMIN_ONLY, 404: RULE_NOT_FOUND}),
)
@extend_schema(tags=["routing rules"])
class RoutingRuleViewSet(viewsets.ModelViewSet):
    """Which department handles which kind of problem where (admins only). Rules are deleted for real: nothing
    refers to them (a case's routing event keeps the rule number as text)."""

    serializer_class = RoutingRuleSerializer
    permission_classes = [IsGridloopAdmin]
    lookup_value_regex = r"[0-9]+"
    queryset = RoutingRule.objects.none()

    def get_queryset(self):
        return (RoutingRule.objects.select_related("category", "region", "department")
                .defer("region__boundary").order_by("id"))

    def get_object(self) -> RoutingRule:
        rule = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if rule is None:
            raise exceptions.NotFound(_("There is no routing rule with this number."))
        return rule

    def list(self, request):
        params = query_params(request, RoutingRuleFilterSerializer)
        rules = self.get_queryset()
        for key, lookup in (("active", "active"), ("region", "region__code"), ("department", "department__code"),
                            ("category", "category__code")):
            if params.get(key) is not None:
                rules = rules.filter(**{lookup: params[key]})
        page = self.paginate_queryset(rules)
        return self.get_paginated_response(RoutingRuleSerializer(page, many=True).data)


CALENDAR_NOT_FOUND = OpenApiResponse(ErrorSerializer, description=_("No override for this day."))
DAY_PARAMETER = OpenApiParameter("day", OpenApiTypes.DATE, OpenApiParameter.PATH,
                                 description=_("The day, as an ISO date (e.g. 2026-10-01)."))
CALENDAR_WRITTEN = {200: CalendarOverrideSerializer, 201: CalendarOverrideSerializer, 400: BAD_INPUT,
                    403: ADMIN_ONLY}


@extend_schema_view(
    list=extend_schema(summary=_("Work-calendar overrides"), parameters=[CalendarOverrideFilterSerializer],
                       responses={200: CalendarOverrideSerializer(many=True), 400: BAD_INPUT, 403: ADMIN_ONLY}),
    create=extend_schema(
        summary=_("Make a day a working day or a day off"),
        description=_("Creates the override (201), or replaces the one that day already has (200)."),
        request=CalendarOverrideSerializer, responses=CALENDAR_WRITTEN),
    retrieve=extend_schema(summary=_("The override of one day"), parameters=[DAY_PARAMETER],
                           responses={200: CalendarOverrideSerializer, 400: BAD_INPUT, 403: ADMIN_ONLY,
                                      404: CALENDAR_NOT_FOUND}),
    update=extend_schema(
        summary=_("Set the override of one day"),
        description=_("Creates the override (201), or replaces the one that day already has (200)."),
        parameters=[DAY_PARAMETER], request=CalendarOverrideUpdateSerializer, responses=CALENDAR_WRITTEN),
    partial_update=extend_schema(
        summary=_("Change the override of one day"), parameters=[DAY_PARAMETER],
        request=CalendarOverrideUpdateSerializer,
        responses={200: CalendarOverrideSerializer, 400: BAD_INPUT, 403: ADMIN_ONLY, 404: CALENDAR_NOT_FOUND}),
    destroy=extend_schema(
        summary=_("Remove the override of one day"),
        description=_("The day is a working day or not again as the national calendar (or the weekend) says."),
        parameters=[DAY_PARAMETER],
        responses={204: None, 400: BAD_INPUT, 403: ADMIN_ONLY, 404: CALENDAR_NOT_FOUND}),
)
@extend_schema(tags=["calendar"])
class CalendarOverrideViewSet(viewsets.GenericViewSet):
    """Local changes to the work calendar (admins only), addressed by their day. Writes go through
    ``dispatch.services`` so every process sees the new calendar."""

    serializer_class = CalendarOverrideSerializer
    permission_classes = [IsGridloopAdmin]
    queryset = CalendarOverride.objects.none()
    lookup_field = "day"
    lookup_value_regex = r"[^/]+"  # a bad date reaches the view and answers 400 naming ``day``

    def _day(self):
        day = CalendarDaySerializer(data={"day": self.kwargs["day"]})
        day.is_valid(raise_exception=True)
        return day.validated_data["day"]

    def _existing(self, day) -> CalendarOverride:
        override = CalendarOverride.objects.filter(day=day).first()
        if override is None:
            raise exceptions.NotFound(_("There is no calendar override for %(day)s.") % {"day": day.isoformat()})
        return override

    @staticmethod
    def _written(day, is_workday: bool, note: str) -> Response:
        created = not CalendarOverride.objects.filter(day=day).exists()
        override = calendar_override_set(day=day, is_workday=is_workday, note=note)
        return Response(CalendarOverrideSerializer(override).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def list(self, request):
        params = query_params(request, CalendarOverrideFilterSerializer)
        overrides = CalendarOverride.objects.order_by("day")
        if params.get("year") is not None:
            overrides = overrides.filter(day__year=params["year"])
        page = self.paginate_queryset(overrides)
        return self.get_paginated_response(CalendarOverrideSerializer(page, many=True).data)

    def create(self, request):
        data = CalendarOverrideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        return self._written(values["day"], values["is_workday"], values.get("note", ""))

    def retrieve(self, request, day=None):
        return Response(CalendarOverrideSerializer(self._existing(self._day())).data)

    def update(self, request, day=None):
        day = self._day()
        data = CalendarOverrideUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._written(day, data.validated_data["is_workday"], data.validated_data.get("note", ""))

    def partial_update(self, request, day=None):
        override = self._existing(self._day())
        data = CalendarOverrideUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        override = calendar_override_set(day=override.day, is_workday=values.get("is_workday", override.is_workday),
                                         note=values.get("note", override.note))
        return Response(CalendarOverrideSerializer(override).data)

    def destroy(self, request, day=None):
        day = self._day()
        if not calendar_override_delete(day=day):
            raise exceptions.NotFound(_("There is no calendar override for %(day)s.") % {"day": day.isoformat()})
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Admin configuration: SLA policies -------------------------------------------------------------------------------
class IsGridloopAdminForSla(IsGridloopAdmin):
    message = _("Only an administrator may read or change the SLA policies.")


SLA_NOT_FOUND = OpenApiResponse(ErrorSerializer, description=_("No such SLA policy."))
SLA_ERRORS = {400: BAD_INPUT, 403: ADMIN_ONLY}


@extend_schema_view(
    list=extend_schema(summary=_("SLA policies (time limits per stage)"), parameters=[SlaPolicyFilterSerializer],
                       responses={200: SlaPolicySerializer(many=True), **SLA_ERRORS}),
    create=extend_schema(summary=_("Add an SLA policy"), responses={201: SlaPolicySerializer, **SLA_ERRORS}),
    retrieve=extend_schema(summary=_("One SLA policy"),
                           responses={200: SlaPolicySerializer, 403: ADMIN_ONLY, 404: SLA_NOT_FOUND}),
    update=extend_schema(summary=_("Replace an SLA policy"),
                         responses={200: SlaPolicySerializer, 404: SLA_NOT_FOUND, **SLA_ERRORS}),
    partial_update=extend_schema(summary=_("Change some fields of an SLA policy"),
                                 responses={200: SlaPolicySerializer, 404: SLA_NOT_FOUND, **SLA_ERRORS}),
    destroy=extend_schema(summary=_("Delete an SLA policy"),
                          responses={204: None, 403: ADMIN_ONLY, 404: SLA_NOT_FOUND}),
)
@extend_schema(tags=["SLA policies"])
class SlaPolicyViewSet(viewsets.ModelViewSet):
    """Time limits per stage (admins only), each for a category, urgency and command level or any. Writes go through
    ``dispatch.services``, which checks the combination and makes every process use the new limits; clocks already
    running keep theirs."""

    serializer_class = SlaPolicySerializer
    permission_classes = [IsGridloopAdminForSla]
    lookup_value_regex = r"[0-9]+"
    queryset = SlaPolicy.objects.none()

    def get_queryset(self):
        return SlaPolicy.objects.select_related("category").order_by("stage", "id")

    def get_object(self) -> SlaPolicy:
        policy = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if policy is None:
            raise exceptions.NotFound(_("There is no SLA policy with this number."))
        return policy

    def list(self, request):
        params = query_params(request, SlaPolicyFilterSerializer)
        policies = self.get_queryset()
        for key, lookup in (("stage", "stage"), ("category", "category__code"), ("urgency", "urgency"),
                            ("level", "level")):
            if params.get(key) is not None:
                policies = policies.filter(**{lookup: params[key]})
        page = self.paginate_queryset(policies)
        return self.get_paginated_response(SlaPolicySerializer(page, many=True).data)

    def perform_create(self, serializer):
        serializer.instance = sla_policy_save(values=dict(serializer.validated_data))

    def perform_update(self, serializer):
        serializer.instance = sla_policy_save(policy=serializer.instance, values=dict(serializer.validated_data))

    def perform_destroy(self, instance):
        sla_policy_delete(policy=instance)
