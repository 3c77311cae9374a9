"""Soak test: a city's day at 10× Beijing 12345's average intake rate against 127.0.0.1, with a Celery worker kill and
a database connection purge inside the run.

Rate: Beijing 12345 (北京12345市民服务热线) takes about 20,000 requests a day on average — the figure given in the
hardening issue (issue 19), not checked against a primary source here; 10× is 200,000 a day ≈ 2.3 reports a second,
spread over every channel — hotline 40 %, the Open311 app 25 %, WeChat 15 % (a four-message guided report each),
grid patrol 20 % (with a photo) —, with sensors streaming one signed reading a second, street dispatchers accepting
and dispatching, handlers signing and completing, grid workers verifying on site and supervisors reading the
cockpit's API alongside (bench/soak_locustfile.py).

It builds a fresh PostgreSQL database with ``manage.py demo_city --history-days 0`` (bench/common.py), starts its own
gunicorn, Celery worker and beat (Redis DB 10 unless CELERY_BROKER_URL says otherwise), runs locust headless for
``--minutes`` (default 30); at 40 % of the run it kills the worker with SIGKILL and starts a new one, at 60 % it
terminates every database connection of the run's database. Then it prints p50/p95/p99 per endpoint, errors (and
how many failed requests were retried successfully), the RSS of every process sampled every 30 s (at 2 min, 25, 50,
75 and 100 % of the run, and its trend over the second half; all samples in rss.csv), and checks
``verify_events``, reports acknowledged = reports stored, and ``rebuild_rollups --check``.

    .venv/bin/python bench/soak.py --minutes 30
"""

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, fresh_demo_database, gunicorn_start, sh  # noqa: E402

DB_NAME = "gridloop_soak"
WECHAT_TOKEN = "soak-wechat-token"
PORT = 8790


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def processes(named: dict[str, subprocess.Popen]) -> dict[str, float]:
    """RSS (MB) of each process we started and of its children (gunicorn and Celery workers)."""
    out = {}
    for name, proc in named.items():
        out[name] = rss_mb(proc.pid)
        for n, child in enumerate(children(proc.pid)):
            out[f"{name}/child{n}"] = rss_mb(child)
    return out


class RssSampler(threading.Thread):
    """Samples the RSS of every process of the run every ``every`` seconds (the worker's restart included: the dict of
    processes is read afresh each time), so the report can show a trend rather than two points."""

    def __init__(self, procs: dict[str, subprocess.Popen], every: float = 30):
        super().__init__(daemon=True)
        self.procs, self.every, self.samples = procs, every, []  # samples: (seconds since start, {name: MB})
        self.started, self.stopping = time.monotonic(), threading.Event()

    def run(self):
        while not self.stopping.is_set():
            self.samples.append((time.monotonic() - self.started, processes(self.procs)))
            self.stopping.wait(self.every)

    def at(self, fraction: float, name: str) -> float | None:
        """The sample nearest ``fraction`` of the run."""
        if not self.samples:
            return None
        end = self.samples[-1][0]
        _t, values = min(self.samples, key=lambda sample: abs(sample[0] - fraction * end))
        return values.get(name)

    def slope(self, name: str) -> float | None:
        """Least-squares growth of the process's RSS over the second half of the run, in MB per 10 minutes."""
        end = self.samples[-1][0] if self.samples else 0
        points = [(t, v[name]) for t, v in self.samples if t >= end / 2 and v.get(name)]
        if len(points) < 3:
            return None
        mean_t = sum(t for t, _ in points) / len(points)
        mean_v = sum(v for _, v in points) / len(points)
        spread = sum((t - mean_t) ** 2 for t, _ in points)
        return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 600 if spread else None


def shell(env, code: str) -> str:
    return sh(sys.executable, "manage.py", "shell", "--no-imports", "-c", code, env=env).stdout.strip().splitlines()[-1]


def celery(env, *args) -> subprocess.Popen:
    return subprocess.Popen([str(Path(sys.executable).parent / "celery"), "-A", "config", *args, "--loglevel",
                             "WARNING"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=2.3, help="reports a second (default 2.3 = 10× Beijing 12345)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gridloop-soak-"))
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}", "DJANGO_DEBUG": "0",
           "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/10"),
           "GRIDLOOP_VAR_DIR": str(work / "var"), "LOG_LEVEL": "WARNING",
           # the WeChat official account (plaintext mode) the citizens write to; the cache remembers its nonces
           "GRIDLOOP_WECHAT_TOKEN": WECHAT_TOKEN, "GRIDLOOP_WECHAT_INTAKE_REGION": "990100",
           "GRIDLOOP_CACHE_URL": os.environ.get("GRIDLOOP_CACHE_URL", "redis://127.0.0.1:6379/11")}
    print(f"building {DB_NAME} (demo city, no history) …", flush=True)
    fresh_demo_database(DB_NAME, env)
    (work / "sensors.csv").write_text("device_id,type,lat,lng,department\n" + "".join(
        f"SOAK-{n:02d},water_level,30.1995,120.1005,990101001-street-office\n" for n in range(10)))
    sh(sys.executable, "manage.py", "import_sensors", str(work / "sensors.csv"), "--secrets-out",
       str(work / "secrets.csv"), env=env)
    devices = [row for row in csv.reader((work / "secrets.csv").open()) if row[0] != "device_id"]
    key = sh(sys.executable, "manage.py", "create_open311_key", "soak", env=env).stdout.strip().splitlines()[0]
    setup = json.loads(shell(env, (
        "import json; from grids.models import Department, Region, User; from grids.services import api_token_issue;"
        "t = lambda u: api_token_issue(user=User.objects.get(username=u), device='soak')[1];"
        "d = Department.objects.filter(region__code='990101001', type='环卫').get().code;"
        "r = Region.objects.filter(level='grid', code__startswith='990101001').order_by('code');"
        "g = [[x.code, min(p[1] for p in x.boundary['coordinates'][0]), max(p[1] for p in x.boundary['coordinates'][0]),"
        " min(p[0] for p in x.boundary['coordinates'][0]), max(p[0] for p in x.boundary['coordinates'][0])] for x in r];"
        "print(json.dumps({'tokens': {'operator': t('hotline_operator'), 'dispatcher': t('d01s01_dispatcher'),"
        " 'handler': t('h_' + d), 'supervisor': t('d01_supervisor'), 'worker': t('d01s01c01_worker')},"
        " 'department': d, 'grids': g}))")))
    setup.update(open311_key=key, devices=devices, wechat_token=WECHAT_TOKEN, worker_community="990101001001")
    (work / "setup.json").write_text(json.dumps(setup))
    reports_before = int(shell(env, "from events.models import InboundReport; print(InboundReport.objects.count())"))

    procs = {"gunicorn": gunicorn_start(env, port=PORT, workers=args.workers, threads=4,
                                        options=("-c", "config/gunicorn.conf.py")),
             "worker": celery(env, "worker", "--concurrency", "2"),
             "beat": celery(env, "beat", "--schedule", str(work / "beat-schedule"))}
    time.sleep(5)
    sampler = RssSampler(procs)
    sampler.start()
    seconds = int(args.minutes * 60)
    locust = subprocess.Popen(
        [str(Path(sys.executable).parent / "locust"), "-f", "bench/soak_locustfile.py", "--headless", "--host",
         f"http://127.0.0.1:{PORT}", "-u", "8", "-r", "8", "--run-time", f"{seconds}s", "--csv", str(work / "soak"),
         "--only-summary", "--loglevel", "WARNING"],
        cwd=ROOT, env={**env, "SOAK_SETUP": str(work / "setup.json"), "SOAK_OUT": str(work / "counts.json"),
                       "SOAK_INTAKE_RATE": str(args.rate), "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    faults = []
    try:
        time.sleep(seconds * 0.4)
        procs["worker"].send_signal(signal.SIGKILL)
        procs["worker"].wait()
        procs["worker"] = celery(env, "worker", "--concurrency", "2")
        faults.append(f"{time.monotonic() - started:.0f} s: Celery worker killed (SIGKILL) and restarted")
        time.sleep(seconds * 0.2)
        purged = sh("psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc",
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    f"WHERE datname = '{DB_NAME}' AND pid <> pg_backend_pid()").stdout.strip()
        faults.append(f"{time.monotonic() - started:.0f} s: {purged} database connections terminated")
        _out, err = locust.communicate(timeout=seconds + 120)
        sampler.stopping.set()
        sampler.join()
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    counts = json.loads((work / "counts.json").read_text())
    print(f"\nSoak: {args.minutes:g} min at {args.rate} reports/s over hotline, Open311, WeChat and patrol "
          "(+ sensors, dispatchers, handlers, grid workers, supervisors); "
          f"gunicorn {args.workers}×4, PostgreSQL {DB_NAME}, Redis {env['CELERY_BROKER_URL']}")
    for fault in faults:
        print("  fault: " + fault)
    print(f"\n{'endpoint':45} {'requests':>8} {'failures':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    for row in csv.DictReader((work / "soak_stats.csv").open()):
        print(f"{row['Name'][:45]:45} {row['Request Count']:>8} {row['Failure Count']:>8} {row['50%']:>7} "
              f"{row['95%']:>7} {row['99%']:>7}")
    failures = list(csv.DictReader((work / "soak_failures.csv").open()))
    print("\nfailed attempts (each retried unless counted below):")
    for row in failures:
        print(f"  {row['Occurrences']:>5} × {row['Method']} {row['Name']}: {row['Error'][:100]}")
    print(f"retried successfully: {counts['retried_ok']}; failed for good after retries: {counts['failed_for_good']}")
    print(f"\nRSS (MB), sampled every {sampler.every:g} s ({len(sampler.samples)} samples; the worker is a new process "
          "after its kill at 40 %); trend = least-squares growth over the second half of the run")
    print(f"  {'process':20} {'2 min':>7} {'25 %':>7} {'50 %':>7} {'75 %':>7} {'end':>7} {'trend MB/10 min':>16}")
    names = sorted({name for _t, values in sampler.samples for name in values})
    warm = 120 / sampler.samples[-1][0] if sampler.samples and sampler.samples[-1][0] > 240 else 0
    for name in names:
        cells = [sampler.at(f, name) for f in (warm, 0.25, 0.5, 0.75, 1.0)]
        trend = sampler.slope(name)
        print(f"  {name:20} " + " ".join(f"{c or 0:7.1f}" for c in cells)
              + (f" {trend:+16.1f}" if trend is not None else f" {'—':>16}"))
    with (work / "rss.csv").open("w") as handle:
        handle.write("seconds," + ",".join(names) + "\n")
        for t, values in sampler.samples:
            handle.write(f"{t:.0f}," + ",".join(f"{values.get(n) or 0:.1f}" for n in names) + "\n")

    verify = sh(sys.executable, "manage.py", "verify_events", env=env, check=False)
    stored = int(shell(env, "from events.models import InboundReport; print(InboundReport.objects.count())"))
    rollups = sh(sys.executable, "manage.py", "rebuild_rollups", "--check", env=env, check=False)
    print(f"\nverify_events: exit {verify.returncode} — {(verify.stdout or verify.stderr).strip().splitlines()[-1:]}")
    print(f"reports acknowledged {counts['acknowledged']}, stored {stored - reports_before} "
          f"({'equal' if counts['acknowledged'] == stored - reports_before else 'DIFFERENT'})")
    print(f"rollups --check: exit {rollups.returncode} — {(rollups.stdout or rollups.stderr).strip().splitlines()[-1:]}")
    print(f"sensor readings accepted: {counts['sensor_readings']}; work dir {work}")
    if err.strip():
        print("locust stderr (last lines):\n" + "\n".join(err.strip().splitlines()[-5:]))


if __name__ == "__main__":
    main()
