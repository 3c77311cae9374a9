"""What the HTTP benchmarks share: shell commands, a fresh PostgreSQL database with the demo city, a gunicorn to
load (started and waited for), CPU accounting from /proc, and percentiles."""

import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def sh(*args, env=None, check=True):
    return subprocess.run(args, cwd=ROOT, env=env, check=check, capture_output=True, text=True)


def fresh_demo_database(name: str, env: dict, *demo_options: str) -> None:
    """Drop and create database ``name`` on 127.0.0.1, migrate it and load the demo city (``env`` names it)."""
    sh("psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {name}")
    sh("psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {name}")
    sh(sys.executable, "manage.py", "migrate", "--no-input", "-v", "0", env=env)
    sh(sys.executable, "manage.py", "demo_city", "--quiet", "--history-days", "0", *demo_options, env=env)


def gunicorn_start(env: dict, *, port: int, workers: int, threads: int, options: tuple = ()) -> subprocess.Popen:
    """gunicorn (gthread) serving ``config.wsgi`` on 127.0.0.1:``port``, once it answers ``/healthz/``."""
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), *options, "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads), "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    for _ in range(200):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz/")
            conn.getresponse().read()
            break
        except OSError:
            time.sleep(0.1)
    return server


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def cpu_seconds(match) -> float:
    """CPU seconds (user + system) used so far by the processes whose /proc/<pid>/stat ``match`` accepts."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if match(int(entry), comm, int(fields[1])):
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


class CpuSplit:
    """CPU per request of the web workers, PostgreSQL (all its processes) and this load driver, over one phase."""

    def __init__(self, server_pid):
        self.server_pid = server_pid

    def sample(self):
        return (cpu_seconds(lambda pid, comm, ppid: ppid == self.server_pid),
                cpu_seconds(lambda pid, comm, ppid: comm.startswith("postgres")),
                sum(os.times()[:2]))

    def start(self):
        self.before = self.sample()

    def per_request(self, requests):
        after = self.sample()
        return [(a - b) * 1000 / max(requests, 1) for a, b in zip(after, self.before, strict=True)]
