"""Production settings: secure by default, secrets from the environment."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_ENV = {
    "GRIDLOOP_PRODUCTION": "1",
    "SECRET_KEY": "x7-" + "k" * 20 + "Q9_pZr2vLm8Wn4Ys6Tb1Hc3Jd5Fg0Aq",
    "ALLOWED_HOSTS": "gridloop.example.org",
    "DATABASE_URL": "postgres://gridloop@db.example.org:5432/gridloop",
    "CELERY_BROKER_URL": "redis://redis.example.org:6379/0",
}


def _check(env_overrides, *args):
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", "check", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    result = _check({**PRODUCTION_ENV, "GRIDLOOP_VAR_DIR": str(tmp_path)}, "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**PRODUCTION_ENV, "GRIDLOOP_VAR_DIR": str(tmp_path)}
    del env["SECRET_KEY"]
    result = _check(env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_a_database_url(tmp_path):
    env = {**PRODUCTION_ENV, "GRIDLOOP_VAR_DIR": str(tmp_path)}
    del env["DATABASE_URL"]
    result = _check(env)
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
