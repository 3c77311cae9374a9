from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = _("Cases and events")

    def ready(self):
        from django.core.checks import Tags, register

        from config import http_errors

        from . import tasks as event_tasks  # noqa: F401  (registers the anchor task)
        from .anchors import anchor_key_check
        from .open311.renderers import http_error
        from .sensors import tasks as sensor_tasks  # noqa: F401  (registers the sensor channel's Celery tasks)
        from .wechat import tasks  # noqa: F401  (registers the WeChat channel's Celery tasks)

        register(anchor_key_check, Tags.security, deploy=True)
        http_errors.register("/open311/", http_error)  # Open311's own error document for what no view answers
