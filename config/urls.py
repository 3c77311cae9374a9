from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from dispatch.views import healthz
from events.wechat.views import wechat_endpoint

api_v1 = [
    path("", include("grids.urls")),
    path("", include("events.urls")),
    path("", include("events.sensors.urls")),  # /api/v1/sensors/… (events/sensors/)
    path("", include("dispatch.urls")),
]

urlpatterns = [
    path("healthz/", healthz, name="healthz"),
    path("wechat/", wechat_endpoint, name="wechat"),  # the official account's server URL
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include(api_v1)),
    path("open311/v2/", include("events.open311.urls")),  # Open311 GeoReport v2 (events/open311/)
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("web.urls")),  # the pages (web/): sign-in, console, desk, workbench, field app, cockpit
]

if "bench.bare" in settings.INSTALLED_APPS:
    urlpatterns.append(path("bench/bare/", include("bench.bare.urls")))

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler400 = "config.http_errors.bad_request"
handler404 = "config.http_errors.not_found"
handler500 = "config.http_errors.server_error"
