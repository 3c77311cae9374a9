"""Sweep benchmark (issue 4): one pass of the SLA sweep over 1,000,000 open cases of which 10,000 are due, PostgreSQL.

    /usr/bin/time -v .venv/bin/python bench/sweep_bench.py [--cases 1000000] [--due 10000] [--street 400]
        [--district 100] [--city 500] [--batch-size 1000] [--database gridloop_sweepbench]
        [--server postgres://postgres@127.0.0.1:5432] [--keep]

Drops and creates its own database (``--database``) on the server, migrates it, builds a small demo city (departments,
dispatchers and handlers to notify), then writes — server side, with ``INSERT … SELECT generate_series`` — the cases,
one open stage clock per case (no case events: the sweep does not read them). Of the clocks, ``--due`` are due now:
``--street`` yellow clocks past their deadline at street level (→ red, escalated to the district), ``--district`` the
same at district level (→ city), ``--city`` at city level (→ red only) and the rest green past 80 % (→ yellow, a
warning). The others are not due: green (75 %), yellow before the deadline (10 %), long-overdue red at city level
(4 %, the rows an index without the light in its predicate would wade through), paused (suspended, 3 %).

Prints the EXPLAIN (ANALYZE, BUFFERS) of the sweep's claim queries, then times, on the same data:
  1. one ``dispatch.sweep.sweep()`` pass over every due clock, rolled back afterwards (warms the same pages the
     baseline reads);
  2. baseline: the sweep as it was before this benchmark — one OR query over the old (finished_at, warn_at) /
     (finished_at, deadline) indexes (created for it, the partial indexes dropped, all in the rolled-back
     transaction), then ``_advance`` row by row (a batch of one), a savepoint each — rolled back; also the old
     claim query alone;
  3. one ``sweep()`` pass for real (committed): the figure against the target (≤ 2 s).
Each timed run starts right after a CHECKPOINT (the same full-page-write conditions for all three). Then checks that
no due clock is left, that the counts are what the data says, and that the sweep logged no error.
Exits 1 when a check fails. ``--keep`` leaves the database for a look.
"""

import argparse
import logging
import os
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 2.0
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Tuesday, inside a working window


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000, help="open cases, one open clock each")
    parser.add_argument("--due", type=int, default=10_000, help="how many of the clocks are due now")
    parser.add_argument("--street", type=int, default=400, help="due: street breaches (escalate to the district)")
    parser.add_argument("--district", type=int, default=100, help="due: district breaches (escalate to the city)")
    parser.add_argument("--city", type=int, default=500, help="due: city breaches (light only)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="clocks per sweep transaction (default: GRIDLOOP_SWEEP_BATCH_SIZE, 1,000)")
    parser.add_argument("--database", default="gridloop_sweepbench")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL without the database name")
    parser.add_argument("--city-spec", default="4,5,3,5", help="demo city: districts,streets,communities,grids")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.due <= 0 or args.cases % args.due:
        parser.error("--cases must be a multiple of --due")
    if args.street + args.district + args.city > args.due:
        parser.error("--street + --district + --city must not exceed --due")
    return args


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def recreate_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def insert_select(model, explicit: dict[str, str], source: str, params: dict) -> int:
    """INSERT INTO model's table (every column the table has) SELECT the ``explicit`` SQL expressions, and for the
    other columns the field's default (or NULL), FROM ``source``. Other streams add fields to Case: they get their
    defaults without this script knowing them."""
    from django.db import connection

    with connection.cursor() as cursor:
        columns = [c.name for c in connection.introspection.get_table_description(cursor, model._meta.db_table)]
    fields = {f.column: f for f in model._meta.concrete_fields}
    names, values = [], []
    for column in columns:
        if column == "id":
            continue
        names.append(f'"{column}"')
        if column in explicit:
            values.append(explicit[column])
            continue
        field = fields.get(column)
        if field is None:
            raise SystemExit(f"{model._meta.db_table}.{column} is not a field of {model.__name__}: migrate first")
        if field.has_default():
            key = f"default_{column}"
            params[key] = field.get_db_prep_save(field.get_default(), connection)
            values.append(f"%({key})s")
        elif field.null:
            values.append("NULL")
        elif field.blank and field.get_internal_type() in ("CharField", "TextField", "SlugField"):
            values.append("''")
        else:
            raise SystemExit(f"{model._meta.db_table}.{column}: the benchmark does not know what to write there")
    sql = f'INSERT INTO "{model._meta.db_table}" ({", ".join(names)}) SELECT {", ".join(values)} FROM {source}'
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def build_data(args) -> dict:
    from django.db import connection

    from dispatch.models import StageClock
    from events.models import Case

    step = args.cases // args.due
    e1, e2, e3 = args.street, args.street + args.district, args.street + args.district + args.city
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
        cursor.execute("""
            CREATE TEMP TABLE bench_grid AS
            SELECT (row_number() OVER (ORDER BY g.code))::int - 1 AS idx, g.id AS grid_id, g.code AS code,
                   s.id AS street_id, d.id AS district_id,
                   (SELECT min(dep.id) FROM grids_department dep WHERE dep.region_id = s.id) AS department_id
            FROM grids_region g JOIN grids_region c ON g.parent_id = c.id JOIN grids_region s ON c.parent_id = s.id
                 JOIN grids_region d ON s.parent_id = d.id
            WHERE g.level = 'grid'""")
        cursor.execute("""CREATE TEMP TABLE bench_category AS
                          SELECT (row_number() OVER (ORDER BY id))::int - 1 AS idx, id FROM events_category
                          WHERE active""")
        cursor.execute("SELECT count(*) FROM bench_grid")
        grids = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM bench_category")
        categories = cursor.fetchone()[0]
        # One row per case: its kind (what its clock is doing now), state and level.
        cursor.execute("""
            CREATE TEMP TABLE bench_case AS
            SELECT i, kind,
                   CASE WHEN kind = 'paused' THEN 'suspended'
                        ELSE (ARRAY['reported', 'reported', 'accepted', 'accepted', 'dispatched', 'dispatched',
                                    'handling', 'handling', 'handling', 'handling', 'handling', 'handling', 'handling',
                                    'handling', 'handling', 'handling', 'handled', 'handled', 'verified',
                                    'verified'])[(i / 7) %% 20 + 1] END AS state,
                   CASE WHEN kind = 'esc_street' THEN 'street' WHEN kind = 'esc_district' THEN 'district'
                        WHEN kind IN ('red_city', 'red_city_due') THEN 'city'
                        WHEN (i / 3) %% 20 < 17 THEN 'street' WHEN (i / 3) %% 20 < 19 THEN 'district'
                        ELSE 'city' END AS level
            FROM (SELECT i, CASE
                    WHEN i %% %(step)s = 0 THEN CASE WHEN i / %(step)s <= %(e1)s THEN 'esc_street'
                                                    WHEN i / %(step)s <= %(e2)s THEN 'esc_district'
                                                    WHEN i / %(step)s <= %(e3)s THEN 'red_city_due'
                                                    ELSE 'warn' END
                    WHEN i %% 100 < 75 THEN 'green' WHEN i %% 100 < 85 THEN 'yellow'
                    WHEN i %% 100 < 89 THEN 'red_city' WHEN i %% 100 < 92 THEN 'paused' ELSE 'green' END AS kind
                  FROM generate_series(1, %(cases)s) AS i) AS s""",
                       {"step": step, "e1": e1, "e2": e2, "e3": e3, "cases": args.cases})
        cursor.execute("ALTER TABLE bench_case ADD PRIMARY KEY (i)")
    params = {"now": NOW, "grids": grids, "categories": categories}
    started = time.perf_counter()
    cases = insert_select(Case, {
        "number": "'B' || lpad(b.i::text, 12, '0')",
        "state": "b.state",
        "channel": "'patrol'",
        "category_id": "cat.id",
        "urgency": "CASE WHEN b.i %% 10 = 3 THEN 'urgent' ELSE 'normal' END",
        "description": "'bench case ' || b.i",
        "grid_id": "g.grid_id", "street_id": "g.street_id", "district_id": "g.district_id", "region_code": "g.code",
        "level": "b.level",
        "department_id": "CASE WHEN b.state IN ('reported', 'accepted') THEN NULL ELSE g.department_id END",
        "created_at": "%(now)s::timestamptz - interval '2 days'",
        "updated_at": "%(now)s::timestamptz - interval '1 day'",
        "suspended_until": "CASE WHEN b.kind = 'paused' THEN %(now)s::timestamptz + interval '30 days' END",
        "suspensions_count": "CASE WHEN b.kind = 'paused' THEN 1 ELSE 0 END",
    }, "bench_case b JOIN bench_grid g ON g.idx = (b.i::bigint * 7919) %% %(grids)s "
       "JOIN bench_category cat ON cat.idx = b.i %% %(categories)s", params)
    case_seconds = time.perf_counter() - started
    started = time.perf_counter()
    minutes = "* interval '1 minute'"
    clocks = insert_select(StageClock, {
        "case_id": "c.id",
        "stage": """CASE b.state WHEN 'reported' THEN 'accept' WHEN 'accepted' THEN 'dispatch'
                    WHEN 'dispatched' THEN 'sign' WHEN 'handled' THEN 'verify' WHEN 'verified' THEN 'feedback'
                    ELSE 'handle' END""",
        "level": "b.level",
        "started_at": f"""%(now)s::timestamptz - CASE b.kind WHEN 'green' THEN (b.i %% 240) {minutes}
                          WHEN 'warn' THEN interval '200 minutes' WHEN 'red_city' THEN interval '3 days'
                          WHEN 'paused' THEN interval '2 days' ELSE interval '300 minutes' END""",
        "warn_at": f"""%(now)s::timestamptz + CASE b.kind WHEN 'green' THEN (1 + b.i %% 2880) {minutes}
                       WHEN 'yellow' THEN -(1 + b.i %% 60) {minutes} WHEN 'warn' THEN -(1 + b.i %% 30) {minutes}
                       WHEN 'red_city' THEN interval '-2 days' WHEN 'paused' THEN interval '-1 day'
                       ELSE interval '-60 minutes' END""",
        "deadline": f"""%(now)s::timestamptz + CASE b.kind
                        WHEN 'green' THEN (1 + b.i %% 2880 + 30 + b.i %% 600) {minutes}
                        WHEN 'yellow' THEN (1 + b.i %% 1440) {minutes} WHEN 'warn' THEN (10 + b.i %% 300) {minutes}
                        WHEN 'red_city' THEN interval '-1 day' - (b.i %% 600) {minutes}
                        WHEN 'paused' THEN interval '-12 hours' ELSE -(1 + b.i %% 50) {minutes} END""",
        "limit_amount": "4", "limit_unit": "'work_hour'",
        "paused_at": "CASE WHEN b.kind = 'paused' THEN %(now)s::timestamptz - interval '25 hours' END",
        "light": """CASE WHEN b.kind IN ('yellow', 'esc_street', 'esc_district', 'red_city_due') THEN 'yellow'
                    WHEN b.kind = 'red_city' THEN 'red' ELSE 'green' END""",
    }, "bench_case b JOIN events_case c ON c.number = 'B' || lpad(b.i::text, 12, '0')", params)
    clock_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT kind, count(*) FROM bench_case GROUP BY kind ORDER BY kind")
        kinds = dict(cursor.fetchall())
        cursor.execute("DROP TABLE bench_case, bench_grid, bench_category")
    return {"cases": cases, "clocks": clocks, "case_seconds": case_seconds, "clock_seconds": clock_seconds,
            "kinds": kinds, "grids": grids, "categories": categories}


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
        for table in ("events_case", "dispatch_stageclock", "dispatch_outboxmessage", "events_caseevent"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def checkpoint() -> None:
    """Before each timed run: every page's first change afterwards writes a full-page image to the WAL, for all runs
    alike (otherwise a run right after another one's checkpoint pays for it and the next does not)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


class Rollback(Exception):
    pass


def rolled_back(fn):
    """Run ``fn`` in a transaction and roll it back: the data stays as it was for the next run."""
    from django.db import transaction

    box = {}
    try:
        with transaction.atomic():
            started = time.perf_counter()
            box["result"] = fn()
            box["seconds"] = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    return box["result"], box["seconds"]


def explain_sql(sql: str, params) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(f"    {row[0]}" for row in cursor.fetchall())


def explain(queryset) -> str:
    return explain_sql(*queryset.query.sql_with_params())


def old_due_q(now):
    """The due condition of the sweep before this benchmark (one OR over every kind of due row)."""
    from django.db.models import Q

    breach_pending = Q(light="red", escalated_for_breach=False, level__in=("street", "district"))
    return Q(finished_at__isnull=True, paused_at__isnull=True) & (
        Q(warn_at__lte=now, light="green") | (Q(deadline__lte=now) & (~Q(light="red") | breach_pending))
    )


OLD_INDEXES = ("DROP INDEX clock_due_green", "DROP INDEX clock_due_yellow", "DROP INDEX clock_breach_pending",
               "CREATE INDEX bench_old_due_warn ON dispatch_stageclock (finished_at, warn_at)",
               "CREATE INDEX bench_old_due_deadline ON dispatch_stageclock (finished_at, deadline)")


def old_sweep(now, limit):
    """The sweep before this benchmark: one claim of every due row, then row by row, a savepoint each (today's
    ``_advance`` with a batch of one clock, as the sweep's fallback after a failed batch runs it)."""
    from django.db import transaction

    from dispatch import sweep as sweeping
    from dispatch.models import StageClock
    from dispatch.selectors import work_calendar

    calendar = work_calendar()
    result = sweeping.SweepResult()
    with transaction.atomic():
        rows = list(sweeping._locking(StageClock.objects.filter(old_due_q(now)).order_by("deadline", "id"))
                    .values_list(*sweeping._Due._fields)[:limit])
        for row in rows:
            with transaction.atomic():
                sweeping._advance([sweeping._Due(*row)], calendar, now, result, set())
    return result


class ErrorCounter(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record):
        self.count += 1


def main() -> int:
    args = parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="gridloop-sweep-bench-")
    os.environ["GRIDLOOP_VAR_DIR"] = tmp.name
    os.environ["DATABASE_URL"] = f"{args.server}/{args.database}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    started_all = time.perf_counter()
    recreate_database(args.server, args.database)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.db.models import Count

    from dispatch import sweep as sweeping
    from dispatch.models import OutboxMessage, StageClock
    from events.models import CaseEvent
    from events.services import categories_load
    from grids.demo import demo_city_build

    errors = ErrorCounter()
    logging.getLogger("dispatch").addHandler(errors)
    try:
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        migrate_seconds = time.perf_counter() - started
        districts, streets, communities, grids = (int(part) for part in args.city_spec.split(","))
        started = time.perf_counter()
        demo_city_build(districts=districts, streets=streets, communities=communities, grids=grids, seed=1)
        categories_load()  # (grids.demo builds the geography and staff only)
        city_seconds = time.perf_counter() - started
        data = build_data(args)
        started = time.perf_counter()
        vacuum_analyze()
        vacuum_seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            version = cursor.fetchone()[0].split(",")[0]
            cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('events_case')), "
                           "pg_size_pretty(pg_total_relation_size('dispatch_stageclock'))")
            case_size, clock_size = cursor.fetchone()
            cursor.execute("""SELECT indexrelname, pg_size_pretty(pg_relation_size(indexrelid))
                              FROM pg_stat_user_indexes WHERE relname = 'dispatch_stageclock' ORDER BY indexrelname""")
            index_sizes = cursor.fetchall()
        kinds = data["kinds"]
        due = args.due
        warn = kinds.get("warn", 0)
        print(f"{version}; Python {sys.version.split()[0]}; database {args.database}")
        print(f"setup: migrate {migrate_seconds:.1f} s, demo city {city_seconds:.1f} s ({data['grids']} grids, "
              f"{data['categories']} categories), {data['cases']:,} cases in {data['case_seconds']:.1f} s, "
              f"{data['clocks']:,} clocks in {data['clock_seconds']:.1f} s, VACUUM ANALYZE {vacuum_seconds:.1f} s")
        print(f"sizes: events_case {case_size}, dispatch_stageclock {clock_size}; clock indexes: "
              + ", ".join(f"{name} {size}" for name, size in index_sizes))
        print("clocks by kind: " + ", ".join(f"{kind} {count:,}" for kind, count in sorted(kinds.items())))
        print(f"due now: {due:,} = {args.street:,} street breaches + {args.district:,} district breaches + "
              f"{args.city:,} city breaches + {warn:,} turning yellow")

        # --- Query plans of the claim queries (rolled back: EXPLAIN ANALYZE of FOR UPDATE takes the locks) ---------
        batch = args.batch_size or settings.GRIDLOOP_SWEEP_BATCH_SIZE
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the sweep's claim queries (first batch, {batch:,} rows):")

        def plans():
            for index, (condition, order) in enumerate(sweeping._due_claims(NOW)):
                query = sweeping._locking(StageClock.objects.filter(condition).order_by(order, "id"))
                if index == 0:  # red clocks still to escalate: a plain SELECT … FOR UPDATE SKIP LOCKED
                    sql, params = query[:batch].query.sql_with_params()
                    print("  SELECT … WHERE " + sql.split(" WHERE ", 1)[1])
                else:  # clocks turning yellow or red: claimed by the UPDATE that writes their new light
                    sql, params = sweeping.turning_sql(query.values_list("id", "light")[:batch], NOW)
                    print("  UPDATE … SET light = CASE … FROM (SELECT … WHERE "
                          + sql.split(" WHERE ", 1)[1].split(") AS due", 1)[0] + ") AS due …")
                print(explain_sql(sql, params))

        rolled_back(plans)

        # --- 1. the new sweep, rolled back ------------------------------------------------------------------------
        checkpoint()
        result, warm_seconds = rolled_back(lambda: sweeping.sweep(now=NOW, batch_size=args.batch_size))
        print(f"\n1. sweep() one pass, rolled back: {warm_seconds:.3f} s  {result}")

        # --- 2. baseline: the old row-by-row sweep on the old indexes, rolled back --------------------------------
        def baseline():
            with connection.cursor() as cursor:
                for statement in OLD_INDEXES:
                    cursor.execute(statement)
                cursor.execute("ANALYZE dispatch_stageclock")
            query = sweeping._locking(StageClock.objects.filter(old_due_q(NOW)).order_by("deadline", "id"))[:due]
            started = time.perf_counter()
            claimed = len(list(query))
            claim_seconds = time.perf_counter() - started
            sql, _params = query.query.sql_with_params()
            print("\nbaseline claim query (the old indexes bench_old_due_warn, bench_old_due_deadline instead of the "
                  "partial ones):\n  "
                  + sql.split(" WHERE ", 1)[1])
            print(explain(query))
            started = time.perf_counter()
            old = old_sweep(NOW, due)
            return claimed, claim_seconds, old, time.perf_counter() - started

        checkpoint()
        (claimed, old_claim_seconds, old_result, old_seconds), _ = rolled_back(baseline)
        print(f"2. baseline: old claim alone (SELECT … FOR UPDATE SKIP LOCKED, {claimed:,} rows) "
              f"{old_claim_seconds:.3f} s; old row-by-row sweep {old_seconds:.3f} s  {old_result}")

        def new_claim():
            return len(sweeping._claim(NOW, due, set())[0])

        new_claimed, new_claim_seconds = rolled_back(new_claim)
        print(f"   new claim alone (3 partial-index queries, {new_claimed:,} rows): {new_claim_seconds:.3f} s")

        # --- 3. the new sweep, for real ---------------------------------------------------------------------------
        events_before = CaseEvent.objects.count()
        checkpoint()
        load = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        result = sweeping.sweep(now=NOW, batch_size=args.batch_size)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"\n3. sweep() one pass, committed: {seconds:.3f} s (this process's CPU {cpu:.3f} s; load average "
              f"{load:.2f} before, {os.getloadavg()[0]:.2f} after)  {result}")
        print(f"   speed-up over the old row-by-row sweep: {old_seconds / seconds:.1f}x "
              f"(rolled-back run: {old_seconds / warm_seconds:.1f}x)")
        print(f"   target <= {TARGET_SECONDS} s: {'met' if seconds <= TARGET_SECONDS else 'NOT met'}")

        # --- checks -----------------------------------------------------------------------------------------------
        with transaction.atomic():
            left = StageClock.objects.filter(sweeping._due_q(NOW)).count()
        outbox = dict(OutboxMessage.objects.values_list("kind").annotate(n=Count("id")))
        events = CaseEvent.objects.count() - events_before
        expected = sweeping.SweepResult(warned=warn, overdue=args.street + args.district + args.city,
                                      escalated=args.street + args.district)
        checks = {
            "no due clock left": left == 0,
            "counts as the data says": result == expected and old_result == expected,
            "one escalate event per escalation": events == expected.escalated,
            "no sweep errors logged": errors.count == 0,
        }
        print(f"   outbox rows written: {outbox}; case events appended: {events:,}; due clocks left: {left}")
        for name, ok in checks.items():
            print(f"check: {name}: {'ok' if ok else 'FAILED'}")
        print(f"\nwhole run {time.perf_counter() - started_all:.1f} s; peak RSS {peak_rss_mb():.0f} MB")
        return 0 if all(checks.values()) else 1
    finally:
        connection.close()
        if not args.keep:
            drop_database(args.server, args.database)


if __name__ == "__main__":
    sys.exit(main())
