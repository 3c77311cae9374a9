"""Writes of the pages themselves (cases change only through events.services): saved console filters."""
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import InvalidInput, NotFound

from .models import SavedFilter

MAX_SAVED_FILTERS = 50


def saved_filter_save(*, user, name: str, query: str) -> SavedFilter:
    """Save ``query`` (the console's query string) under ``name`` for the user; the same name again replaces it."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("Give the filter a name."), field="name")
    if len(name) > 60:
        raise InvalidInput(_("A filter name has at most 60 characters."), field="name")
    query = (query or "").lstrip("?")
    if len(query) > 2000:
        raise InvalidInput(_("This filter is too long to save (at most 2,000 characters)."), field="query")
    with transaction.atomic():
        existing = SavedFilter.objects.select_for_update().filter(user=user, name=name).first()
        if existing is not None:
            existing.query = query
            existing.save(update_fields=["query"])
            return existing
        if SavedFilter.objects.filter(user=user).count() >= MAX_SAVED_FILTERS:
            raise InvalidInput(_("You have %(n)s saved filters already: delete one first.")
                               % {"n": MAX_SAVED_FILTERS}, field="name")
        return SavedFilter.objects.create(user=user, name=name, query=query, created_at=timezone.now())


def saved_filter_delete(*, user, pk: int) -> None:
    deleted, _rows = SavedFilter.objects.filter(user=user, pk=pk).delete()
    if not deleted:
        raise NotFound(_("There is no saved filter of yours with this id."))
