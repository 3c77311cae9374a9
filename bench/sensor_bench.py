"""Sensor ingestion throughput over HTTP batches and over MQTT, against COPY of the same rows, on PostgreSQL.

    .venv/bin/python bench/sensor_bench.py [--events 400000] [--mqtt-events 400000] [--devices 300]
                                           [--workers 2] [--clients 4] [--batch 1000] [--per-message 100]

In one run, against one PostgreSQL database (``gridloop_sensorbench``, dropped and made afresh) holding the demo city
(5 × 5 × 5 × 10 = 1,250 unit grids) with ``--devices`` water-level sensors (one per grid, all linked to one
integration key) and the rule "water_level > 0.15 → 道路积水 (E0406), check on recovery":

1. HTTP: gunicorn (``--workers`` × ``--threads``) serving ``POST /api/v1/sensors/events``; ``--clients``
   client threads, each owning a share of the devices (so each device's events arrive in order), send signed
   batches of ``--batch`` events: 90 % new, 10 % duplicates of earlier batches, 1 % of the new ones alarms (the
   next reading of that device is back to normal, i.e. a recovery). Every answer is checked (accepted and
   duplicate counts as expected).
2. MQTT: ``manage.py sensor_bridge`` on the local Mosquitto (127.0.0.1:1883, a topic and client id of this run);
   one paho publisher sends QoS 1 messages of ``--per-message`` events of one device (same mix), keeping at most
   ``--window`` events ahead of what the bridge has stored (Mosquitto's default queue is 1,000 messages per client:
   a publisher further ahead would have the broker drop messages). The clock runs from the first publish to the
   moment the database holds the last message's events (the bridge stores messages in order).
3. COPY: the same unique rows of each phase, pre-formatted, COPY'd into an empty table with the readings table's
   shape (``LIKE … INCLUDING ALL``: the same primary key and BRIN index) — and into one without any index.

Figures: events/s (all events sent, duplicates included) and accepted/s, their ratio to COPY rows/s, alarm and case
counts, and peak RSS of the gunicorn workers, the bridge and this script. Loss check: after each phase the set of
(device, seq) in the database must equal the set of distinct events sent, and every alarm must be processed.
"""

import argparse
import contextlib
import hashlib
import hmac
import http.client
import io
import json
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import CpuSplit, gunicorn_start, sh  # noqa: E402

# GRIDLOOP_BENCH_DB / GRIDLOOP_BENCH_PORT: another database and port, to run beside someone else's run.
DB_NAME = os.environ.get("GRIDLOOP_BENCH_DB", "gridloop_sensorbench")
PORT = int(os.environ.get("GRIDLOOP_BENCH_PORT", "8766"))
DSN = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"


def psql(sql: str, db: str = "postgres") -> str:
    return sh("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-tAqc", sql).stdout.strip()


def peak_rss_kb(pid: int) -> int:
    """VmHWM (peak resident set) of a process, in kB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


# --- The event stream ---------------------------------------------------------------------------------------------
class Stream:
    """Per-device readings in seq order: 1 % alarms (value 0.3, alarm flag), then back to normal (0.05)."""

    def __init__(self, devices: list[str], start: datetime, seed: int):
        self.rng = random.Random(seed)
        self.devices = devices
        self.seq = dict.fromkeys(devices, 0)
        self.start = start
        self.sent: dict[str, list[dict]] = {d: [] for d in devices}  # for duplicates
        self.unique: list[tuple[str, int, str, float, bool]] = []
        self.probes: set[tuple[str, int]] = set()  # MQTT probes: some are sent before the bridge subscribed
        self.alarms = 0

    def new(self, device: str) -> dict:
        self.seq[device] += 1
        seq = self.seq[device]
        alarm = self.rng.random() < 0.01
        self.alarms += alarm
        event = {"device_id": device, "seq": seq, "ts": (self.start + timedelta(seconds=seq)).timestamp(),
                 "metric": "water_level", "value": 0.3 if alarm else 0.05}
        if alarm:
            event["alarm"] = True
        self.sent[device].append(event)
        self.unique.append((device, seq, event["ts"], event["value"], alarm))
        return event

    def duplicate(self, device: str, not_after: int) -> dict | None:
        """An event of ``device`` sent before its last ``not_after`` ones (so never in the same batch)."""
        earlier = self.sent[device][:-not_after] if not_after else self.sent[device]
        return self.rng.choice(earlier) if earlier else None


def http_batches(stream: Stream, devices: list[str], total: int, batch: int) -> list[tuple[bytes, int, int]]:
    """(body, new events, duplicates) for ``total`` events over ``devices`` (one client's share)."""
    out, made, turn = [], 0, 0
    per_device = max(batch // len(devices), 1)
    while made < total:
        n = min(batch, total - made)
        new_n = n - n // 10
        events = []
        while len(events) < new_n:
            device = devices[turn % len(devices)]
            turn += 1
            events.append(stream.new(device))
        dups = 0
        while len(events) < n:
            dup = stream.duplicate(devices[stream.rng.randrange(len(devices))], per_device * 2)
            if dup is None:
                dup = events[stream.rng.randrange(len(events))]  # first batches: an in-batch repeat
            events.append(dup)
            dups += 1
        stream.rng.shuffle(events)  # the order inside a batch does not matter (evaluated in ts order)
        out.append((json.dumps({"events": events}).encode(), new_n, dups))
        made += n
    return out


# --- HTTP phase ------------------------------------------------------------------------------------------------------
def run_http(args, env, key_id: str, secret: str, shares: list[list[str]], stream: Stream) -> dict:
    gunicorn = gunicorn_start(env, port=PORT, workers=args.workers, threads=args.threads,
                              options=("-c", "config/gunicorn.conf.py"))  # the production settings
    per_client = args.events // len(shares)
    plans = [http_batches(stream, share, per_client, args.batch) for share in shares]
    warm = [plan.pop(0) for plan in plans]  # one batch per client before the clock starts
    try:
        errors: list[str] = []

        def send(conn, body, new_n, dups):
            stamp = str(int(time.time()))
            sig = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
            conn.request("POST", "/api/v1/sensors/events", body=body, headers={
                "Content-Type": "application/json", "X-Gridloop-Key": key_id, "X-Gridloop-Timestamp": stamp,
                "X-Gridloop-Signature": sig})
            response = conn.getresponse()
            answer = response.read()
            if response.status != 200:
                errors.append(f"{response.status} {answer[:300]!r}")
                return
            got = json.loads(answer)
            if (got["accepted"], got["duplicates"], got["rejected"]) != (new_n, dups, 0):
                errors.append(f"expected {new_n} new / {dups} duplicates, got {got['accepted']} / "
                              f"{got['duplicates']} / {got['rejected']} rejected")

        def client(index, batches):
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
            for body, new_n, dups in batches:
                send(conn, body, new_n, dups)
            conn.close()

        warmers = [threading.Thread(target=client, args=(i, [w])) for i, w in enumerate(warm)]
        for t in warmers:
            t.start()
        for t in warmers:
            t.join()
        events = sum(len(json.loads(b)["events"]) for plan in plans for b, _, _ in plan)
        new_events = sum(n for plan in plans for _, n, _ in plan)
        split = CpuSplit(gunicorn.pid)
        split.start()
        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i, plan)) for i, plan in enumerate(plans)]
        for t in threads:
            t.start()
        time.sleep(0.5)  # (the clients are connected by now)
        spread = connections_per_worker(PORT)
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        cpu = split.per_request(sum(len(p) for p in plans))
        rss = max([peak_rss_kb(p) for p in children(gunicorn.pid)] + [0])
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=60)
    return {"events": events, "new": new_events, "seconds": seconds, "errors": errors, "rss_kb": rss,
            "batches": sum(len(p) for p in plans), "cpu_ms": cpu, "spread": spread}


def connections_per_worker(port: int) -> list[int]:
    """How many client connections each gunicorn worker holds at this moment, most first (read with ``ss``)."""
    try:
        found = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True,
                               text=True).stdout
    except FileNotFoundError:  # (no iproute2 here: printed as "?")
        return []
    counts: dict[str, int] = {}
    for pid in (part.split(",")[0] for part in found.split("pid=")[1:]):
        counts[pid] = counts.get(pid, 0) + 1
    return sorted(counts.values(), reverse=True)


# --- MQTT phase ------------------------------------------------------------------------------------------------------
_conn = None


def stored(device_pk: int, seq: int) -> bool:
    """Whether the reading (device, seq) is in the database (a primary-key lookup)."""
    global _conn
    import psycopg

    if _conn is None:
        _conn = psycopg.connect(DSN, autocommit=True)
    return _conn.execute("SELECT 1 FROM events_sensorreading WHERE device_id = %s AND seq = %s",
                         [device_pk, seq]).fetchone() is not None


def run_mqtt(args, env, devices: list[str], device_pk: dict[str, int], stream: Stream) -> dict:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    run = uuid.uuid4().hex[:8]
    prefix = f"gridloop-bench/{run}/sensors"
    bridge = subprocess.Popen(
        [sys.executable, "manage.py", "sensor_bridge", "--topic", f"{prefix}/+/events", "--client-id",
         f"gridloop-bench-{run}", "--stats-every", "3600"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gridloop-bench-pub-{run}")
    publisher.max_inflight_messages_set(200)
    publisher.connect("127.0.0.1", 1883)
    publisher.loop_start()
    try:
        # The bridge subscribes once connected; a probe published before that is lost (no session yet), so probe
        # until one lands, and leave the lost probes out of what must be stored.
        device = devices[0]
        for _ in range(300):
            probe = stream.new(device)
            publisher.publish(f"{prefix}/{device}/events", json.dumps(probe), qos=1).wait_for_publish(5)
            deadline = time.time() + 0.5
            while time.time() < deadline and not stored(device_pk[device], probe["seq"]):
                time.sleep(0.02)
            stream.probes.add((device, probe["seq"]))
            if stored(device_pk[device], probe["seq"]):
                break
        else:
            raise SystemExit("the bridge never took an event")
        # messages: per_message events of one device, 10 % of them duplicates of its earlier messages
        messages = []
        made, turn = 0, 0
        while made < args.mqtt_events:
            device = devices[turn % len(devices)]
            turn += 1
            n = min(args.per_message, args.mqtt_events - made)
            events = [stream.new(device) for _ in range(n - n // 10)]
            last = (device_pk[device], events[-1]["seq"])
            for _ in range(n // 10):
                events.append(stream.duplicate(device, len(events)) or events[0])
            messages.append((f"{prefix}/{device}/events", json.dumps(events).encode(), len(events), last))
            made += n
        total = sum(n for _, _, n, _ in messages)
        behind = max(args.window // args.per_message, 1)  # messages published ahead of the last one stored
        started = time.perf_counter()
        for index, (topic, payload, _n, _last) in enumerate(messages):
            if index >= behind:
                check = messages[index - behind][3]
                while not stored(*check):
                    if bridge.poll() is not None:
                        raise SystemExit("the bridge stopped: " + bridge.stderr.read()[-2000:])
                    time.sleep(0.002)
            publisher.publish(topic, payload, qos=1)
        while not stored(*messages[-1][3]):  # the bridge takes messages in order: the last one stored, all are
            if bridge.poll() is not None:
                raise SystemExit("the bridge stopped: " + bridge.stderr.read()[-2000:])
            time.sleep(0.002)
        seconds = time.perf_counter() - started
        rss = peak_rss_kb(bridge.pid)
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        bridge.send_signal(signal.SIGTERM)
        try:
            bridge.wait(timeout=60)
        except subprocess.TimeoutExpired:
            bridge.kill()
        # forget the persistent session of this run's client id
        cleaner = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"gridloop-bench-{run}", clean_session=True)
        with contextlib.suppress(OSError):
            cleaner.connect("127.0.0.1", 1883)
            cleaner.disconnect()
    return {"events": total, "new": total - sum(n // 10 for _, _, n, _ in messages), "seconds": seconds,
            "rss_kb": rss, "messages": len(messages)}


# --- COPY baseline ---------------------------------------------------------------------------------------------------
def copy_rate(rows: list[tuple], device_pk: dict[str, int], *, indexed: bool = True, rows_api: bool = False
              ) -> float:
    """Rows/s of a COPY of ``rows`` into an empty table shaped like the readings table (``LIKE … INCLUDING ALL``:
    the primary key and the BRIN index; without ``indexed``: no index at all). The clock covers the COPY only: the
    data is pre-formatted text, or (``rows_api``) Python tuples handed to psycopg's ``write_row``, which formats
    them — what a program COPYing rows it holds would do."""
    import psycopg

    received = datetime.now(UTC)
    tuples = [(device_pk[device], seq, datetime.fromtimestamp(ts, UTC), "water_level", value, alarm, received)
              for device, seq, ts, value, alarm in rows]
    buffer = io.StringIO()
    for pk, seq, stamp, metric, value, alarm, at in tuples:
        buffer.write(f"{pk}\t{seq}\t{stamp.isoformat()}\t{metric}\t{value}\t{'t' if alarm else 'f'}\t{at.isoformat()}\n")
    data = buffer.getvalue().encode()
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS copy_baseline")
        like = "LIKE events_sensorreading " + ("INCLUDING ALL" if indexed else "INCLUDING DEFAULTS")
        conn.execute(f"CREATE TABLE copy_baseline ({like})")
        started = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(
                "COPY copy_baseline (device_id, seq, ts, metric, value, alarm, received_at) FROM STDIN") as copy:
            if rows_api:
                for row in tuples:
                    copy.write_row(row)
            else:
                for start in range(0, len(data), 1 << 20):
                    copy.write(data[start:start + (1 << 20)])
        seconds = time.perf_counter() - started
        count = conn.execute("SELECT count(*) FROM copy_baseline").fetchone()[0]
        conn.execute("DROP TABLE copy_baseline")
    assert count == len(rows), (count, len(rows))
    return len(rows) / seconds


def stored_keys(device_pk: dict[str, int]) -> set[tuple[str, int]]:
    import psycopg

    names = {pk: name for name, pk in device_pk.items()}
    with psycopg.connect(DSN) as conn:
        return {(names[d], s) for d, s in conn.execute("SELECT device_id, seq FROM events_sensorreading")}


def alarm_figures() -> dict:
    import psycopg

    with psycopg.connect(DSN) as conn:
        rows = dict(conn.execute("SELECT coalesce(outcome, 'pending'), count(*) FROM events_sensoralarm "
                                 "GROUP BY 1").fetchall())
        pending = conn.execute("SELECT count(*) FROM events_sensoralarm WHERE processed_at IS NULL").fetchone()[0]
        cases = conn.execute("SELECT count(*) FROM events_case WHERE channel = 'sensor'").fetchone()[0]
        events = dict(conn.execute("SELECT kind, count(*) FROM events_caseevent WHERE kind LIKE 'sensor_%%' "
                                   "GROUP BY 1").fetchall())
    return {"outcomes": rows, "pending": pending, "cases": cases, "case_events": events}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=400_000, help="HTTP events (incl. 10 %% duplicates)")
    parser.add_argument("--mqtt-events", type=int, default=400_000)
    parser.add_argument("--devices", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--per-message", type=int, default=100)
    parser.add_argument("--window", type=int, default=40_000, help="MQTT events published ahead of the bridge")
    args = parser.parse_args()

    env = {**os.environ, "DATABASE_URL": DSN.replace("postgresql", "postgres"), "DJANGO_DEBUG": "0",
           "GRIDLOOP_VAR_DIR": str(ROOT / "var" / "sensorbench"), "LOG_LEVEL": "WARNING",
           "GRIDLOOP_SENSOR_RETENTION_DAYS": "90"}
    psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    psql(f"CREATE DATABASE {DB_NAME}")
    python = sys.executable
    sh(python, "manage.py", "migrate", "--no-input", "-v", "0", env=env)
    sh(python, "manage.py", "demo_city", "--quiet", "--history-days", "0", "--districts", "5", "--streets", "5", "--communities", "5",
       "--grids", "10", env=env)
    setup = sh(python, "manage.py", "shell", "--no-imports", "-c", (
        "import json\n"
        "from events.models import Category\n"
        "from events.sensors.models import SensorRule\n"
        "from events.sensors.services import device_register, integration_key_create\n"
        "from grids.models import Department\n"
        "from grids.selectors import grid_index\n"
        "key = integration_key_create(name='bench')\n"
        f"entries = grid_index().entries[:{args.devices}]\n"
        "import numpy as np\n"
        "geoms = grid_index().geometries[:len(entries)]\n"
        "devices = {}\n"
        "for entry, geom in zip(entries, geoms):\n"
        "    point = geom.representative_point()\n"
        "    dept = Department.objects.filter(type='水务', region__code=entry.code[:6]).first()\n"
        "    d, _, _ = device_register(device_id='W' + entry.code, type='water_level', lat=point.y, lng=point.x,\n"
        "                              department=dept, integration_key=key)\n"
        "    devices[d.device_id] = d.pk\n"
        "SensorRule.objects.create(name='道路积水', device_type='water_level', metric='water_level',\n"
        "    comparison='gt', threshold=0.15, duration_seconds=0, category=Category.objects.get(code='E0406'),\n"
        "    urgency='urgent', verify_on_recovery=True)\n"
        "print(json.dumps({'key_id': key.key_id, 'secret': key.secret, 'devices': devices}))\n"
    ), env=env)
    info = json.loads(setup.stdout.strip().splitlines()[-1])
    device_pk = info["devices"]
    devices = sorted(device_pk)
    shares = [devices[i::args.clients] for i in range(args.clients)]
    start = datetime.now(UTC) - timedelta(days=30)
    stream = Stream(devices, start, seed=5)

    http = run_http(args, env, info["key_id"], info["secret"], shares, stream)
    http_unique = list(stream.unique)
    lost_http = {(d, s) for d, s, *_ in http_unique} - stored_keys(device_pk)
    http_alarms = alarm_figures()

    mqtt = run_mqtt(args, env, devices, device_pk, stream)
    mqtt_unique = [row for row in stream.unique[len(http_unique):] if (row[0], row[1]) not in stream.probes]
    keys = stored_keys(device_pk) - stream.probes
    expected = {(d, s) for d, s, *_ in stream.unique} - stream.probes
    lost = expected - keys
    extra = keys - expected
    alarms = alarm_figures()

    copies = {
        "http": (copy_rate(http_unique, device_pk), copy_rate(http_unique, device_pk, rows_api=True)),
        "mqtt": (copy_rate(mqtt_unique, device_pk), copy_rate(mqtt_unique, device_pk, rows_api=True)),
    }
    copy_bare = copy_rate(http_unique, device_pk, indexed=False)

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\nSensor ingestion, PostgreSQL, {len(devices)} devices, 10 % duplicates, 1 % alarms "
          f"({stream.alarms} alarms in all)")
    for name, phase, how in (
        ("HTTP", http, f"gunicorn {args.workers} workers × {args.threads} threads, {args.clients} clients, {http['batches']} "
                       f"batches of {args.batch}"),
        ("MQTT", mqtt, f"bridge (QoS 1, persistent session), {mqtt['messages']:,} messages of {args.per_message} "
                       f"events, window {args.window:,} events"),
    ):
        rate, accepted = phase["events"] / phase["seconds"], phase["new"] / phase["seconds"]
        text, rows = copies[name.lower()]
        print(f"{name}: {how}")
        print(f"  events                 : {phase['events']:,} in {phase['seconds']:.2f} s = {rate:,.0f} events/s "
              f"({accepted:,.0f} accepted/s; target ≥ 20,000 events/s)")
        print(f"  COPY of the same rows  : {text:,.0f} rows/s pre-formatted text, {rows:,.0f} rows/s via write_row")
        print(f"  ratio events/s to COPY : {rate / text:.3f} (text), {rate / rows:.3f} (write_row); target ≥ 0.15")
        if "cpu_ms" in phase:
            web, db, driver = phase["cpu_ms"]
            print(f"  CPU ms per batch       : web workers {web:.1f}, PostgreSQL {db:.1f}, load driver {driver:.1f}")
            print(f"  connections per worker : {' / '.join(map(str, phase['spread'])) or '?'} (half a second in)")
    print(f"  (COPY without any index: {copy_bare:,.0f} rows/s)")
    print(f"HTTP answers not as expected: {len(http['errors'])} {http['errors'][:3]}; lost after the HTTP phase: "
          f"{len(lost_http)}; alarms then: {http_alarms}")
    print(f"Loss check: {len(expected):,} distinct events sent, {len(keys):,} stored, {len(lost)} lost, "
          f"{len(extra)} unexpected")
    print(f"Alarms: {alarms}")
    print(f"Peak RSS: gunicorn worker {http['rss_kb'] / 1024:.0f} MB, bridge {mqtt['rss_kb'] / 1024:.0f} MB, "
          f"this script {own / 1024:.0f} MB")
    failed = lost or extra or http["errors"] or alarms["pending"]
    if failed:
        print("FAILED: lost, unexpected or unprocessed events, or unexpected answers", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
