"""The sensor API: ``POST /api/v1/sensors/events`` (signed batches from devices and integrators), the sensors in
the caller's area, and the reject counters for administrators.

The events endpoint authenticates by signature, not by token: the view reads the raw body, hands it with the
headers to the service (events/sensors/services.py), and answers with a result per event that was not accepted.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import InvalidInput
from dispatch.api import IsGridloopAdmin
from grids.api import BAD_INPUT, query_params
from grids.serializers import ErrorSerializer

from . import selectors
from .models import RejectReason, SensorDevice
from .serializers import (
    SensorBatchSerializer,
    SensorDeviceFilterSerializer,
    SensorDeviceSerializer,
    SensorIngestResultSerializer,
    SensorRejectFilterSerializer,
    SensorRejectTotalSerializer,
)
from .services import refuse, sensor_batch_events, sensor_events_ingest, sensor_signer_check
from .signing import DEVICE_HEADER, KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER


def _header(name: str, description) -> OpenApiParameter:
    return OpenApiParameter(name, str, OpenApiParameter.HEADER, required=False, description=description)


class SensorEventsView(APIView):
    authentication_classes = ()  # the batch is signed (HMAC); no session, so no CSRF check either
    permission_classes = (permissions.AllowAny,)
    parser_classes = ()  # the raw body is what is signed

    @extend_schema(
        tags=["sensors"],
        summary=_("Send a batch of sensor events (signed)"),
        description=_(
            "Up to 1,000 events as {\"events\": [...]}. Sign with HMAC-SHA256 over '<timestamp>.<raw body>' using "
            "the device's secret (header X-Gridloop-Device) or an integration key's secret (X-Gridloop-Key). A "
            "timestamp more than 5 minutes off is refused. Each (device_id, seq) is stored once: retries and replays "
            "are answered as duplicates. Events that cannot be taken are listed under problems with a reason; the "
            "others are stored."
        ),
        parameters=[
            _header(DEVICE_HEADER, _("The signing device's id (or send X-Gridloop-Key).")),
            _header(KEY_HEADER, _("The integration key's id (or send X-Gridloop-Device).")),
            _header(TIMESTAMP_HEADER, _("Unix time in whole seconds, as signed.")),
            _header(SIGNATURE_HEADER, _("Hex HMAC-SHA256 of '<timestamp>.<raw body>'.")),
        ],
        request=SensorBatchSerializer,
        responses={
            200: SensorIngestResultSerializer,
            400: BAD_INPUT,
            403: OpenApiResponse(ErrorSerializer, description=_(
                "Unknown or deactivated device or key, a stale timestamp or a wrong signature.")),
        },
    )
    def post(self, request):
        limit = settings.GRIDLOOP_SENSOR_MAX_BODY_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        too_large = InvalidInput(gettext("the body may be at most %(n)s bytes") % {"n": f"{limit:,}"}, field="events")
        if length > limit:
            raise refuse(too_large, reason=RejectReason.TOO_LARGE, detail=f"{length} bytes")
        try:
            body = request.body
        except RequestDataTooBig as exc:
            raise refuse(too_large, reason=RejectReason.TOO_LARGE) from exc
        if len(body) > limit:
            raise refuse(too_large, reason=RejectReason.TOO_LARGE, detail=f"{len(body)} bytes")
        signer = sensor_signer_check(headers=request.headers, body=body)
        events = sensor_batch_events(body, signer=signer)
        result = sensor_events_ingest(events=events, source="http", signer=signer)
        return Response({
            "received": result.received, "accepted": result.accepted, "duplicates": result.duplicates,
            "rejected": result.rejected, "problems": [p.as_dict() for p in result.problems],
        })


class SensorDeviceListView(generics.GenericAPIView):
    serializer_class = SensorDeviceSerializer
    queryset = SensorDevice.objects.none()

    @extend_schema(
        tags=["sensors"],
        summary=_("Sensors in your area"),
        description=_("Sensors whose unit grid is in your area scope, or owned by your departments. No secrets."),
        parameters=[SensorDeviceFilterSerializer],
        responses={200: SensorDeviceSerializer(many=True), 400: BAD_INPUT},
    )
    def get(self, request):
        params = query_params(request, SensorDeviceFilterSerializer)
        page = self.paginate_queryset(selectors.devices_visible_to(request.user, filters=params))
        return self.get_paginated_response(SensorDeviceSerializer(page, many=True).data)


class IsSensorAdmin(IsGridloopAdmin):
    message = _("Only an administrator may read the sensor reject counts.")


class SensorRejectsView(APIView):
    permission_classes = [IsSensorAdmin]

    @extend_schema(
        tags=["sensors"],
        summary=_("Sensor events turned away, per source and reason (administrators)"),
        parameters=[SensorRejectFilterSerializer],
        responses={200: SensorRejectTotalSerializer(many=True), 400: BAD_INPUT},
    )
    def get(self, request):
        params = query_params(request, SensorRejectFilterSerializer)
        since = (timezone.now() - timedelta(days=params["days"] - 1)).date()
        return Response(SensorRejectTotalSerializer(selectors.reject_totals(since=since), many=True).data)
