from django.urls import path
from rest_framework import generics, serializers

from .models import BareReport


class BareReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = BareReport
        fields = ["id", "description", "lat", "lng", "citizen_name", "citizen_phone", "created_at"]


class BareCreate(generics.CreateAPIView):
    serializer_class = BareReportSerializer
    queryset = BareReport.objects.all()


urlpatterns = [path("reports/", BareCreate.as_view())]
