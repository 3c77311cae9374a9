"""Celery tasks: thin wrappers around services."""

from celery import shared_task
from celery.signals import worker_ready

from . import services


@shared_task(name="dispatch.heartbeat", ignore_result=True)
def heartbeat() -> None:
    services.heartbeat_record(name="worker")


@worker_ready.connect
def heartbeat_on_start(**_kwargs) -> None:
    """A worker that has just started is alive: /healthz/ says so at once, not after beat's first 30 s interval."""
    services.heartbeat_record(name="worker")


@shared_task(name="dispatch.relay", ignore_result=True)
def relay() -> None:
    """Deliver due outbox messages (beat, every 5 s)."""
    from .outbox import relay_pending

    relay_pending()


@shared_task(name="dispatch.sweep", ignore_result=True)
def sweep() -> None:
    """Advance the SLA clocks: lights, breach escalation, resuming suspended cases (beat, every 5 s)."""
    from .sweep import sweep as clocks_sweep

    clocks_sweep()


# --- Evaluation (issue 6) ------------------------------------------------------------------------------------------------
@shared_task(name="dispatch.rollups", ignore_result=True)
def rollups() -> None:
    """Count new case events into the evaluation rollups (beat, every few seconds)."""
    from .evaluation.rollups import rollups_catch_up

    rollups_catch_up(rounds=20)


@shared_task(name="dispatch.daily_briefings", ignore_result=True)
def daily_briefings() -> None:
    """Yesterday's briefing (一日一研商) for every district (beat, every morning)."""
    from .evaluation.briefing import briefings_for_districts

    briefings_for_districts()


@shared_task(name="dispatch.league_tables", ignore_result=True)
def league_tables() -> None:
    """Last month's league tables, red/yellow lists and black listings (beat, on the 1st)."""
    from datetime import timedelta

    from django.utils import timezone

    from .evaluation.scores import league_tables_compute

    month = timezone.localdate().replace(day=1) - timedelta(days=1)
    league_tables_compute(month=month.replace(day=1))
