from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("categories", api.CategoryViewSet, basename="category")
router.register("cases", api.CaseViewSet, basename="case")

urlpatterns = [
    path("cases/<str:number>/actions/<str:action>/", api.CaseActionView.as_view(), name="case-action"),
    path("my/cases/", api.MyCasesView.as_view(), name="my-cases"),
    *router.urls,
]
