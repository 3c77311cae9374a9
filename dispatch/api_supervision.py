"""Supervision orders API (催办/督办): list the open ones in your area or department, and reply."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from grids.serializers import ErrorSerializer

from .models import SupervisionOrder
from .supervision import supervision_orders_visible, supervision_reply


class SupervisionOrderSerializer(serializers.ModelSerializer):
    case = serializers.SlugRelatedField(slug_field="number", read_only=True)
    department = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    issued_by = serializers.StringRelatedField()
    light = serializers.SerializerMethodField(help_text=_("green, yellow, red (reply late) or done."))

    class Meta:
        model = SupervisionOrder
        fields = ["id", "case", "kind", "type", "requirement", "department", "issued_by", "issued_at", "reply_due",
                  "light", "reply", "replied_at"]

    def get_light(self, obj) -> str:
        return obj.light(self.context["now"])


class SupervisionFilterSerializer(serializers.Serializer):
    open = serializers.BooleanField(required=False, default=False, help_text=_("true: only orders not replied to."))
    department = serializers.CharField(required=False, help_text=_("Only orders to this department code."))


class SupervisionReplySerializer(serializers.Serializer):
    reply = serializers.CharField(max_length=2000, allow_blank=True)


class SupervisionOrderListView(generics.ListAPIView):  # a list view: the schema documents the page it returns
    serializer_class = SupervisionOrderSerializer
    queryset = SupervisionOrder.objects.none()

    @extend_schema(tags=["supervision"], summary=_("Urge and supervision orders in your area or department"),
                   parameters=[SupervisionFilterSerializer])
    def get(self, request):
        params = SupervisionFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        orders = supervision_orders_visible(request.user, open_only=params.validated_data["open"])
        if params.validated_data.get("department"):
            orders = orders.filter(department__code=params.validated_data["department"])
        page = self.paginate_queryset(orders.order_by("-issued_at", "-id"))
        data = SupervisionOrderSerializer(page, many=True, context={"now": timezone.now()}).data
        return self.get_paginated_response(data)


class SupervisionReplyView(generics.GenericAPIView):
    serializer_class = SupervisionReplySerializer

    @extend_schema(tags=["supervision"], summary=_("Reply to an urge or supervision order (once)"),
                   request=SupervisionReplySerializer,
                   responses={200: SupervisionOrderSerializer, 400: ErrorSerializer, 403: ErrorSerializer,
                              404: OpenApiResponse(ErrorSerializer, description=_("No such order.")),
                              409: OpenApiResponse(ErrorSerializer, description=_("Already answered."))})
    def post(self, request, pk):
        body = SupervisionReplySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        order = supervision_reply(order_id=pk, user=request.user, text=body.validated_data["reply"])
        return Response(SupervisionOrderSerializer(order, context={"now": timezone.now()}).data)
