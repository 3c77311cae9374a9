"""Celery tasks: thin wrappers around services."""

from celery import shared_task

from . import services


@shared_task(name="dispatch.heartbeat", ignore_result=True)
def heartbeat() -> None:
    services.heartbeat_record(name="worker")
