"""Writes of the evaluation: marking a black-listed unit's rectification (整改) done."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from config.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from dispatch.models.evaluation import BlackListing

from .scores import visible_keys
from .selectors import metrics_scope

MAX_NOTE = 2000


def blacklisting_rectify(*, listing_id: int, user, note: str, now=None) -> BlackListing:
    """Mark the rectification of a black listing done, with a note saying what was done. Only a supervisor who sees
    the unit (or an administrator) may; once done it stays done (a second mark is a conflict)."""
    note = (note or "").strip()
    now = now or timezone.now()
    scope = metrics_scope(user)
    if scope.by_department:
        raise PermissionDenied("a rectification is marked done by the supervisors of the unit's region")
    with transaction.atomic():
        listing = BlackListing.objects.select_for_update().filter(pk=listing_id).first()
        if listing is None:
            raise NotFound(f"no black listing {listing_id}")
        visible = visible_keys(listing.object, scope)
        if visible is not None and listing.key not in visible:
            raise PermissionDenied(f"{listing.name} is outside the area you supervise")
        if listing.rectified_at is not None:
            raise Conflict(f"the rectification of {listing.name} was already marked done at "
                           f"{timezone.localtime(listing.rectified_at):%Y-%m-%d %H:%M}")
        if not note:
            raise InvalidInput("write what was rectified", field="note")
        if len(note) > MAX_NOTE:
            raise InvalidInput(f"the note may be at most {MAX_NOTE} characters", field="note")
        listing.rectified_at, listing.rectified_by, listing.rectification_note = now, user, note
        listing.save(update_fields=["rectified_at", "rectified_by", "rectification_note"])
    return listing
