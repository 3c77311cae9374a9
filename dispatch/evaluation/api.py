"""The metrics API (``/api/v1/metrics/…``): indicator tables, rankings, the cases behind a figure, case-list exports,
daily briefings and the black list.

Scope: supervisors see their region (a ``region`` outside it is a 403), department handlers their own department,
administrators everything; anyone else gets 403. Every table also downloads as CSV (streamed) or XLSX with
``export=csv|xlsx``.
"""

from datetime import timedelta

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import PermissionDenied
from dispatch.models.evaluation import BlackListing, Briefing
from events.models import Case
from events.selectors import cases_list
from grids.api import query_params
from grids.serializers import ErrorSerializer

from . import exports
from .briefing import briefing_generate, briefing_html, briefing_xlsx
from .indicators import INDICATORS
from .scores import listings, rankings_for, visible_keys
from .selectors import figure_cases, indicator_table, metrics_scope, period_resolve
from .serializers import (
    BlackListingSerializer,
    BlackListQuerySerializer,
    BriefingQuerySerializer,
    BriefingSerializer,
    CaseExportQuerySerializer,
    FigureCaseSerializer,
    FigureCasesQuerySerializer,
    IndicatorQuerySerializer,
    IndicatorTableSerializer,
    RankingQuerySerializer,
    RankingSerializer,
    RectifySerializer,
)
from .services import blacklisting_rectify

BAD_INPUT = OpenApiResponse(ErrorSerializer, description=_("Bad input; `fields` names each bad parameter."))
FORBIDDEN = OpenApiResponse(ErrorSerializer, description=_("Not a supervisor of this area, a handler of this "
                                                           "department or an administrator."))
EXPORT_NOTE = _(" With export=csv the table downloads as CSV (streamed), with export=xlsx as an Excel file.")


def _scope(request, params):
    return metrics_scope(request.user, region=params.get("region"), department=params.get("department"),
                         category=params.get("category"), channel=params.get("channel"))


def _period(params, default: str = "month"):
    return period_resolve(period=params.get("period"), first=params.get("from"), last=params.get("to"),
                          default=default)


class IndicatorsView(APIView):
    @extend_schema(
        tags=["metrics"],
        summary=_("Indicators for a period, one row per region, department, category, channel or person"),
        description=_("Every figure carries its numerator and denominator and the counters they come from; each "
                      "row's filter lists the cases behind it at /api/v1/metrics/cases/?counter=….") + EXPORT_NOTE,
        parameters=[IndicatorQuerySerializer],
        responses={200: IndicatorTableSerializer, 400: BAD_INPUT, 403: FORBIDDEN},
    )
    def get(self, request):
        params = query_params(request, IndicatorQuerySerializer)
        scope = _scope(request, params)
        period = _period(params)
        codes = [c.strip() for c in params["indicators"].split(",") if c.strip()] if params.get("indicators") \
            else None
        table = indicator_table(user=request.user, group_by=params["group_by"], period=period, scope=scope,
                                codes=codes)
        if params.get("export"):
            name = f"indicators-{params['group_by']}-{period.first}-{period.last}"
            return exports.export_response(params["export"], name, [exports.indicator_sheet(table)])
        return Response({
            "group_by": table.group_by, "period": period.as_params(),
            "region": scope.region.code if scope.region else None,
            "indicators": {code: {"title": str(INDICATORS[code].title), "standard_name": INDICATORS[code].label}
                           for code in table.total["indicators"]},
            "rows": table.rows, "total": table.total,
        })


class RankingsView(APIView):
    @extend_schema(
        tags=["metrics"],
        summary=_("Composite scores, grades and ranks of departments, regions or positions"),
        description=_("Units below the minimum sample are listed without a rank. For a month, `lists.stored` has "
                      "the stored red and yellow lists and the black listings in force.") + EXPORT_NOTE,
        parameters=[RankingQuerySerializer],
        responses={200: RankingSerializer, 400: BAD_INPUT, 403: FORBIDDEN},
    )
    def get(self, request):
        params = query_params(request, RankingQuerySerializer)
        scope = _scope(request, params)
        period = _period(params, default="last_month")
        kind = {"department": "", "region": params["level"], "position": params["role"]}[params["object"]]
        ranking, stored = rankings_for(user=request.user, object=params["object"], kind=kind, period=period,
                                       scope=scope)
        if params.get("export"):
            name = f"ranking-{params['object']}{'-' + kind if kind else ''}-{period.first}-{period.last}"
            return exports.export_response(params["export"], name, [exports.ranking_sheet(ranking)])
        return Response({
            "object": ranking.object, "kind": ranking.kind, "period": period.as_params(),
            "weights": ranking.weights, "min_sample": ranking.min_sample, "entries": ranking.entries,
            "lists": {**listings(ranking.entries), "stored": stored},
        })


class FigureCasesView(generics.GenericAPIView):
    serializer_class = FigureCaseSerializer
    queryset = Case.objects.none()

    @extend_schema(
        tags=["metrics"],
        summary=_("The cases behind a figure"),
        description=_("Take a row's `filter` from the indicators API and add counter= (a figure's "
                      "numerator_counter or denominator_counter): the cases listed, with their weights, add up to "
                      "that number.") + EXPORT_NOTE,
        parameters=[FigureCasesQuerySerializer],
        responses={200: FigureCaseSerializer(many=True), 400: BAD_INPUT, 403: FORBIDDEN},
    )
    def get(self, request):
        params = query_params(request, FigureCasesQuerySerializer)
        department = params.get("department")
        scope = metrics_scope(request.user, region=params.get("region"),
                              department=None if department in (None, "none") else department)
        scope.filters.pop("department", None)  # the row's department is matched on the counted item below
        period = _period(params)
        cases = figure_cases(scope=scope, counter=params["counter"], period=period, region=params.get("region"),
                             unplaced=params.get("unplaced"), department=department,
                             category=params.get("category"), channel=params.get("channel"),
                             person=params.get("person"))
        if params.get("export"):
            name = f"cases-{params['counter']}-{period.first}-{period.last}"
            return exports.export_response(params["export"], name, [exports.case_sheet(cases, weighted=True)])
        page = self.paginate_queryset(cases)
        return self.get_paginated_response(FigureCaseSerializer(page, many=True).data)


class CaseExportView(APIView):
    @extend_schema(
        tags=["metrics"],
        summary=_("Download a case list (the case list API's filters) as CSV or XLSX"),
        description=_("The cases GET /api/v1/cases/ would list with the same filters, all of them, newest first. "
                      "CSV is streamed."),
        parameters=[CaseExportQuerySerializer],
        responses={200: OpenApiResponse(description=_("The file.")), 400: BAD_INPUT},
    )
    def get(self, request):
        params = dict(query_params(request, CaseExportQuerySerializer))
        kind = params.pop("export")
        cases = cases_list(user=request.user, filters=params)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        return exports.export_response(kind, f"cases-{stamp}", [exports.case_sheet(cases)])


class BriefingView(APIView):
    @extend_schema(
        tags=["metrics"],
        summary=_("The daily briefing (一日一研商) of a region"),
        description=_("New, closed, overdue and escalated counts, top categories, hot spots, the worst streets and "
                      "departments and the open supervision orders of one day (default: yesterday). Stored when "
                      "first computed; export=html gives a page, export=xlsx a download."),
        parameters=[BriefingQuerySerializer],
        responses={200: BriefingSerializer, 400: BAD_INPUT, 403: FORBIDDEN},
    )
    def get(self, request):
        params = query_params(request, BriefingQuerySerializer)
        scope = metrics_scope(request.user, region=params["region"])
        if scope.by_department:
            raise PermissionDenied(gettext("the daily briefing is for the supervisors of a region"))
        day = params.get("date") or timezone.localdate() - timedelta(days=1)
        briefing = None if params["refresh"] else Briefing.objects.filter(region_code=scope.region.code,
                                                                          day=day).first()
        if briefing is None:
            briefing = briefing_generate(region_code=scope.region.code, day=day)
        if params.get("export") == "html":
            return HttpResponse(briefing_html(briefing.data), content_type="text/html; charset=utf-8")
        if params.get("export") == "xlsx":
            response = HttpResponse(briefing_xlsx(briefing.data), content_type=exports.XLSX_TYPE)
            response["Content-Disposition"] = f'attachment; filename="briefing-{briefing.region_code}-{day}.xlsx"'
            return response
        return Response(briefing.data)


class BlackListView(generics.GenericAPIView):
    serializer_class = BlackListingSerializer
    queryset = BlackListing.objects.none()

    @extend_schema(
        tags=["metrics"],
        summary=_("The black list: units on the yellow list twice within 12 months, with their rectification date"),
        parameters=[BlackListQuerySerializer],
        responses={200: BlackListingSerializer(many=True), 400: BAD_INPUT, 403: FORBIDDEN},
    )
    def get(self, request):
        params = query_params(request, BlackListQuerySerializer)
        scope = metrics_scope(request.user)
        rows = BlackListing.objects.order_by("-month", "object", "key")
        if params.get("object"):
            rows = rows.filter(object=params["object"])
        visible = {}
        keep = []
        for row in rows:
            if row.object not in visible:
                visible[row.object] = visible_keys(row.object, scope)
            if visible[row.object] is None or row.key in visible[row.object]:
                keep.append(row)
        page = self.paginate_queryset(keep)
        return self.get_paginated_response(BlackListingSerializer(page, many=True).data)



class BlackListRectifyView(generics.GenericAPIView):
    serializer_class = RectifySerializer

    @extend_schema(
        tags=["metrics"],
        summary=_("Mark a black-listed unit's rectification done, with a note"),
        request=RectifySerializer,
        responses={200: BlackListingSerializer, 400: BAD_INPUT, 403: FORBIDDEN,
                   404: OpenApiResponse(ErrorSerializer, description=_("No such black listing.")),
                   409: OpenApiResponse(ErrorSerializer, description=_("Already marked done."))},
    )
    def post(self, request, pk):
        body = RectifySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        listing = blacklisting_rectify(listing_id=pk, user=request.user, note=body.validated_data["note"])
        return Response(BlackListingSerializer(listing).data)
