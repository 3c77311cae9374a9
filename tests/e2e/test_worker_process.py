"""A real Celery worker process runs a task sent by another process — on the embedded filesystem broker with
SQLite, and (when CI provides CELERY_BROKER_URL and DATABASE_URL) on Redis with PostgreSQL. No eager mode."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real worker processes, waited for

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(GRIDLOOP_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="config.settings", **extra)
    return env


def _manage(env, *args, timeout=120):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
        check=True,
    )


def _worker_runs_task(env, tmp_path):
    _manage(env, "migrate", "--no-input", "-v", "0")
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed in finally, after the worker stops
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--without-mingle",
         "--without-gossip", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        _manage(env, "shell", "--no-imports", "-c", "from dispatch.models import Heartbeat; Heartbeat.objects.all().delete();"
                "from dispatch.tasks import heartbeat; heartbeat.delay()")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            out = _manage(env, "shell", "--no-imports", "-c", "from dispatch.models import Heartbeat; "
                          "print(Heartbeat.objects.filter(name='worker').count())").stdout.strip()
            if out == "1":
                return True
            time.sleep(0.5)
        return False
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()


def test_worker_on_the_embedded_filesystem_broker_runs_a_task(tmp_path):
    assert _worker_runs_task(_env(tmp_path), tmp_path), (tmp_path / "worker.log").read_text()


@pytest.mark.skipif(not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"), reason="needs Redis (CI pass 2)")
def test_worker_on_redis_and_postgresql_runs_a_task(tmp_path):
    env = _env(tmp_path, CELERY_BROKER_URL=os.environ["CELERY_BROKER_URL"], DATABASE_URL=os.environ["DATABASE_URL"])
    assert _worker_runs_task(env, tmp_path), (tmp_path / "worker.log").read_text()
