"""Celery tasks of the events app: thin wrappers around its services (beat schedule in settings)."""

from celery import shared_task


@shared_task(name="events.anchor_chains", ignore_result=True)
def anchor_chains() -> None:
    """Write the day's signed anchor of the event log's chain heads (events.anchors; beat, daily)."""
    from .anchors import anchor_write

    anchor_write()
