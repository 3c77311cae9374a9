from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = _("Cases and events")

    def ready(self):
        from config import http_errors

        from .open311.renderers import http_error
        from .sensors import tasks as sensor_tasks  # noqa: F401  (registers the sensor channel's Celery tasks)
        from .wechat import tasks  # noqa: F401  (registers the WeChat channel's Celery tasks)

        http_errors.register("/open311/", http_error)  # Open311's own error document for what no view answers
