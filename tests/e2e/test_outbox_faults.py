"""The outbox under faults: parallel relays, a broker that is down while cases change, and a real worker process
killed (SIGKILL) in the middle of a relay batch. Every message ends delivered exactly once at its destination."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from unittest import mock

import pytest
from django.db import connection, transaction
from kombu.exceptions import OperationalError

from dispatch.models import InboxItem, OutboxChannel, OutboxMessage, OutboxState
from dispatch.outbox import Recipient, outbox_enqueue, relay_batch
from dispatch.tasks import relay
from tests.dispatch.fake_http import FakeReceiver
from tests.e2e.test_worker_process import _env, _manage
from tests.events.conftest import act, file_hotline, world  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]


def sms_rows(n: int) -> list[OutboxMessage]:
    with transaction.atomic():
        return [outbox_enqueue(kind="reject", case=None, event_seq=None, title=f"消息{i}",
                               recipients=[Recipient(OutboxChannel.SMS, address=f"1390000{i:04d}")])[0]
                for i in range(n)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_relays_never_deliver_the_same_row_twice(settings):
    with FakeReceiver() as fake:
        settings.GRIDLOOP_SMS_API_BASE = fake.base_url
        rows = sms_rows(60)
        start = threading.Barrier(4)
        errors = []

        def relay_until_empty():
            try:
                start.wait()
                while relay_batch(limit=5).claimed:
                    pass
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=relay_until_empty) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert errors == []
    assert fake.duplicates == 0 and len(fake.requests) == 60
    assert set(fake.delivered) == {str(r.pk) for r in rows}
    assert OutboxMessage.objects.filter(state=OutboxState.DELIVERED).count() == 60


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_relay_skips_rows_another_relay_is_claiming(settings):
    """While one relay's claim transaction holds rows locked, a second relay takes the others at once."""
    settings.GRIDLOOP_SMS_API_BASE = ""  # deliveries park: only the claims matter here
    rows = sms_rows(4)
    locked = threading.Event()
    done = threading.Event()

    def hold_two():
        try:
            with transaction.atomic():
                list(OutboxMessage.objects.select_for_update().filter(pk__in=[rows[0].pk, rows[1].pk]))
                locked.set()
                done.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_two)
    holder.start()
    try:
        assert locked.wait(10)
        result = relay_batch()
    finally:
        done.set()
        holder.join(30)
    assert result.claimed == 2
    assert set(OutboxMessage.objects.filter(state=OutboxState.PENDING).values_list("pk", flat=True)) == {
        rows[0].pk, rows[1].pk}


@pytest.mark.django_db
def test_with_the_broker_down_cases_still_change_and_the_outbox_drains_when_it_returns(world):  # noqa: F811
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to the broker. Connection refused.")

    with mock.patch("celery.app.base.Celery.send_task", side_effect=broker_down):
        case = act(file_hotline(world), "accept", world.dispatcher, category=world.category)
        case = act(case, "dispatch", world.dispatcher, department="s1-huanwei")  # case_act writes the messages
        case = act(case, "urge", world.supervisor, note="尽快处理")
        with pytest.raises(OperationalError):
            relay.delay()  # the relay cannot even be queued
    assert OutboxMessage.objects.filter(state=OutboxState.PENDING).count() == 2  # nothing lost
    relay.apply()  # the broker is back: the next beat tick runs the relay
    assert OutboxMessage.objects.filter(state=OutboxState.DELIVERED).count() == 2
    assert InboxItem.objects.filter(user=world.handler).count() == 2


# --- A real worker, killed mid-batch -----------------------------------------------------------------------------------
ROWS = 10
STALL_AT = 4  # the fake gateway records the 4th message, then never answers before the kill
LEASE = 8


def _shell(env, code: str) -> str:
    return _manage(env, "shell", "--no-imports", "-c", code).stdout.strip()


def _start_worker(env, log):
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--without-mingle",
         "--without-gossip", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )


def _stop(worker):
    if worker.poll() is None:
        worker.terminate()
        worker.wait(timeout=30)


def test_a_worker_killed_mid_batch_and_restarted_delivers_every_message_exactly_once(tmp_path):
    with FakeReceiver(stall_from=STALL_AT) as fake:
        env = _env(tmp_path, GRIDLOOP_SMS_API_BASE=fake.base_url, GRIDLOOP_OUTBOX_LEASE_SECONDS=str(LEASE),
                   GRIDLOOP_OUTBOX_HTTP_TIMEOUT_SECONDS="3")
        _manage(env, "migrate", "--no-input", "-v", "0")
        ids = _shell(env, (
            "from django.db import transaction\n"
            "from dispatch.outbox import Recipient, outbox_enqueue\n"
            "with transaction.atomic():\n"
            f"    rows = [outbox_enqueue(kind='reject', case=None, event_seq=None, title=f'消息{{i}}',\n"
            f"            recipients=[Recipient('sms', address=f'1370000{{i:04d}}')])[0] for i in range({ROWS})]\n"
            "print(','.join(str(r.pk) for r in rows))"
        )).split(",")
        log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed in finally
        worker = _start_worker(env, log)
        try:
            _shell(env, "from dispatch.tasks import relay; relay.delay()")
            deadline = time.monotonic() + 60
            while len(fake.requests) < STALL_AT and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(fake.requests) == STALL_AT, (tmp_path / "worker.log").read_text()
            os.kill(worker.pid, signal.SIGKILL)  # mid-batch: the 4th message is received, its delivery unrecorded
            worker.wait(timeout=30)
            fake.stall_from = 0
            fake.release.set()
            states = _shell(env, "from dispatch.models import OutboxMessage as M; "
                            "print(M.objects.filter(state='delivered').count())")
            assert int(states) == STALL_AT - 1

            worker = _start_worker(env, log)
            deadline = time.monotonic() + 90
            delivered = 0
            while delivered < ROWS and time.monotonic() < deadline:
                delivered = int(_shell(env, "from dispatch.tasks import relay; relay.delay(); "
                                       "from dispatch.models import OutboxMessage as M; "
                                       "print(M.objects.filter(state='delivered').count())").splitlines()[-1])
                time.sleep(1)
            assert delivered == ROWS, (tmp_path / "worker.log").read_text()
        finally:
            _stop(worker)
            log.close()
    assert set(fake.delivered) == set(ids)  # every message reached the gateway, each counted once …
    assert fake.duplicates == 1  # … though the one in flight at the kill was sent twice (dropped by its id)
    assert len(fake.requests) == ROWS + 1
