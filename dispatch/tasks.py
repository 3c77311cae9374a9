"""Celery tasks: thin wrappers around services."""

from celery import shared_task

from . import services


@shared_task(name="dispatch.heartbeat", ignore_result=True)
def heartbeat() -> None:
    services.heartbeat_record(name="worker")


@shared_task(name="dispatch.relay", ignore_result=True)
def relay() -> None:
    """Deliver due outbox messages (beat, every 5 s)."""
    from .outbox import relay_pending

    relay_pending()


@shared_task(name="dispatch.sweep", ignore_result=True)
def sweep() -> None:
    """Advance the SLA clocks: lights, breach escalation, resuming suspended cases (beat, every 5 s)."""
    from .clocks import sweep as clocks_sweep

    clocks_sweep()
