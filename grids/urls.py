from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("regions", api.RegionViewSet, basename="region")
router.register("departments", api.DepartmentViewSet, basename="department")
router.register("auth/tokens", api.ApiTokenViewSet, basename="api-token")

urlpatterns = [
    path("auth/token/", api.TokenObtainView.as_view(), name="auth-token"),  # POST: sign in; DELETE: log out
    path("auth/logout/", api.LogoutView.as_view(), name="auth-logout"),
    path("grids/locate/", api.LocateView.as_view(), name="grid-locate"),
    path("me/", api.MeView.as_view(), name="me"),
    *router.urls,
]
