"""Celery tasks of the WeChat channel: thin wrappers around its services (registered by events.apps)."""

from celery import shared_task


@shared_task(name="events.wechat_fetch_photo", ignore_result=True)
def wechat_fetch_photo(photo_id: int) -> None:
    """Download a photo a citizen sent (by MediaId) and attach it to the case."""
    from .services import wechat_photo_fetch

    wechat_photo_fetch(photo_id=photo_id)


@shared_task(name="events.wechat_sweep", ignore_result=True)
def wechat_sweep() -> None:
    """File expired drafts and retry photos still to fetch (beat, every minute)."""
    from .services import wechat_sweep as sweep

    sweep()
