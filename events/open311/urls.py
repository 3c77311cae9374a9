"""/open311/v2/…: every resource ends in .xml or .json (the format); anything else is the spec's 404."""

from django.urls import re_path

from . import views

app_name = "open311"
FORMAT = r"\.(?P<fmt>[A-Za-z0-9]{1,10})$"

urlpatterns = [
    re_path(r"^discovery" + FORMAT, views.discovery, name="discovery"),
    re_path(r"^services" + FORMAT, views.services, name="services"),
    re_path(r"^services/(?P<service_code>[^/]+?)" + FORMAT, views.service_definition, name="service"),
    re_path(r"^requests" + FORMAT, views.requests, name="requests"),
    re_path(r"^requests/(?P<service_request_id>[^/]+?)" + FORMAT, views.request_detail, name="request"),
    re_path(r"^tokens/(?P<token>[^/]+?)" + FORMAT, views.request_from_token, name="token"),
    re_path(r"^servicerequestupdates" + FORMAT, views.service_request_updates, name="updates"),
    re_path(r"^(?P<path>.*)$", views.not_found),
]
