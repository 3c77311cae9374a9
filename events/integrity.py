"""Verification of the case event log's hash chains (read-only)."""

from dataclasses import dataclass

from . import chain
from .models import Case, CaseEvent


@dataclass(frozen=True)
class ChainBreak:
    case_number: str
    seq: int | None
    event_id: int | None
    problem: str


def chain_verify(case: Case) -> ChainBreak | None:
    """The first bad row of one case's chain, or None when the chain is intact."""
    prev_hash, expected_seq = "", 1
    last = None
    for event in CaseEvent.objects.filter(case=case).order_by("seq").iterator(chunk_size=500):
        if event.seq != expected_seq:
            return ChainBreak(case.number, event.seq, event.pk, f"expected event #{expected_seq}, found #{event.seq}")
        if event.prev_hash != prev_hash:
            return ChainBreak(case.number, event.seq, event.pk, "prev_hash does not match the previous event's hash")
        if chain.row_hash(event, case.number) != event.hash:
            return ChainBreak(case.number, event.seq, event.pk, "content does not match its hash (row was altered)")
        prev_hash, expected_seq, last = event.hash, expected_seq + 1, event
    if (last.hash if last else "") != case.last_hash or (last.seq if last else 0) != case.last_seq:
        return ChainBreak(case.number, case.last_seq, None,
                          f"the case expects {case.last_seq} event(s) ending in {case.last_hash[:12] or '—'}; "
                          "events are missing")
    return None


def chains_verify(cases=None):
    """Yield a ChainBreak for every case whose chain is broken."""
    cases = Case.objects.all() if cases is None else cases
    for case in cases.only("id", "number", "last_seq", "last_hash").iterator(chunk_size=500):
        problem = chain_verify(case)
        if problem is not None:
            yield problem
