"""Reads for the events app."""

from django.db.models import QuerySet

from .models import Category


def categories_list(*, active: bool | None = None, kind: str | None = None, major_code: str | None = None
                    ) -> QuerySet[Category]:
    """Categories by code; each filter applies only when given. Categories are city-wide: no area scope."""
    categories = Category.objects.all()
    if active is not None:
        categories = categories.filter(active=active)
    if kind:
        categories = categories.filter(kind=kind)
    if major_code:
        categories = categories.filter(major_code=major_code)
    return categories


def category_get(code: str) -> Category | None:
    return Category.objects.filter(code=code).first()
