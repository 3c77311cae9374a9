"""The Celery app. Tasks live in each app's ``tasks.py`` as thin wrappers around services."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("gridloop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
