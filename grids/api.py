"""Read API for regions, locate, departments and the caller's own roles and scope.

Every read starts from a grids.selectors scope function, so a caller only ever sees their area; a region or
department outside it answers 404 exactly like one that does not exist.
"""

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, renderers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from config.authentication import TokenAuthentication
from config.errors import Locked

from . import selectors, services
from .models import LEVEL_ORDER, ApiToken, Department, Level, Region, User
from .serializers import (
    ApiTokenSerializer,
    DepartmentFilterSerializer,
    DepartmentSerializer,
    ErrorSerializer,
    LocateQuerySerializer,
    LocateResultSerializer,
    MeSerializer,
    RegionDetailSerializer,
    RegionFeatureSerializer,
    RegionFilterSerializer,
    RegionListSerializer,
    RegionTreeNodeSerializer,
    RegionTreeQuerySerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from .services import region_feature

BAD_INPUT = OpenApiResponse(ErrorSerializer, description=_("Bad input; `fields` names each bad parameter."))
REGION_NOT_FOUND = OpenApiResponse(ErrorSerializer, description=_("No such region in your scope."))
DEPARTMENT_NOT_FOUND = OpenApiResponse(ErrorSerializer, description=_("No such department in your scope."))


class OutsideServiceArea(exceptions.NotFound):
    default_detail = _("This point is outside the service area (no unit grid contains it).")
    default_code = "outside_service_area"


def query_params(request, serializer_class) -> dict:
    """Validate the query string with ``serializer_class``; a bad value is a 400 naming the parameter."""
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- Auth ------------------------------------------------------------------------------------------------------------
class TokenObtainView(APIView):
    """Exchange a username and password for an API token of one device; ``DELETE`` logs the token sent out."""

    authentication_classes = (TokenAuthentication,)  # POST: credentials in the body (no session: no CSRF check)
    permission_classes = ()

    @extend_schema(
        tags=["auth"],
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, 400: OpenApiResponse(ErrorSerializer, description=_("Wrong credentials.")),
                   429: OpenApiResponse(ErrorSerializer, description=_("Locked after too many wrong passwords."))},
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        serializer = TokenRequestSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            if getattr(request, "axes_locked_out", False):  # django-axes refused the attempt (AXES_* settings)
                raise Locked(_("Too many wrong passwords for this username from this address. Try again in "
                               "%(minutes)s minutes, or ask an administrator to release the lock.")
                             % {"minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)})
            raise ValidationError(serializer.errors)
        token, raw = services.api_token_issue(user=serializer.validated_data["user"],
                                              device=serializer.validated_data.get("device", ""))
        return Response(TokenSerializer({"token": raw, "device": token.device, "expires_at": token.expires_at}).data)

    @extend_schema(tags=["auth"], request=None, responses={204: None})
    def delete(self, request):
        """Log out the token in the Authorization header (the same as POST /auth/logout/)."""
        if not isinstance(request.auth, ApiToken):
            raise exceptions.NotAuthenticated()
        services.api_token_revoke(token=request.auth)
        return Response(status=204)


class LogoutView(APIView):
    """Log out the token sent with the request (``POST /auth/logout/`` or ``DELETE /auth/token/``)."""

    authentication_classes = (TokenAuthentication,)

    @extend_schema(tags=["auth"], request=None, responses={204: None})
    def post(self, request):
        services.api_token_revoke(token=request.auth)
        return Response(status=204)


@extend_schema_view(
    list=extend_schema(tags=["auth"], summary=_("My API tokens, one per device")),
    destroy=extend_schema(tags=["auth"], summary=_("Log out one of my devices"), responses={204: None},
                          parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)]),
)
class ApiTokenViewSet(viewsets.GenericViewSet):
    serializer_class = ApiTokenSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.api_tokens_of(self.request.user)

    def list(self, request):
        current = request.auth.pk if isinstance(request.auth, ApiToken) else None
        return Response(ApiTokenSerializer(self.get_queryset(), many=True, context={"current": current}).data)

    def destroy(self, request, pk=None):
        token = self.get_queryset().filter(pk=pk).first() if str(pk).isdigit() else None
        if token is None:
            raise exceptions.NotFound(_("You have no token with this id."))
        services.api_token_revoke(token=token)
        return Response(status=204)


# --- Regions ---------------------------------------------------------------------------------------------------------
def _filter_regions(regions: QuerySet[Region], *, level=None, parent=None, q=None) -> QuerySet[Region]:
    if level:
        regions = regions.filter(level=level)
    if parent:
        regions = regions.filter(parent__code=parent)
    if q:
        regions = regions.filter(Q(name__icontains=q) | Q(code__contains=q))
    return regions


def _region_tree(visible: QuerySet[Region], roots: list[Region], depth: int) -> list[dict]:
    """Nested dicts (code, name, level, children) of the visible regions under ``roots``, ``depth`` levels deep."""
    wanted = Q(pk__in=[])
    for root in roots:
        levels = LEVEL_ORDER[root.depth:root.depth + depth]
        wanted |= Q(code__startswith=root.subtree_prefix, level__in=levels)
    children_of: dict[int, list[dict]] = {}
    for row in visible.filter(wanted).values("id", "code", "name", "level", "parent_id"):
        children_of.setdefault(row["parent_id"], []).append(row)

    def node(row: dict, remaining: int) -> dict:
        if row["level"] == Level.GRID:
            children = []
        elif remaining <= 1:
            children = None
        else:
            children = [node(child, remaining - 1) for child in children_of.get(row["id"], [])]
        return {"code": row["code"], "name": row["name"], "level": row["level"], "children": children}

    return [node({"id": r.pk, "code": r.code, "name": r.name, "level": r.level}, depth) for r in roots]


class GeoJSONRenderer(renderers.JSONRenderer):
    media_type = "application/geo+json"
    format = "geojson"


@extend_schema_view(
    list=extend_schema(
        summary=_("Regions in your scope"),
        description=_("Regions you may see (your area and the regions above it), by code. No geometry."),
        parameters=[RegionFilterSerializer],
        responses={200: RegionListSerializer(many=True), 400: BAD_INPUT},
    ),
    retrieve=extend_schema(
        summary=_("One region with its ancestors, children and boundary"),
        responses={200: RegionDetailSerializer, 404: REGION_NOT_FOUND},
    ),
)
@extend_schema(tags=["regions"])
class RegionViewSet(viewsets.GenericViewSet):
    queryset = Region.objects.none()  # the real one is per caller: get_queryset
    serializer_class = RegionListSerializer
    lookup_field = "code"

    def get_queryset(self):
        return selectors.regions_visible_to(self.request.user)

    def get_object(self) -> Region:
        return self._visible_region(self.kwargs["code"])

    def _visible_region(self, code: str) -> Region:
        region = self.get_queryset().select_related("parent").filter(code=code).first()
        if region is None:  # missing and out of scope look the same
            raise exceptions.NotFound(_("There is no region with this code in your area."))
        return region

    def list(self, request):
        params = query_params(request, RegionFilterSerializer)
        regions = _filter_regions(self.get_queryset(), **params).select_related("parent")
        regions = regions.defer("boundary", "parent__boundary")
        page = self.paginate_queryset(regions)
        return self.get_paginated_response(RegionListSerializer(page, many=True).data)

    def retrieve(self, request, code=None):
        region = self.get_object()
        return Response(RegionDetailSerializer({
            "code": region.code,
            "name": region.name,
            "level": region.level,
            "parent": region.parent,
            "ancestors": selectors.region_ancestors(region).defer("boundary"),
            "children": self.get_queryset().filter(parent=region).defer("boundary"),
            "boundary": region.boundary,
        }).data)

    @extend_schema(
        summary=_("Nested tree of the regions in your scope"),
        description=_(
            "A list of root nodes. Without `root`, the roots are your topmost visible regions. `depth` counts the "
            "levels in the answer, the root included (default 3, at most 5); `children` is null where the depth "
            "limit cut the tree. A root outside your scope is reported as not found."
        ),
        parameters=[RegionTreeQuerySerializer],
        responses={200: RegionTreeNodeSerializer(many=True), 400: BAD_INPUT, 404: REGION_NOT_FOUND},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def tree(self, request):
        params = query_params(request, RegionTreeQuerySerializer)
        visible = self.get_queryset()
        if params.get("root"):
            roots = [self._visible_region(params["root"])]
        else:
            roots = list(visible.exclude(parent__in=visible).defer("boundary"))
        return Response(RegionTreeNodeSerializer(_region_tree(visible, roots, params["depth"]), many=True).data)

    @extend_schema(
        summary=_("One region as a GeoJSON Feature"),
        responses={200: RegionFeatureSerializer, 404: REGION_NOT_FOUND},
    )
    @action(detail=True, methods=["get"], renderer_classes=[GeoJSONRenderer, renderers.JSONRenderer])
    def geojson(self, request, code=None):
        return Response(region_feature(self.get_object()))




# --- Locate ----------------------------------------------------------------------------------------------------------
class LocateView(APIView):
    @extend_schema(
        tags=["grids"],
        summary=_("The unit grid containing a point, with its community, street, district and city"),
        description=_(
            "On a border shared by several grids the grid with the smallest code wins. Any staff user may locate; "
            "`in_your_scope` says whether the grid is in your area."
        ),
        parameters=[LocateQuerySerializer],
        responses={
            200: LocateResultSerializer,
            400: BAD_INPUT,
            404: OpenApiResponse(ErrorSerializer, description=_("Outside every unit grid: code outside_service_area.")),
        },
    )
    def get(self, request):
        params = query_params(request, LocateQuerySerializer)
        entry = selectors.locate(params["lat"], params["lng"])
        if entry is None:
            raise OutsideServiceArea()
        above = {level: {"code": code, "name": name} for level, code, name in entry.ancestors}
        result = {
            "grid": {"code": entry.code, "name": entry.name},
            **{level: above.get(level) for level in (Level.COMMUNITY, Level.STREET, Level.DISTRICT, Level.CITY)},
            "in_your_scope": selectors.covers(request.user, entry.code),
        }
        return Response(LocateResultSerializer(result).data)


# --- Departments -----------------------------------------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(
        summary=_("Departments serving your area"),
        description=_(
            "Handlers see their own departments; other roles the departments inside their area or at a higher "
            "level whose jurisdiction contains it."
        ),
        parameters=[DepartmentFilterSerializer],
        responses={200: DepartmentSerializer(many=True), 400: BAD_INPUT},
    ),
    retrieve=extend_schema(summary=_("One department"), responses={200: DepartmentSerializer, 404: DEPARTMENT_NOT_FOUND}),
)
@extend_schema(tags=["departments"])
class DepartmentViewSet(viewsets.GenericViewSet):
    queryset = Department.objects.none()  # the real one is per caller: get_queryset
    serializer_class = DepartmentSerializer
    lookup_field = "code"

    def get_queryset(self):
        return selectors.departments_visible_to(self.request.user)

    def list(self, request):
        params = query_params(request, DepartmentFilterSerializer)
        departments = self.get_queryset().defer("region__boundary")
        for key, lookup in (("level", "level"), ("type", "type"), ("region", "region__code"), ("active", "active")):
            if key in params:
                departments = departments.filter(**{lookup: params[key]})
        page = self.paginate_queryset(departments)
        return self.get_paginated_response(DepartmentSerializer(page, many=True).data)

    def retrieve(self, request, code=None):
        department = self.get_queryset().filter(code=code).first()
        if department is None:
            raise exceptions.NotFound(_("There is no department with this code in your area."))
        return Response(DepartmentSerializer(department).data)


# --- Me --------------------------------------------------------------------------------------------------------------
class MeView(APIView):
    @extend_schema(tags=["me"], summary=_("Who you are: your roles and your area scope"),
                   responses={200: MeSerializer})
    def get(self, request):
        user: User = request.user
        scope = selectors.scope_of(user)
        return Response(MeSerializer({
            "username": user.username,
            "display_name": user.display_name or user.username,
            "is_admin": scope.is_admin,
            "roles": scope.roles,
            "scope": scope,
        }).data)
