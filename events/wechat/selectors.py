"""Reads for the WeChat channel: a citizen sees the cases they reported (by their identity hash) and nothing else."""

from django.db.models import Q

from grids.models import Level, Region

from ..models import Case, CaseEvent, CaseState


def _mine_q(key: str) -> Q:
    # The case they opened, or one their report was merged into the log of (their own report stays on its case).
    return Q(citizen_key=key) | Q(reports__citizen_key=key)


def citizen_cases(*, key: str, limit: int = 10) -> list[Case]:
    """The citizen's cases, newest first."""
    if not key:
        return []
    ids = Case.objects.filter(_mine_q(key)).values("pk")
    return list(Case.objects.filter(pk__in=ids).select_related("department", "merged_into")
                .order_by("-created_at", "-number")[:limit])


def citizen_case(*, key: str, number: str) -> Case | None:
    """The case with this number if the citizen reported it, else None (other people's cases do not exist here)."""
    if not key or not number:
        return None
    return (Case.objects.filter(_mine_q(key), number=number).select_related("department", "merged_into")
            .distinct().first())


def citizen_cases_awaiting_rating(*, key: str) -> list[Case]:
    """The citizen's cases checked on site and waiting for their rating, most recently checked first."""
    if not key:
        return []
    return list(Case.objects.filter(citizen_key=key, state=CaseState.VERIFIED).order_by("-verified_at", "-number"))


def last_event_reason(case: Case, kind: str) -> str:
    event = CaseEvent.objects.filter(case=case, kind=kind).order_by("-seq").only("payload").first()
    return str((event.payload or {}).get("reason") or "") if event is not None else ""


def region_named_in(text: str, *, within: str = "") -> Region | None:
    """The street or community whose name appears in ``text`` (the longest name; a community before a street of the
    same length), inside the region with code prefix ``within``; None when no name matches."""
    regions = Region.objects.filter(level__in=[Level.STREET, Level.COMMUNITY]).only("code", "name", "level")
    if within:
        regions = regions.filter(code__startswith=within)
    best = None
    for region in regions.iterator(chunk_size=2000):
        name = (region.name or "").strip()
        if len(name) >= 2 and name in text:
            rank = (len(name), region.level == Level.COMMUNITY)
            if best is None or rank > best[0]:
                best = (rank, region)
    return best[1] if best else None
