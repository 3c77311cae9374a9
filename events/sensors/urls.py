from django.urls import path

from . import api

urlpatterns = [
    path("sensors/events", api.SensorEventsView.as_view(), name="sensor-events"),
    path("sensors/devices/", api.SensorDeviceListView.as_view(), name="sensor-devices"),
    path("sensors/rejects/", api.SensorRejectsView.as_view(), name="sensor-rejects"),
]
