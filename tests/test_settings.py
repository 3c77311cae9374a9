"""Production settings: secure by default, secrets from the environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_ENV = {
    "GRIDLOOP_PRODUCTION": "1",
    "SECRET_KEY": "x7-" + "k" * 20 + "Q9_pZr2vLm8Wn4Ys6Tb1Hc3Jd5Fg0Aq",
    "ALLOWED_HOSTS": "gridloop.example.org",
    "DATABASE_URL": "postgres://gridloop@db.example.org:5432/gridloop",
    "CELERY_BROKER_URL": "redis://redis.example.org:6379/0",
    "GRIDLOOP_ANCHOR_KEY": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",  # (an Ed25519 seed, for these tests only)
}


def _check(env_overrides, *args):
    # (DJANGO_ALLOW_ASYNC_UNSAFE is the test process's own, for the browser tests: no deployment sets it)
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", "check", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    result = _check({**PRODUCTION_ENV, "GRIDLOOP_VAR_DIR": str(tmp_path)}, "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_deploy_check_warns_of_an_anchor_key_generated_on_the_machine(tmp_path):
    env = {**PRODUCTION_ENV, "GRIDLOOP_VAR_DIR": str(tmp_path)}
    del env["GRIDLOOP_ANCHOR_KEY"]
    result = _check(env, "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0 and "gridloop.W003" in result.stderr + result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**PRODUCTION_ENV, "GRIDLOOP_VAR_DIR": str(tmp_path)}
    del env["SECRET_KEY"]
    result = _check(env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_a_bad_escalation_policy_is_refused_at_start_naming_the_item(tmp_path):
    result = _check({"GRIDLOOP_VAR_DIR": str(tmp_path), "GRIDLOOP_ESCALATION_POLICY": "district:supervise,street:x"})
    assert result.returncode != 0
    assert "GRIDLOOP_ESCALATION_POLICY: 'street:x'" in result.stderr


def test_production_refuses_to_start_without_a_database_url(tmp_path):
    env = {**PRODUCTION_ENV, "GRIDLOOP_VAR_DIR": str(tmp_path)}
    del env["DATABASE_URL"]
    result = _check(env)
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


@pytest.mark.django_db
def test_the_autovacuum_check_warns_exactly_when_postgresql_runs_without_it():
    from django.core import checks
    from django.db import connection

    from config.checks import AUTOVACUUM_OFF

    found = [m for m in checks.run_checks(databases=["default"]) if m.id == AUTOVACUUM_OFF]
    if connection.vendor != "postgresql":
        assert found == []
        return
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        off = cursor.fetchone()[0] != "on"
    assert len(found) == (1 if off else 0)
    if off:
        assert "autovacuum" in found[0].msg and "postgresql.conf" in found[0].hint
    assert not [m for m in checks.run_checks() if m.id == AUTOVACUUM_OFF]  # (not without databases)


@pytest.mark.parametrize("settings_found, warned", [(("off", "on"), True), (("on", "off"), True),
                                                     (("on", "on"), False)])
def test_the_autovacuum_check_names_the_settings_it_found(monkeypatch, settings_found, warned):
    from config import checks as gridloop_checks

    class FakeCursor:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def execute(self, sql):
            assert "autovacuum" in sql and "track_counts" in sql

        def fetchone(self):
            return settings_found

    class FakeConnection:
        vendor = "postgresql"

        def cursor(self):
            return FakeCursor()

    monkeypatch.setattr(gridloop_checks, "connections", {"default": FakeConnection()})
    found = gridloop_checks.autovacuum_check(databases=["default"])
    assert [w.id for w in found] == (["gridloop.W002"] if warned else [])
    if warned:
        assert f"autovacuum = {settings_found[0]}, track_counts = {settings_found[1]}" in found[0].msg


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_keeps_prepared_statements_for_repeated_queries():
    # Planning the case reads cost more than running them: each statement is prepared at its second use on a
    # connection, and later uses run the stored plan (config/settings.py, DB_SERVER_SIDE_BINDING).
    from django.db import connection

    from events.models import Case

    for _ in range(3):
        list(Case.objects.select_related("category", "department", "reporter").filter(number="2099010100001"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cursor.fetchall()]
    assert any('FROM "events_case"' in sql and '"events_case"."number" = $1' in sql for sql in statements)
