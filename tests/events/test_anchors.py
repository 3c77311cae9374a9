"""Daily signed anchors of the event chains (events.anchors): written append-only outside the database, and checked
by verify_events, which names the day whose anchor a consistently rewritten chain breaks."""

import base64
import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection

from events import chain
from events.anchors import anchor_key, anchor_write, anchors_verify
from events.integrity import chain_verify
from events.models import Case, CaseEvent
from tests.events.conftest import act, file_hotline, file_patrol

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def day(n, hour=0, minute=10):
    return time_machine.travel(datetime(2026, 12, n, hour, minute, tzinfo=SH), tick=False)


@pytest.fixture(autouse=True)
def anchor_store(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "anchors": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "anchors")}}}
    settings.GRIDLOOP_ANCHOR_KEY = ""
    settings.GRIDLOOP_ANCHOR_KEY_FILE = str(tmp_path / "anchor_key")
    settings.GRIDLOOP_ANCHOR_KEY_GENERATE = True
    return tmp_path / "anchors"


def verify(*args) -> tuple[str, bool]:
    out = io.StringIO()
    try:
        call_command("verify_events", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue() + str(exc), False
    return out.getvalue(), True


def rewrite(case: Case, seq: int, payload: dict) -> None:
    """What an administrator with write access to the database can do: change an event and recompute the chain from
    there on, consistently (on PostgreSQL a trigger refuses UPDATE of events; an administrator can disable it)."""
    if connection.vendor == "postgresql":  # triggers off for the test's transaction, as a superuser may
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
    prev = CaseEvent.objects.get(case=case, seq=seq - 1).hash if seq > 1 else ""
    for event in CaseEvent.objects.filter(case=case, seq__gte=seq).order_by("seq"):
        if event.seq == seq:
            event.payload = payload
        event.prev_hash = prev
        event.hash = prev = chain.row_hash(event, case.number)
        CaseEvent.objects.filter(pk=event.pk).update(payload=event.payload, prev_hash=event.prev_hash, hash=event.hash)
    Case.objects.filter(pk=case.pk).update(last_hash=prev)


def test_a_consistent_rewrite_passes_the_chain_check_but_breaks_the_anchor_of_its_day(world, anchor_store):
    with day(1, 9):
        first, second = file_patrol(world), file_hotline(world)
    with day(2):
        written = anchor_write()
    assert (written.day, written.heads, written.created) == ("2026-12-02", 2, True)
    assert sorted(p.name for p in anchor_store.iterdir()) == ["2026-12-02.json"]
    with day(2, 10):
        act(second, "accept", world.dispatcher, category=world.category)  # appended after: fine
    with day(3):
        anchor_write()
    output, ok = verify()
    assert ok, output
    assert "2 anchor(s) from 2026-12-02 to 2026-12-03" in output and "all 2 case chain(s) intact" in output

    rewrite(Case.objects.get(pk=first.pk), 1, {"channel": "patrol", "photos": [], "region_code": "forged"})
    assert chain_verify(Case.objects.get(pk=first.pk)) is None  # the unkeyed chain alone cannot tell
    output, ok = verify()
    assert not ok
    assert (f"case {first.number}: breaks the anchor of 2026-12-02: event #2 does not match the anchor: the chain was "
            "rewritten after it was anchored") in output
    assert second.number not in output
    assert "1 anchor problem(s)" in output
    output, ok = verify("--case", second.number)
    assert ok, output


def test_each_later_anchor_pins_only_the_chains_that_moved_and_days_are_never_overwritten(world, anchor_store):
    with day(1, 9):
        case, other = file_patrol(world), file_hotline(world)
    with day(2):
        assert anchor_write().heads == 2
    with day(2, 11):
        act(other, "accept", world.dispatcher, category=world.category)
    with day(2, 23):  # the same day again: left as it is
        again = anchor_write()
    assert (again.created, again.heads) == (False, 0)
    first_bytes = (anchor_store / "2026-12-02.json").read_bytes()
    with day(3):
        later = anchor_write()
    assert later.heads == 1
    body = json.loads((anchor_store / "2026-12-03.json").read_text())["body"]
    assert [head[0] for head in body["heads"]] == [other.number]
    assert body["previous"]["day"] == "2026-12-02" and not body["complete"]
    assert (anchor_store / "2026-12-02.json").read_bytes() == first_bytes
    out = io.StringIO()
    with day(3, 1):
        call_command("anchor_events", stdout=out)
    assert "2026-12-03 is already anchored" in out.getvalue()
    assert anchors_verify(case_number=case.number).heads_checked == 1  # pinned by the first anchor only


def test_an_altered_or_removed_anchor_is_reported(world, anchor_store):
    with day(1, 9):
        case = file_hotline(world)
    for n in (2, 3, 4):
        if n == 3:  # the chain moves between the first and the second anchor
            with day(2, 12):
                act(case, "request_field_check", world.dispatcher)
        with day(n):
            anchor_write()
    path = anchor_store / "2026-12-03.json"
    document = json.loads(path.read_text())
    assert document["body"]["heads"] == [[case.number, 2, case.events.get(seq=2).hash]]
    document["body"]["heads"] = []  # hide the case's head from the anchor
    path.write_text(json.dumps(document))
    output, ok = verify()
    assert not ok and "anchor of 2026-12-03: the anchor's signature does not match its content (altered)" in output
    path.unlink()
    output, ok = verify()
    assert not ok
    assert "anchor of 2026-12-04: it does not follow the anchor of 2026-12-02" in output


def test_an_anchor_signed_with_another_key_is_not_trusted(world, anchor_store, settings):
    with day(1, 9):
        file_patrol(world)
    with day(2):
        anchor_write()
    settings.GRIDLOOP_ANCHOR_KEY = base64.b64encode(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())).decode()
    output, ok = verify()
    assert not ok and "signed by another key than the configured one" in output


def test_the_key_comes_from_the_environment_or_a_file_and_a_bad_one_is_named(settings, tmp_path):
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    settings.GRIDLOOP_ANCHOR_KEY = base64.b64encode(seed).decode()
    assert anchor_key().public_key() == key.public_key()
    settings.GRIDLOOP_ANCHOR_KEY = ""
    pem = tmp_path / "k.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    settings.GRIDLOOP_ANCHOR_KEY_FILE, settings.GRIDLOOP_ANCHOR_KEY_GENERATE = str(pem), False
    assert anchor_key().public_key() == key.public_key()
    settings.GRIDLOOP_ANCHOR_KEY = "not a key"
    with pytest.raises(ImproperlyConfigured, match="GRIDLOOP_ANCHOR_KEY: not an Ed25519 private key"):
        anchor_key()
    settings.GRIDLOOP_ANCHOR_KEY, settings.GRIDLOOP_ANCHOR_KEY_FILE = "", str(tmp_path / "missing")
    with pytest.raises(ImproperlyConfigured, match="no file"):
        anchor_key()


def test_the_generated_default_key_is_made_once_and_kept_private(settings, anchor_store):
    first = anchor_key()
    assert anchor_key().public_key() == first.public_key()
    from pathlib import Path

    assert Path(settings.GRIDLOOP_ANCHOR_KEY_FILE).stat().st_mode & 0o777 == 0o600


def test_the_beat_writes_the_days_anchor(world, settings, anchor_store):
    from events import tasks

    assert settings.CELERY_BEAT_SCHEDULE["event-anchors"]["task"] == "events.anchor_chains"
    with day(1, 9):
        file_patrol(world)
    with day(2):
        tasks.anchor_chains()
    assert anchors_verify().days == ["2026-12-02"] and anchors_verify().heads_checked == 1


def test_without_anchors_verify_says_so_and_still_checks_the_chains(world):
    file_patrol(world)
    output, ok = verify()
    assert ok and "no anchors yet" in output and "all 1 case chain(s) intact" in output


def test_after_a_damaged_anchor_the_next_one_pins_every_chain_again(world, anchor_store):
    with day(1, 9):
        file_patrol(world), file_hotline(world)
    with day(2):
        anchor_write()
    (anchor_store / "2026-12-02.json").write_text("{not json")
    with day(3):
        written = anchor_write()
    assert written.heads == 2
    assert json.loads((anchor_store / "2026-12-03.json").read_text())["body"]["complete"] is True
    output, ok = verify()
    assert not ok and "anchor of 2026-12-02: the anchor file is not readable (damaged)" in output
