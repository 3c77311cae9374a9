"""config/fastpath.py: every hook of the performance layer checks the internals it uses at start-up, falls back to
the plain ORM path when they are not as expected or when GRIDLOOP_COMPILED_QUERIES=0, and the case and sensor tests
give the same results with the fast path off as with it on (the rest of the suite runs them with it on)."""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.core import checks
from django.db import connection

from config import compiled, fastpath
from config.compiled import CompiledQuery
from config.rows import row_insert, rows_insert_many, rows_update_many
from events.models import Case, InboundReport
from tests.config.test_rows import report
from tests.events.conftest import file_hotline

ROOT = Path(__file__).resolve().parents[2]
# The case tests (intake, actions, lists, detail over the API and the services) and the sensor tests.
PLAIN_PATH_TESTS = ["tests/events/test_api.py", "tests/events/test_cases_api.py", "tests/events/test_transitions.py",
                    "tests/events/test_intake_writes.py", "tests/events/sensors",
                    "tests/config/test_fastpath.py::test_the_switch_is_off_in_a_process_started_with_it_off"]


def test_every_hook_finds_the_internals_it_expects_on_this_django():
    assert fastpath.check_all() == {}
    assert all(fastpath.active(name) for name in ("compiled", "rows.statements", "rows.arrays"))


@pytest.mark.skipif(os.environ.get("GRIDLOOP_COMPILED_QUERIES") != "0", reason="run by the plain-path test below")
def test_the_switch_is_off_in_a_process_started_with_it_off():
    assert not any(fastpath.active(name) for name in ("compiled", "rows.statements", "rows.arrays"))


@pytest.fixture
def hook_broken(monkeypatch):
    """The compiled-queries hook as on a Django whose get_related_populators is gone: checked afresh."""
    monkeypatch.setattr(compiled, "get_related_populators", None)
    monkeypatch.delitem(fastpath._problems, "compiled", raising=False)
    yield
    fastpath._problems.pop("compiled", None)  # (checked again, against the real Django, by the next user)


@pytest.mark.django_db
def test_a_hook_whose_internals_are_missing_is_off_and_its_queries_run_as_plain_querysets(world, hook_broken):
    case = file_hotline(world)
    query = CompiledQuery(lambda number: Case.objects.select_related("category").filter(number=number), str)
    [found] = query(case.number)
    assert found.pk == case.pk and found.category == case.category
    assert query._plans == {}  # nothing compiled: Django ran the queryset
    assert "get_related_populators" in fastpath.internals_problem("compiled")
    [warning] = [m for m in fastpath.fastpath_check() if "compiled" in m.msg]
    assert warning.id == "gridloop.W010" and warning.level == checks.WARNING


@pytest.mark.django_db
def test_a_compiler_not_holding_what_is_read_turns_the_hook_off(world, monkeypatch):
    case = file_hotline(world)
    monkeypatch.setattr(compiled, "get_related_populators", lambda *args: (_ for _ in ()).throw(TypeError("changed")))
    try:
        query = CompiledQuery(lambda number: Case.objects.filter(number=number), str)
        assert [c.pk for c in query(case.number)] == [case.pk]
        assert query._plans == {} and "changed" in fastpath.internals_problem("compiled")
    finally:
        fastpath._problems.pop("compiled", None)


@pytest.mark.django_db
def test_with_the_switch_off_queries_and_row_writes_take_the_orm_path(world, settings, django_assert_num_queries):
    settings.GRIDLOOP_COMPILED_QUERIES = False
    case = file_hotline(world)
    query = CompiledQuery(lambda ids: Case.objects.filter(pk__any=ids), list)
    assert [c.pk for c in query([case.pk])] == [case.pk] and query._plans == {}
    rows = [report(case, description=f"第{i}次") for i in range(3)]
    with django_assert_num_queries(1):  # bulk_create
        rows_insert_many(rows)
    assert [InboundReport.objects.get(pk=row.pk).description for row in rows] == ["第0次", "第1次", "第2次"]
    single = row_insert(report(case, description="单条"))
    assert InboundReport.objects.get(pk=single.pk).description == "单条"
    case.last_seq = 9
    rows_update_many([case], ("last_seq",))
    assert Case.objects.get(pk=case.pk).last_seq == 9


@pytest.mark.slow
def test_the_case_and_sensor_tests_give_the_same_results_on_the_plain_orm_path(tmp_path):
    """The case and sensor tests, run again in a process started with GRIDLOOP_COMPILED_QUERIES=0 (its own test
    database, broker folder and files): every one passes there as it does here."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    env.update(GRIDLOOP_COMPILED_QUERIES="0", CELERY_BROKER_URL="filesystem://", GRIDLOOP_VAR_DIR=str(tmp_path / "var"))
    if connection.vendor == "postgresql":
        env["TEST_DATABASE_NAME"] = f"test_gridloop_plain_path_{os.getpid()}"
    report_file = tmp_path / "plain.xml"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:randomly", "-p", "no:cacheprovider",
         "--create-db", "-m", "not mqtt and not browser and not slow", f"--junitxml={report_file}",
         *PLAIN_PATH_TESTS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    suite = ET.parse(report_file).getroot().find("testsuite")
    assert suite is not None, run.stdout[-3000:] + run.stderr[-3000:]
    failed = [f"{case.get('classname')}::{case.get('name')}" for case in suite.iter("testcase")
              if case.find("failure") is not None or case.find("error") is not None]
    assert run.returncode == 0 and not failed, "\n".join(failed) + "\n" + run.stdout[-3000:] + run.stderr[-3000:]
    passed = {case.get("name") for case in suite.iter("testcase") if case.find("skipped") is None}
    assert "test_the_switch_is_off_in_a_process_started_with_it_off" in passed  # the switch really was off there
    assert int(suite.get("tests", 0)) > 500
