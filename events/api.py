"""The events API: problem categories (city-wide reference data) and cases — intake, lists within the caller's
scope, detail with the timeline, actions, contact details and the caller's own reports.

Views stay thin: a serializer checks the input, a service (events.services) writes, a selector (events.selectors)
reads; DomainErrors from the services become 400/403/404/409/422 in config.api.exception_handler.
"""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, parsers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import NotFound, PermissionDenied
from config.parsers import JSONParser
from grids.api import BAD_INPUT, query_params
from grids.serializers import ErrorSerializer

from . import selectors
from .access import cases_visible_q
from .actors import Actor
from .duplicates import case_duplicate_candidates
from .models import Case, Category
from .serializers import (
    CaseActionSerializer,
    CaseDetailSerializer,
    CaseEventSerializer,
    CaseFilterSerializer,
    CaseListSerializer,
    CaseReportSerializer,
    CaseStatusSerializer,
    CategoryFilterSerializer,
    CategorySerializer,
    ConflictSerializer,
    ContactSerializer,
    DuplicateCandidateSerializer,
    validated_input,
)
from .services import ReportInput, allowed_actions, case_act, case_contact_view, case_report
from .workflow import ACTIONS


@extend_schema_view(
    list=extend_schema(
        summary=_("Problem categories"),
        description=_("All matching categories ordered by code, in one unpaginated list (there are about a hundred)."),
        parameters=[CategoryFilterSerializer],
        responses={200: CategorySerializer(many=True), 400: BAD_INPUT},
    ),
    retrieve=extend_schema(
        summary=_("One problem category"),
        responses={200: CategorySerializer,
                   404: OpenApiResponse(ErrorSerializer, description=_("No category with this code."))},
    ),
)
@extend_schema(tags=["categories"])
class CategoryViewSet(viewsets.GenericViewSet):
    queryset = Category.objects.none()
    serializer_class = CategorySerializer
    pagination_class = None
    lookup_field = "code"

    def list(self, request):
        params = query_params(request, CategoryFilterSerializer)
        categories = selectors.categories_list(
            active=params.get("active"), kind=params.get("kind"), major_code=params.get("major")
        )
        return Response(CategorySerializer(categories, many=True).data)

    def retrieve(self, request, code=None):
        category = selectors.category_get(code)
        if category is None:
            raise exceptions.NotFound(_("There is no category with this code."))
        return Response(CategorySerializer(category).data)


# =====================================================================================================================
# Cases
# =====================================================================================================================
def _error(description) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


CASE_NOT_FOUND = _error(_("No case with this number in your area (out of scope looks the same as missing)."))
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description=_("Up to 100 characters. Repeating a key returns the first result and does nothing again."),
)
NUMBER = OpenApiParameter("number", str, OpenApiParameter.PATH, description=_("Case number, e.g. 2026112300017."))
MULTIPART_OR_JSON = [JSONParser, parsers.MultiPartParser, parsers.FormParser]  # config.parsers: no NUL, no deep JSON


def _idempotency_key(request) -> str:
    return request.headers.get("Idempotency-Key", "").strip()


def _not_found() -> exceptions.NotFound:
    return exceptions.NotFound(_("There is no case with this number in your area."))


def _found(case: Case | None) -> Case:
    if case is None:
        raise _not_found()
    return case


def case_status_response(request, case: Case, *, status: int = 200) -> Response:
    """The compact case document (``CaseStatusSerializer``) that answers an intake or an action."""
    allowed = allowed_actions(case, Actor.staff(request.user))
    return Response(CaseStatusSerializer(case, context={"allowed_actions": allowed}).data, status=status)


def _visible_or_404(request, number: str) -> None:
    if not selectors.case_visible(number=number, user=request.user):
        raise _not_found()


@extend_schema_view(
    list=extend_schema(
        summary=_("Cases in your area"),
        description=_("Cases you may see (your area, your departments, or filed by you), newest first, paginated."),
        parameters=[CaseFilterSerializer],
        responses={200: CaseListSerializer(many=True), 400: BAD_INPUT},
    ),
    create=extend_schema(
        summary=_("File a report (grid patrol, hotline or web) and open a case"),
        description=_(
            "JSON, or multipart with repeated file fields photos, before_photos and after_photos. Grid workers' "
            "patrol reports are accepted on filing; hotline and web reports wait for a dispatcher. With an "
            "Idempotency-Key a repeat returns the same case with 200 instead of 201. The answer is where the case "
            "stands (number, state, the actions you may take); the whole case is at /cases/{number}/, its timeline "
            "at /cases/{number}/events/."
        ),
        parameters=[IDEMPOTENCY_KEY],
        request=CaseReportSerializer,
        responses={
            201: CaseStatusSerializer,
            200: OpenApiResponse(CaseStatusSerializer, description=_("A repeat of an Idempotency-Key: the first case.")),
            400: BAD_INPUT,
            403: _error(_("Your roles do not let you file on this channel at this place.")),
            422: _error(_("The point is outside the service area.")),
        },
    ),
    retrieve=extend_schema(
        summary=_("One case: details, masked reporter, photos, timeline and the actions you may take now"),
        parameters=[NUMBER],
        responses={200: CaseDetailSerializer, 404: CASE_NOT_FOUND},
    ),
)
@extend_schema(tags=["cases"])
class CaseViewSet(viewsets.GenericViewSet):
    queryset = Case.objects.none()  # the real one is per caller: selectors.cases_list
    serializer_class = CaseListSerializer
    lookup_field = "number"
    parser_classes = MULTIPART_OR_JSON

    def list(self, request):
        params = query_params(request, CaseFilterSerializer)
        page = self.paginate_queryset(selectors.cases_list(user=request.user, filters=params))
        return self.get_paginated_response(CaseListSerializer(page, many=True).data)

    def create(self, request):
        data = ReportInput(**validated_input(CaseReportSerializer, request.data),
                           idempotency_key=_idempotency_key(request))
        case, created = case_report(actor=Actor.staff(request.user), data=data)
        return case_status_response(request, case, status=201 if created else 200)

    def retrieve(self, request, number=None):
        case = _found(selectors.case_detail_get(number=number, user=request.user))
        selectors.with_related(case, events=selectors.events_as_read_by(case.events.all(), user=request.user))
        allowed = allowed_actions(case, Actor.staff(request.user))
        return Response(CaseDetailSerializer(case, context={"request": request, "allowed_actions": allowed}).data)

    @extend_schema(
        summary=_("The case timeline (its event log, oldest first)"),
        parameters=[NUMBER],
        responses={200: CaseEventSerializer(many=True), 404: CASE_NOT_FOUND},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def events(self, request, number=None):
        case = _found(selectors.case_get(number=number, user=request.user))
        events = selectors.events_as_read_by(selectors.case_events(case), user=request.user)
        return Response(CaseEventSerializer(events, many=True).data)

    @extend_schema(
        summary=_("Open cases this one probably repeats (duplicates), nearest first"),
        description=_(
            "Open cases in your area of the same category (or major class) within the category's radius and time "
            "window. Merge with the merge action (target = the case to keep)."
        ),
        parameters=[NUMBER],
        responses={200: DuplicateCandidateSerializer(many=True), 404: CASE_NOT_FOUND},
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def duplicates(self, request, number=None):
        case = _found(selectors.case_get(number=number, user=request.user))
        found = case_duplicate_candidates(case, now=timezone.now(), within=cases_visible_q(request.user))
        return Response(DuplicateCandidateSerializer(found, many=True).data)

    @extend_schema(
        summary=_("The reporter's full contact details (every call is logged)"),
        description=_("For hotline operators and dispatchers whose area covers the case."),
        parameters=[NUMBER],
        responses={
            200: ContactSerializer,
            403: _error(_("Your role may not see citizens' contact details.")),
            404: CASE_NOT_FOUND,
        },
    )
    @action(detail=True, methods=["get"])
    def contact(self, request, number=None):
        case = _found(selectors.case_get(number=number, user=request.user))
        return Response(ContactSerializer(case_contact_view(case=case, user=request.user)).data)


class CaseActionView(APIView):
    parser_classes = MULTIPART_OR_JSON

    @extend_schema(
        tags=["cases"],
        summary=_("Take an action on a case"),
        description=_(
            "Action names, their start states and who may take them: the case state machine (events/workflow.py). "
            "Send only the inputs "
            "the action needs; a missing one is a 400 naming it. An action that does not fit the case's state is a "
            "409 listing `allowed_actions` and `state`. With an Idempotency-Key a repeat by the same user answers "
            "the current case without acting again. The answer is where the case stands now (number, state, the "
            "actions you may take next); the whole case is at /cases/{number}/, its timeline at "
            "/cases/{number}/events/."
        ),
        parameters=[
            NUMBER,
            OpenApiParameter("action", str, OpenApiParameter.PATH, enum=list(ACTIONS),
                             description=_("The action to take.")),
            IDEMPOTENCY_KEY,
        ],
        request=CaseActionSerializer,
        responses={
            200: CaseStatusSerializer,
            400: BAD_INPUT,
            403: _error(_("Your role or area does not let you take this action on this case.")),
            404: _error(_("No case with this number in your area, or no such action.")),
            409: OpenApiResponse(ConflictSerializer, description=_("The action does not fit the case's state.")),
        },
    )
    def post(self, request, number, action):
        inputs = validated_input(CaseActionSerializer, request.data)  # only the keys sent: the fields have no defaults
        key = _idempotency_key(request)
        if key:
            inputs["idempotency_key"] = key  # case_act ignores a retry of an action already taken with this key
        try:
            case = case_act(case=number, action=action, actor=Actor.staff(request.user), inputs=inputs)
        except (PermissionDenied, NotFound):
            # Whoever may act on a case may see it, so only a refusal needs the visibility check: a case outside
            # the caller's area is a 404, as if it did not exist.
            _visible_or_404(request, number)
            raise
        # The actor saw the case a moment ago; it may have just left their scope (a handler returning it): the
        # answer is the case row as the action left it.
        return case_status_response(request, case)


class MyCasesView(generics.GenericAPIView):
    serializer_class = CaseListSerializer
    queryset = Case.objects.none()

    @extend_schema(
        tags=["cases"],
        summary=_("Cases you filed yourself, newest first"),
        responses={200: CaseListSerializer(many=True)},
    )
    def get(self, request):
        page = self.paginate_queryset(selectors.cases_reported_by(user=request.user))
        return self.get_paginated_response(CaseListSerializer(page, many=True).data)
