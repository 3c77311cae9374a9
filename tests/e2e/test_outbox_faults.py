"""The outbox under faults: parallel relays, a broker that is down while cases change, and a real worker process
killed (SIGKILL) in the middle of a relay batch. Every message ends delivered exactly once at its destination.

On the embedded default (SQLite, filesystem broker) and again, marked ``postgres``, on PostgreSQL with Redis and a
real worker sharing the test database: there the broker is a redis-server of the test's own on a spare port, shut
down and started again, so the broker really is unreachable; the Redis of CELERY_BROKER_URL carries the worker-kill
test."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection, transaction
from kombu.exceptions import OperationalError

from dispatch.models import Heartbeat, InboxItem, OutboxChannel, OutboxMessage, OutboxState
from dispatch.outbox import Recipient, outbox_enqueue, relay_batch
from dispatch.tasks import heartbeat, relay
from tests.dispatch.fake_http import FakeReceiver
from tests.e2e.test_worker_process import _env, _manage
from tests.events.conftest import act, file_hotline, world  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow  # real worker processes, waited for

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _publish(task, broker_url: str) -> None:
    """Queue ``task`` on the broker at ``broker_url`` as the beat would (kombu's OperationalError when unreachable)."""
    from config.celery import app

    with app.connection_for_write(broker_url) as conn:
        task.apply_async(connection=conn)


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
    unreachable = f"redis://127.0.0.1:{_closed_port()}/0"  # nothing listens there: every connection is refused
    case = act(file_hotline(world), "accept", world.dispatcher, category=world.category)
    case = act(case, "dispatch", world.dispatcher, department="s1-huanwei")  # case_act writes the messages
    case = act(case, "urge", world.supervisor, note="尽快处理")
    with pytest.raises(OperationalError):
        _publish(relay, unreachable)  # the beat cannot even queue the relay
    assert OutboxMessage.objects.filter(state=OutboxState.PENDING).count() == 2  # nothing lost
    relay.apply()  # the broker is back: the next beat tick runs the relay (a worker does; see the PostgreSQL test)
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


# --- The same on PostgreSQL + Redis, with a real worker on the test database --------------------------------------------
def _redis_broker() -> str:
    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        pytest.fail("the PostgreSQL pass runs with Redis: set CELERY_BROKER_URL=redis://127.0.0.1:6379/N (README)")
    return url


def _test_database_url() -> str:
    """The test database this process uses, for a worker process to share (rows committed here are its input)."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _purge(broker_url: str) -> int:
    """Drop tasks left in the queue by earlier tests, so the worker runs only this test's."""
    from config.celery import app

    with app.connection_for_write(broker_url) as conn:
        return app.control.purge(connection=conn)


def _wait_for(check, seconds: float, what: str, log_path: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"{what} did not happen within {seconds} s; worker log:\n{log_path.read_text()}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_redis_and_postgresql_a_worker_killed_mid_batch_delivers_every_message_exactly_once(tmp_path):
    broker = _redis_broker()
    log_path = tmp_path / "worker.log"
    with FakeReceiver(stall_from=STALL_AT) as fake:
        env = _env(tmp_path, CELERY_BROKER_URL=broker, DATABASE_URL=_test_database_url(),
                   GRIDLOOP_SMS_API_BASE=fake.base_url, GRIDLOOP_OUTBOX_LEASE_SECONDS=str(LEASE),
                   GRIDLOOP_OUTBOX_HTTP_TIMEOUT_SECONDS="3")
        ids = {str(row.pk) for row in sms_rows(ROWS)}
        _purge(broker)
        log = open(log_path, "w")  # noqa: SIM115 - closed in finally
        worker = _start_worker(env, log)
        try:
            _publish(relay, broker)
            _wait_for(lambda: len(fake.requests) >= STALL_AT, 60, "the relay reaching the stalled message",
                      log_path)
            assert len(fake.requests) == STALL_AT
            os.kill(worker.pid, signal.SIGKILL)  # mid-batch: the 4th message is received, its delivery unrecorded
            worker.wait(timeout=30)
            fake.stall_from = 0
            fake.release.set()
            delivered = OutboxMessage.objects.filter(state=OutboxState.DELIVERED)
            assert delivered.count() == STALL_AT - 1

            worker = _start_worker(env, log)  # the beat keeps queueing the relay; the rows' lease runs out

            def all_delivered():
                _publish(relay, broker)
                time.sleep(0.8)
                return delivered.count() == ROWS

            _wait_for(all_delivered, 90, "delivering every message", log_path)
        finally:
            _stop(worker)
            log.close()
    assert set(fake.delivered) == ids  # every message reached the gateway, each counted once …
    assert fake.duplicates == 1  # … though the one in flight at the kill was sent twice (dropped by its id)
    assert len(fake.requests) == ROWS + 1
    assert OutboxMessage.objects.filter(state=OutboxState.DELIVERED, attempts=0).count() == ROWS


def _redis_server(port: int, tmp_path: Path) -> None:
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed (the PostgreSQL pass needs it, as CI has it)")
    subprocess.run([server, "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes", "--save", "",
                    "--appendonly", "no", "--dir", str(tmp_path), "--logfile", str(tmp_path / f"redis-{port}.log")],
                   check=True, timeout=30)


def _redis_cli(port: int, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run([shutil.which("redis-cli") or "redis-cli", "-p", str(port), *command],
                          capture_output=True, text=True, timeout=30)


def _redis_up(port: int) -> bool:
    return _redis_cli(port, "ping").stdout.strip() == "PONG"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_redis_and_postgresql_the_broker_goes_down_cases_change_and_the_outbox_drains_when_it_returns(
        world, tmp_path):  # noqa: F811
    port = _closed_port()
    broker = f"redis://127.0.0.1:{port}/0"  # a Redis of this test's own: stopping it stops nobody else's
    log_path = tmp_path / "worker.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed in finally
    worker = None
    _redis_server(port, tmp_path)
    try:
        _wait_for(lambda: _redis_up(port), 30, "redis-server starting", log_path)
        env = _env(tmp_path, CELERY_BROKER_URL=broker, DATABASE_URL=_test_database_url())
        worker = _start_worker(env, log)
        _publish(heartbeat, broker)  # the worker takes tasks from this broker
        _wait_for(lambda: Heartbeat.objects.filter(name="worker").exists(), 60, "the worker's first task", log_path)

        assert _redis_cli(port, "shutdown", "nosave").returncode in (0, 1)  # the broker goes away
        _wait_for(lambda: not _redis_up(port), 30, "redis-server stopping", log_path)
        case = act(file_hotline(world), "accept", world.dispatcher, category=world.category)
        case = act(case, "dispatch", world.dispatcher, department="s1-huanwei")  # case_act writes the messages
        case = act(case, "urge", world.supervisor, note="尽快处理")
        with pytest.raises(OperationalError):
            _publish(relay, broker)  # the beat cannot even queue the relay
        time.sleep(2)  # the worker, cut off, delivers nothing
        assert OutboxMessage.objects.filter(state=OutboxState.PENDING).count() == 2  # nothing lost
        assert not InboxItem.objects.exists()

        _redis_server(port, tmp_path)  # the broker returns (empty: what it held is gone)
        _wait_for(lambda: _redis_up(port), 30, "redis-server starting again", log_path)

        def drained():
            with contextlib.suppress(OperationalError):
                _publish(relay, broker)  # the next beat ticks; the worker reconnects on its own
            time.sleep(1)
            return not OutboxMessage.objects.exclude(state=OutboxState.DELIVERED).exists()

        _wait_for(drained, 120, "the outbox draining after the broker came back", log_path)
        assert InboxItem.objects.filter(user=world.handler).count() == 2
        assert sorted(InboxItem.objects.values_list("title", flat=True)) == sorted(
            OutboxMessage.objects.values_list("title", flat=True))
    finally:
        if worker is not None:
            _stop(worker)
        log.close()
        _redis_cli(port, "shutdown", "nosave")
