from django.urls import path

from . import api

urlpatterns = [
    path("indicators/", api.IndicatorsView.as_view(), name="metrics-indicators"),
    path("rankings/", api.RankingsView.as_view(), name="metrics-rankings"),
    path("cases/", api.FigureCasesView.as_view(), name="metrics-cases"),
    path("case-export/", api.CaseExportView.as_view(), name="metrics-case-export"),
    path("briefings/", api.BriefingView.as_view(), name="metrics-briefing"),
    path("blacklist/", api.BlackListView.as_view(), name="metrics-blacklist"),
    path("blacklist/<int:pk>/rectify/", api.BlackListRectifyView.as_view(), name="metrics-blacklist-rectify"),
]
