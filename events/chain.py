"""The per-case hash chain of the case event log.

``hash = SHA-256(canonical JSON of the row's content + prev_hash)``. Canonical JSON: keys sorted, no spaces, UTF-8,
timestamps in UTC ISO-8601 with microseconds. The chain is race-free because events are only appended while the
case row is locked (events.services).
"""

import hashlib
import json
from datetime import UTC, datetime


def canonical(row: dict) -> str:
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_content(*, case_number: str, seq: int, kind: str, actor_id: int | None, actor_kind: str, actor_ref: str,
                  actor_role: str, from_state: str, to_state: str, level: str, payload: dict,
                  occurred_at: datetime) -> dict:
    return {
        "case": case_number, "seq": seq, "kind": kind, "actor_id": actor_id, "actor_kind": actor_kind,
        "actor_ref": actor_ref, "actor_role": actor_role, "from_state": from_state, "to_state": to_state,
        "level": level, "payload": payload,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
    }


def chain_hash(content: dict, prev_hash: str) -> str:
    return hashlib.sha256((canonical(content) + prev_hash).encode("utf-8")).hexdigest()


def row_hash(event, case_number: str) -> str:
    """Recompute the hash of a stored CaseEvent row."""
    content = event_content(
        case_number=case_number, seq=event.seq, kind=event.kind, actor_id=event.actor_id,
        actor_kind=event.actor_kind, actor_ref=event.actor_ref, actor_role=event.actor_role,
        from_state=event.from_state, to_state=event.to_state, level=event.level, payload=event.payload,
        occurred_at=event.occurred_at,
    )
    return chain_hash(content, event.prev_hash)
