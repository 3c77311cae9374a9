"""Anchors of the case event log: tamper evidence against whoever can write the database.

Each case's chain (``events.chain``) is an unkeyed SHA-256 chain, so someone able to write the database can rewrite a
whole chain consistently and ``chain_verify`` would find it intact. An anchor pins the chains down from outside the
database: once a day (beat ``events.anchor_chains``, or ``manage.py anchor_events``) the heads of the chains — case
number, last event's seq and hash — are written, signed with an Ed25519 key kept outside the database, to an
append-only store outside it (the ``anchors`` Django storage: ``var/anchors/`` by default, any object store through
its backend).

One file per (Asia/Shanghai) day, ``YYYY-MM-DD.json``, never overwritten: a day already anchored is left as it is.
The first anchor lists every case's head; each later one the heads of the cases whose chains moved since the previous
anchor (events since its time, less a margin for transactions still open then), so together they pin every head.
Each anchor names the SHA-256 of the previous anchor's file, so a removed or replaced anchor shows too.

``anchors_verify`` checks each anchor's signature (the configured key's public half) and link, then that every
anchored head is still in the database: the event of that case and seq with that hash. An event rewritten after its
day was anchored breaks that day's anchor, and the report names the day.

Key: ``GRIDLOOP_ANCHOR_KEY`` (the private key: PEM, or the base64 of its 32-byte seed) or the file
``GRIDLOOP_ANCHOR_KEY_FILE`` (the same contents); embedded default: a key generated on first use in
``var/anchor_key`` (a deploy check warns in production, where every machine must share one key).
"""

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone

from .chain import canonical
from .models import Case, CaseEvent

VERSION = 1
OPEN_TRANSACTION_MARGIN = timedelta(hours=1)  # events this much older than the previous anchor are taken again
_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})\.json$")
_CHUNK = 1000


# --- The key ----------------------------------------------------------------------------------------------------------
def _key_from_text(text: str, where: str) -> Ed25519PrivateKey:
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{where}: not an Ed25519 private key (PEM, or the base64 of its 32-byte seed): "
                                   f"{exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{where}: the key must be an Ed25519 key")
    return key


def anchor_key() -> Ed25519PrivateKey:
    """The signing key: ``GRIDLOOP_ANCHOR_KEY``, else the file ``GRIDLOOP_ANCHOR_KEY_FILE`` (made on first use when
    it is the embedded default, ``var/anchor_key``)."""
    if settings.GRIDLOOP_ANCHOR_KEY:
        return _key_from_text(settings.GRIDLOOP_ANCHOR_KEY, "GRIDLOOP_ANCHOR_KEY")
    path = Path(settings.GRIDLOOP_ANCHOR_KEY_FILE)
    if not path.exists():
        if not settings.GRIDLOOP_ANCHOR_KEY_GENERATE:
            raise ImproperlyConfigured(f"GRIDLOOP_ANCHOR_KEY_FILE: no file {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        path.write_bytes(pem)
        path.chmod(0o600)
    return _key_from_text(path.read_text(), f"GRIDLOOP_ANCHOR_KEY_FILE ({path})")


ANCHOR_KEY_GENERATED = "gridloop.W003"


def anchor_key_check(app_configs=None, **kwargs):
    """Deploy check: the anchors are signed with a key generated on this machine (var/anchor_key); every machine
    that runs the beat or verifies must share one key, kept apart from the database's administrators."""
    from django.core.checks import Warning

    if not settings.GRIDLOOP_ANCHOR_KEY_GENERATE:
        return []
    return [Warning("The event log's anchors are signed with a key generated on this machine (var/anchor_key).",
                    hint="Set GRIDLOOP_ANCHOR_KEY or GRIDLOOP_ANCHOR_KEY_FILE to an Ed25519 key that every machine "
                         "shares and the database's administrators cannot read.", id=ANCHOR_KEY_GENERATED)]


def _public_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def _store():
    return storages["anchors"]


# --- Writing ----------------------------------------------------------------------------------------------------------
def _anchor_names() -> list[tuple[str, str]]:
    """(day, file name) of every anchor in the store, oldest first."""
    try:
        _dirs, files = _store().listdir("")
    except FileNotFoundError:  # (a file system store before its first anchor)
        return []
    return sorted((match.group(1), name) for name in files if (match := _NAME.match(name)))


def _heads(case_ids=None) -> list[list]:
    """[number, last_seq, last_hash] of the cases with events (all, or those with these ids), by number."""
    cases = Case.objects.filter(last_seq__gt=0)
    if case_ids is not None:
        cases = cases.filter(pk__in=case_ids)
    return [list(row) for row in cases.order_by("number").values_list("number", "last_seq", "last_hash")
            .iterator(chunk_size=5000)]


@dataclass(frozen=True)
class Written:
    day: str
    name: str
    heads: int
    created: bool  # False: the day was anchored already (nothing written)


def anchor_write(*, now: datetime | None = None) -> Written:
    """Write today's anchor (see the module docstring); a day already anchored is left as it is."""
    now = now or timezone.now()
    day = timezone.localdate(now).isoformat()
    name = f"{day}.json"
    store = _store()
    if store.exists(name):
        return Written(day, name, 0, False)
    key = anchor_key()
    previous = _anchor_names()
    previous = [item for item in previous if item[0] < day]
    if previous:
        with store.open(previous[-1][1], "rb") as file:
            raw = file.read()
        prev = {"day": previous[-1][0], "sha256": hashlib.sha256(raw).hexdigest()}
        try:
            since = datetime.fromisoformat(json.loads(raw)["body"]["as_of"]) - OPEN_TRANSACTION_MARGIN
        except (ValueError, KeyError, TypeError):  # a damaged previous anchor (verify_events says so): pin them all
            since = None
    else:
        prev = since = None
    if since is None:
        heads = _heads()
    else:
        heads = _heads(CaseEvent.objects.filter(occurred_at__gte=since).values("case_id").distinct())
    body = {
        "version": VERSION, "day": day, "as_of": now.isoformat(), "previous": prev, "complete": since is None,
        "public_key": _public_text(key.public_key()), "count": len(heads),
        "heads_sha256": hashlib.sha256(canonical(heads).encode()).hexdigest(), "heads": heads,
    }
    signed = canonical(body).encode()
    document = {"body": body, "signature": base64.b64encode(key.sign(signed)).decode()}
    saved = store.save(name, ContentFile(json.dumps(document, ensure_ascii=False).encode()))
    if saved != name:  # another writer anchored the day at the same moment: keep theirs, drop this copy
        store.delete(saved)
        return Written(day, name, 0, False)
    return Written(day, name, len(heads), True)


# --- Verifying --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnchorBreak:
    day: str
    case_number: str  # empty: the anchor itself is bad
    seq: int | None
    problem: str


@dataclass
class AnchorReport:
    days: list[str]
    heads_checked: int
    breaks: list[AnchorBreak]


def _anchor_load(name: str, day: str, public: Ed25519PublicKey, breaks: list) -> tuple[dict | None, bytes]:
    with _store().open(name, "rb") as file:
        raw = file.read()
    try:
        document = json.loads(raw)
        body, signature = document["body"], base64.b64decode(document["signature"])
    except (ValueError, KeyError, TypeError):
        breaks.append(AnchorBreak(day, "", None, "the anchor file is not readable (damaged)"))
        return None, raw
    if body.get("public_key") != _public_text(public):
        breaks.append(AnchorBreak(day, "", None, "the anchor is signed by another key than the configured one"))
        return None, raw
    try:
        public.verify(signature, canonical(body).encode())
    except InvalidSignature:
        breaks.append(AnchorBreak(day, "", None, "the anchor's signature does not match its content (altered)"))
        return None, raw
    if body.get("day") != day:
        breaks.append(AnchorBreak(day, "", None, f"the anchor of {body.get('day')} is stored under another day"))
        return None, raw
    return body, raw


def anchors_verify(*, case_number: str | None = None) -> AnchorReport:
    """Check every anchor (signature, link to the previous one) and every head it pins against the database; with
    ``case_number``, only that case's heads. A case is reported once, at the earliest anchor it breaks."""
    report = AnchorReport(days=[], heads_checked=0, breaks=[])
    names = _anchor_names()
    if not names:
        return report
    public = anchor_key().public_key()
    broken_cases: set[str] = set()
    previous: tuple[str, bytes] | None = None
    for day, name in names:
        report.days.append(day)
        body, raw = _anchor_load(name, day, public, report.breaks)
        if body is not None:
            link = body.get("previous")
            if previous is None and link is not None:
                report.breaks.append(AnchorBreak(day, "", None, f"the anchor of {link.get('day')} it follows is "
                                                 "missing"))
            elif previous is not None and (link is None or link.get("day") != previous[0]
                                           or link.get("sha256") != hashlib.sha256(previous[1]).hexdigest()):
                report.breaks.append(AnchorBreak(day, "", None, f"it does not follow the anchor of {previous[0]} "
                                                 "(an anchor between them was removed or replaced)"))
            heads = [head for head in body["heads"] if case_number is None or head[0] == case_number]
            for start in range(0, len(heads), _CHUNK):
                for head in _heads_check(heads[start:start + _CHUNK], broken_cases):
                    report.breaks.append(AnchorBreak(day, *head))
            report.heads_checked += len(heads)
        previous = (day, raw)
    return report


def _heads_check(heads: list[list], broken_cases: set[str]):
    """(case number, seq, problem) for each anchored head the database no longer holds."""
    numbers = {number for number, _seq, _hash in heads}
    ids = dict(Case.objects.filter(number__in=numbers).values_list("number", "pk"))
    stored = {(number, seq): digest for number, seq, digest in CaseEvent.objects.filter(
        case_id__in=ids.values(), seq__in={seq for _number, seq, _hash in heads},
    ).values_list("case__number", "seq", "hash")}
    for number, seq, digest in heads:
        if number in broken_cases:
            continue
        if number not in ids:
            problem = "the case is missing (deleted after it was anchored)"
        elif (number, seq) not in stored:
            problem = f"event #{seq} is missing (deleted after it was anchored)"
        elif stored[(number, seq)] != digest:
            problem = f"event #{seq} does not match the anchor: the chain was rewritten after it was anchored"
        else:
            continue
        broken_cases.add(number)
        yield number, seq, problem
