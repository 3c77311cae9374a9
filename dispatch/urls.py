from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import api, api_supervision

router = SimpleRouter()
router.register("routing-rules", api.RoutingRuleViewSet, basename="routing-rule")
router.register("calendar-overrides", api.CalendarOverrideViewSet, basename="calendar-override")
router.register("sla-policies", api.SlaPolicyViewSet, basename="sla-policy")

urlpatterns = [
    path("inbox/", api.InboxView.as_view(), name="inbox"),
    path("inbox/<int:pk>/read/", api.InboxReadView.as_view(), name="inbox-read"),
    path("queues/<str:level>/", api.QueueView.as_view(), name="queue"),
    path("supervision-orders/", api_supervision.SupervisionOrderListView.as_view(), name="supervision-orders"),
    path("supervision-orders/<int:pk>/reply/", api_supervision.SupervisionReplyView.as_view(),
         name="supervision-reply"),
    path("metrics/", include("dispatch.evaluation.urls")),  # evaluation (issue 6)
    *router.urls,
]
