"""Reads for the events app."""

from collections.abc import Callable
from copy import copy
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

from django.db.models import ForeignKey, Prefetch, Q, QuerySet
from django.utils import timezone

from config.compiled import CompiledQuery
from grids.models import Region

from .access import cases_visible_q
from .hooks import case_clocks
from .models import OPEN_STATES, Attachment, Case, CaseEvent, Category, InboundReport


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


# --- Cases ---------------------------------------------------------------------------------------------------------------
def _cases_with_refs() -> QuerySet[Case]:
    """Cases with everything a list row shows joined in one query (category, grid/street/district, department)."""
    # Two joins only: a 9-way join made PostgreSQL spend ~15 ms *planning* each detail query. The regions and the
    # merge target come in small prefetch queries (one each per page, not per row).
    regions = Region.objects.only("id", "code", "name", "level")
    return Case.objects.select_related("category", "department").prefetch_related(
        Prefetch("grid", queryset=regions), Prefetch("street", queryset=regions),
        Prefetch("district", queryset=regions),
        Prefetch("merged_into", queryset=Case.objects.only("id", "number")),
    )


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _as_bound(value: date | datetime, *, upper: bool) -> tuple[str, datetime] | None:
    """(lookup, moment) for a created_from/created_to value; a date covers its whole (local) day. None for a bound
    at the calendar's end (9999-12-31, 0001-01-01): nothing lies beyond it, so it limits nothing."""
    try:
        lookup, moment = _bound(value, upper=upper)
        moment.astimezone(UTC)  # as the database will be asked: 0001-01-01 in Shanghai is before year 1 in UTC
        return lookup, moment
    except OverflowError:
        return None


def _bound(value: date | datetime, *, upper: bool) -> tuple[str, datetime]:
    if isinstance(value, datetime):
        moment = timezone.make_aware(value) if timezone.is_naive(value) else value
        return ("lte" if upper else "gte"), moment
    if upper:
        return "lt", _day_start(value + timedelta(days=1))
    return "gte", _day_start(value)


def cases_list(*, user, filters: dict | None = None) -> QuerySet[Case]:
    """Cases the user may see (events.access.cases_visible_q), filtered, newest first.

    Filters (each applies only when given): ``status`` (a list of states), ``open`` (bool), ``level``, ``region``
    (code prefix, ANDed with the scope), ``grid``, ``department`` and ``category`` (codes), ``urgency``, ``channel``,
    ``created_from``/``created_to`` (date or datetime; a date covers its whole day), ``q`` (text in the description,
    number or address).
    """
    filters = filters or {}
    cases = _cases_with_refs().filter(cases_visible_q(user))
    if filters.get("status"):
        cases = cases.filter(state__in=filters["status"])
    if filters.get("open") is not None:
        cases = cases.filter(state__in=OPEN_STATES) if filters["open"] else cases.exclude(state__in=OPEN_STATES)
    for key, lookup in (("level", "level"), ("region", "region_code__startswith"), ("grid", "grid__code"),
                        ("department", "department__code"), ("category", "category__code"),
                        ("urgency", "urgency"), ("channel", "channel")):
        if filters.get(key):
            cases = cases.filter(**{lookup: filters[key]})
    for key, upper in (("created_from", False), ("created_to", True)):
        if filters.get(key) is not None:
            bound = _as_bound(filters[key], upper=upper)
            if bound is not None:
                cases = cases.filter(**{f"created_at__{bound[0]}": bound[1]})
    if filters.get("q"):
        text = filters["q"]
        cases = cases.filter(Q(description__icontains=text) | Q(number__contains=text) | Q(address__icontains=text))
    return cases.order_by("-created_at", "-number")


def cases_reported_by(*, user) -> QuerySet[Case]:
    """Cases the staff user filed themselves, newest first."""
    return _cases_with_refs().filter(reporter_id=user.pk).order_by("-created_at", "-number")


def with_related(case: Case, **rows) -> Case:
    """Put related rows on the case as ``prefetch_related`` would (``case.events.all()`` then reads no more), for a
    case read field by field below or just written by a service."""
    cache = getattr(case, "_prefetched_objects_cache", None) or {}
    for name, objects in rows.items():
        queryset = getattr(case, name).get_queryset()  # what Django's own prefetch_one_level does
        queryset._result_cache, queryset._prefetch_done = list(objects), True
        cache[name] = queryset
    case._prefetched_objects_cache = cache  # type: ignore[attr-defined]  # (Django's own, not in the stubs)
    return case


def case_get(*, number: str, user=None) -> Case | None:
    """One case row with its category, department and reporter; None when it does not exist or, given a user, when
    the user may not see it (the two look the same to the caller)."""
    cases = Case.objects.select_related("category", "department", "reporter")
    if user is not None:
        cases = cases.filter(cases_visible_q(user))
    return cases.filter(number=number).first()


def case_detail_get(*, number: str, user=None) -> Case | None:
    """``case_get`` with its regions, reports, photos, event log and clocks (``case_detail_complete``).

    Seven small queries, assembled by hand: ``prefetch_related`` would do the same reads but its machinery costs
    about 1 ms of CPU per relation, and this read follows every action.
    """
    case = case_get(number=number, user=user)
    return None if case is None else case_detail_complete(case)


def case_detail_complete(case: Case) -> Case:
    """Load what the detail shows besides the case row and its category/department/reporter (which the caller read
    with it): regions, merge target, reports, photos, event log and clocks — those not on the case already (a service
    that just changed the case hands over its regions and clocks)."""
    regions = ("grid", "street", "district")
    if not all(cast(ForeignKey, Case._meta.get_field(name)).is_cached(case) for name in regions):
        ids = cast(set[int], {case.grid_id, case.street_id, case.district_id} - {None})
        found = {r.pk: r for r in Region.objects.only("id", "code", "name", "level").filter(pk__in=ids)}
        case.grid, case.street, case.district = (found.get(getattr(case, f"{name}_id")) for name in regions)
    if case.merged_into_id is not None:
        case.merged_into = Case.objects.only("id", "number").get(pk=case.merged_into_id)
    loaded = getattr(case, "_prefetched_objects_cache", {})
    return with_related(case, **{name: rows(case.pk) for name, rows in _DETAIL_ROWS.items() if name not in loaded})


# The rows of a case detail, by case id: compiled once (config.compiled), as they are read after every action.
_DETAIL_ROWS: dict[str, Callable[[int], list]] = {
    "reports": CompiledQuery(lambda case_id: InboundReport.objects.filter(case_id=case_id).order_by("id"), int),
    "attachments": CompiledQuery(lambda case_id: Attachment.objects.filter(case_id=case_id).order_by("id"), int),
    "events": CompiledQuery(
        lambda case_id: CaseEvent.objects.filter(case_id=case_id).select_related("actor").order_by("seq"), int),
    "clocks": case_clocks,
}


def case_visible(*, number: str, user) -> bool:
    return Case.objects.filter(cases_visible_q(user), number=number).exists()


def case_events(case: Case) -> QuerySet[CaseEvent]:
    return CaseEvent.objects.filter(case=case).select_related("actor").order_by("seq")


# --- The hotline desk: a caller's cases, progress inquiries answered, categories found by name or pinyin -------------
def cases_of_citizen(*, key: str, user, limit: int = 20) -> list[Case]:
    """Cases a citizen (by ``events.actors.citizen_key``) reported or joined with a further report, that the staff
    user may see, newest first (at most ``limit``)."""
    if not key:
        return []
    # The ids first, each through its own index: an OR of the two in one query made PostgreSQL scan every case
    # (0.5 s at 1,000,000 cases, bench/console_bench.py).
    ids = set(Case.objects.filter(citizen_key=key).values_list("pk", flat=True))
    ids.update(InboundReport.objects.filter(citizen_key=key).values_list("case_id", flat=True))
    if not ids:
        return []
    return list(_cases_with_refs().filter(cases_visible_q(user), pk__in=ids).order_by("-created_at", "-number")[:limit])


def inquiries_answered_count(*, user=None, since: datetime | None = None) -> int:
    """How many progress inquiries (``inquiry_answered`` events) were answered — by ``user`` and since ``since``
    when given."""
    events = CaseEvent.objects.filter(kind="inquiry_answered")
    if user is not None:
        events = events.filter(actor_id=user.pk)
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    return events.count()


_category_initials: dict[tuple[int, str, str], str] = {}


def category_initials(category: Category) -> str:
    """The pinyin initials of the category's minor name (私搭乱建 → "sdlj"), lower case; cached per process."""
    cache_key = (category.pk, category.major_name, category.minor_name)
    found = _category_initials.get(cache_key)
    if found is None:
        from pypinyin import Style, lazy_pinyin

        found = "".join(lazy_pinyin(category.minor_name, style=Style.FIRST_LETTER)).lower()
        if len(_category_initials) > 5000:
            _category_initials.clear()
        _category_initials[cache_key] = found
    return found


def categories_search(text: str, *, limit: int = 12) -> list[Category]:
    """Active categories matching ``text``: by code, by a word of the minor or major name, or by the pinyin initials
    of the minor name (prefix first, then containment). Exact and prefix matches come first."""
    text = (text or "").strip().lower()
    if not text:
        return []
    ranked = []
    for category in Category.objects.filter(active=True).order_by("code"):
        initials = category_initials(category)
        names = (category.minor_name.lower(), category.major_name.lower())
        if category.code.lower() == text or names[0] == text or initials == text:
            rank = 0
        elif category.code.lower().startswith(text) or names[0].startswith(text) or initials.startswith(text):
            rank = 1
        elif text in names[0] or text in initials:
            rank = 2
        elif text in names[1]:
            rank = 3
        else:
            continue
        ranked.append((rank, category.code, category))
    return [category for *_, category in sorted(ranked, key=lambda row: row[:2])[:limit]]


def events_as_read_by(events, *, user) -> list[CaseEvent]:
    """The events as ``user`` may read them: case numbers in a ``possible_duplicates`` payload that lie outside the
    reader's scope are left out (as ``/duplicates/`` leaves them out). Rows are copied, never changed in place."""
    events = list(events)
    numbers = {number for event in events for number in (event.payload or {}).get("possible_duplicates", ())}
    if not numbers:
        return events
    visible = set(Case.objects.filter(cases_visible_q(user), number__in=numbers).values_list("number", flat=True))
    shown = []
    for event in events:
        if "possible_duplicates" in (event.payload or {}):
            event = copy(event)
            event.payload = {**event.payload,
                             "possible_duplicates": [n for n in event.payload["possible_duplicates"] if n in visible]}
        shown.append(event)
    return shown
