"""Cockpit benchmark (issue 18): the cockpit's first screen, the lists behind its numbers, and a 督办 to 50 cases, at N
cases — plus one piece of the 150M plan (docs/scaling.md): DailyFact partitioned by month against today's table.

    /usr/bin/time -v .venv/bin/python bench/cockpit_bench.py [--cases 10000000] [--repeats 20] [--partition]

In one run, on PostgreSQL, in its own database ``gridloop_cockpitbench`` (dropped and made afresh):

1. the demo city scaled to 40,000 unit grids and the rollups (DailyFact, SummaryFact) of N cases over 2025, built by
   bench/evaluation_bench.py's ``generate`` (imported, not copied);
2. what the rollups alone do not hold, from the same hash streams (so case i is the same case in both): N case rows,
   their CaseFact rows and FactItem rows (one intake item and one closure item each, the counters of the rollups), and
   one handle-stage clock per dispatched case (on time, late, or still open for the 3 % never closed) — generated in
   SQL month by month, indexes built afterwards;
3. timings, p50 and p95 after two warm-ups, for the district supervisor of d01 (a tenth of the city): every panel of
   the first screen (``web.cockpit.cockpit_panels``) for a month (2025-06) and a year (2025), in process and through
   the page (Django test client, template included); the lists behind its numbers (the cockpit's drill-down pages:
   a counter for a month and a year, the department's overdue work, the overdue work of the period); a 督办 to 50
   selected cases through the page (each case through ``case_act``); as baseline from the same run, the single
   district indicator table of issue 6 (``indicator_table``), the first screen's smallest part;
4. with ``--partition``: a copy of DailyFact partitioned by month (declarative partitioning, the same indexes per
   partition) against the table as it is, for the query that reads DailyFact (a community's month and year).
"""

import argparse
import os
import re
import resource
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import evaluation_bench as eb  # noqa: E402  (the 10M rollups' builder, reused)

DB_NAME = "gridloop_cockpitbench"
SH = ZoneInfo("Asia/Shanghai")


def _literal(field) -> str:
    """A field's default as an SQL literal (for the case columns the benchmark does not set)."""
    if field.null and not field.has_default():
        return "NULL"
    value = field.get_default()
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | dict):
        return "'" + str(value).replace("'", '"') + "'::jsonb"
    return "'" + str(value).replace("'", "''") + "'"


def _columns(model, explicit: dict) -> tuple[str, str]:
    names, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.column not in explicit:
            continue  # an identity column: its sequence numbers the rows
        names.append(field.column)
        values.append(explicit.get(field.column) or _literal(field))
    missing = set(explicit) - set(names)
    assert not missing, f"unknown columns {missing}"
    return ", ".join(f'"{n}"' for n in names), ", ".join(values)


def _drop_indexes(cur, table: str) -> list[str]:
    cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE '%%pkey'",
                [table])
    found = cur.fetchall()
    cur.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'u'", [table])
    unique = {row[0] for row in cur.fetchall()}
    definitions = []
    for name, definition in found:
        if name in unique:
            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        else:
            cur.execute(f'DROP INDEX "{name}"')
        definitions.append(definition)
    return definitions


def drill_tables(cases: int) -> dict:
    """Case, CaseFact, FactItem and StageClock rows of the N cases (the same streams as the rollups)."""
    from django.db import connection

    from dispatch.models import StageClock
    from dispatch.models.evaluation import COUNTERS, CaseFact
    from events.models import Case

    columns = list(COUNTERS)
    intake, closure = (part.replace("%", "%%") for part in eb.counter_exprs(columns))
    cte = eb.COUNTER_SQL.split("INSERT INTO bench_items")[0]
    assert "g.worker," in cte
    cte = cte.replace("g.worker,", "g.worker, g.grid_id, g.street_id, g.district_id,")
    created = ("((day + time '08:00' + (i %% 600) * interval '1 minute') AT TIME ZONE 'Asia/Shanghai')")
    state = ("CASE WHEN NOT valid THEN 'rejected' WHEN voided THEN 'cancelled' WHEN closed THEN 'closed' "
             "ELSE 'handling' END")
    case_sql = _columns(Case, {
        "id": "i + 1", "number": "'C' || lpad(i::text, 12, '0')", "state": state, "channel": "channel",
        "category_id": "cat", "description": "'bench'", "grid_id": "grid_id", "street_id": "street_id",
        "district_id": "district_id", "region_code": "rc", "level": "'street'",
        "department_id": "CASE WHEN valid AND NOT selfh THEN dept END",
        "close_reason": "CASE WHEN NOT valid THEN 'rejected' WHEN voided THEN 'cancelled' WHEN closed AND selfh "
                        "THEN 'self_handled' WHEN closed THEN 'resolved' ELSE '' END",
        "self_handled": "selfh", "reporter_id": "CASE WHEN channel = 'patrol' AND worker > 0 THEN worker END",
        "escalations_count": "(h2 %% 100 < 2)::int", "reworks_count": "rework::int",
        "created_at": created, "updated_at": created,
        "closed_at": f"CASE WHEN valid AND NOT voided AND closed THEN {created} + secs * interval '1 second' END",
    })
    fact_sql = _columns(CaseFact, {
        "case_id": "i + 1", "seq": "1", "region_code": "rc", "category": "cat", "channel": "channel",
        "reported_at": created, "computed_at": created,
        "resolved_at": f"CASE WHEN valid AND NOT voided AND closed THEN {created} + secs * interval '1 second' END",
    })
    item_columns = ", ".join(columns)
    clock_sql = _columns(StageClock, {
        "case_id": "i + 1", "stage": "'handle'", "level": "'street'", "started_at": created,
        "deadline": f"{created} + interval '4 hours'", "warn_at": f"{created} + interval '3 hours 12 minutes'",
        "limit_amount": "4", "limit_unit": "'work_hour'",
        "light": "CASE WHEN closed AND on_time THEN 'green' ELSE 'red' END",
        "finished_at": f"CASE WHEN closed THEN {created} + (CASE WHEN on_time THEN 2 ELSE 30 END) * interval '1 hour' "
                       "END",
        "on_time": "CASE WHEN closed THEN on_time END",
    })
    figures = {"cases_s": 0.0, "facts_s": 0.0, "items_s": 0.0, "clocks_s": 0.0}
    with connection.cursor() as cur:
        cur.execute("SET work_mem = '512MB'; SET maintenance_work_mem = '1GB'; SET synchronous_commit = off; "
                    "SET session_replication_role = replica")  # no FK triggers while loading
        cur.execute("""
            CREATE UNLOGGED TABLE bench_grid AS
              SELECT (row_number() OVER (ORDER BY r.code) - 1)::int AS i, r.code, r.id AS grid_id,
                     c.parent_id AS street_id, s.parent_id AS district_id,
                     coalesce((SELECT min(a.user_id) FROM grids_roleassignment a
                               WHERE a.region_id = r.id AND a.role = 'grid_worker'), 0)::int AS worker
              FROM grids_region r JOIN grids_region c ON c.id = r.parent_id JOIN grids_region s ON s.id = c.parent_id
              WHERE r.level = 'grid';
            CREATE UNIQUE INDEX ON bench_grid (i);
            CREATE UNLOGGED TABLE bench_street AS
              SELECT s.code AS street,
                     (SELECT array_agg(d.id ORDER BY d.code) FROM grids_department d JOIN grids_region r
                        ON r.id = d.region_id WHERE r.code IN (s.code, substr(s.code, 1, 6), substr(s.code, 1, 4) || '00')
                     ) AS depts
              FROM grids_region s WHERE s.level = 'street';
            CREATE UNLOGGED TABLE bench_cats AS SELECT array_agg(id ORDER BY code) AS ids FROM events_category;
        """)
        cur.execute("SELECT array_length(ids, 1) FROM bench_cats")
        ncat = cur.fetchone()[0]
        saved = {}
        for table in ("events_case", "dispatch_casefact", "dispatch_factitem", "dispatch_stageclock"):
            saved[table] = _drop_indexes(cur, table)  # (they reference logged tables: they stay logged)
        bounds, day = [], 0
        for month in range(1, 13):
            days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
            first = -(-day * cases // 365)
            day += days
            bounds.append((month, first, min(-(-day * cases // 365) - 1, cases - 1)))
        for month, first, last in bounds:
            params = {"first": first, "last": last, "ncat": ncat, "total": cases}
            steps = [
                ("cases_s", f"INSERT INTO events_case ({case_sql[0]}) SELECT {case_sql[1]} FROM c"),
                ("facts_s", f"INSERT INTO dispatch_casefact ({fact_sql[0]}) SELECT {fact_sql[1]} FROM c"),
                ("items_s", f"INSERT INTO dispatch_factitem (case_id, day, department, person, {item_columns}) "
                            f"SELECT i + 1, day, CASE WHEN valid AND NOT selfh THEN dept ELSE 0 END, "
                            f"CASE WHEN channel = 'patrol' THEN worker ELSE 0 END, {intake} FROM c "
                            f"UNION ALL SELECT i + 1, least(day + lag, (date_trunc('month', day) + interval "
                            f"'1 month - 1 day')::date), CASE WHEN selfh THEN 0 ELSE dept END, 0, {closure} "
                            f"FROM c WHERE valid AND NOT voided AND closed"),
                ("clocks_s", f"INSERT INTO dispatch_stageclock ({clock_sql[0]}) SELECT {clock_sql[1]} FROM c "
                             f"WHERE valid AND NOT voided AND NOT selfh"),
            ]
            for name, sql in steps:
                t0 = time.perf_counter()
                cur.execute((cte + sql) % params)
                figures[name] += time.perf_counter() - t0
            eb.say(f"  2025-{month:02d}: case rows, facts, items and clocks of cases {first:,}–{last:,}")
        t0 = time.perf_counter()
        for definitions in saved.values():
            for definition in definitions:
                cur.execute(definition)
        cur.execute("SELECT setval(pg_get_serial_sequence('events_case', 'id'), %s)", [cases + 1])
        for table in ("dispatch_factitem", "dispatch_stageclock"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        figures["index_s"] = time.perf_counter() - t0
        cur.execute("SET session_replication_role = origin")
        cur.execute("DROP TABLE bench_grid, bench_street, bench_cats")
        for table in ("events_case", "dispatch_casefact", "dispatch_factitem", "dispatch_stageclock"):
            cur.execute(f"VACUUM ANALYZE {table}")
            cur.execute(f"SELECT count(*), pg_size_pretty(pg_total_relation_size('{table}')) FROM {table}")
            figures[table] = cur.fetchone()
    return figures


def _report(label: str, runs: list[float]) -> None:
    eb.say(f"  {label:58s} p50 {eb.percentile(runs, 50):8.1f} ms  p95 {eb.percentile(runs, 95):8.1f} ms  "
           f"max {max(runs):8.1f} ms  ({len(runs)})")


class Results(dict):
    """Timings by label, each printed as it is measured (a run cut short still leaves its figures)."""

    def __setitem__(self, label, runs):
        super().__setitem__(label, runs)
        _report(label, runs)


def partition_compare(repeats: int) -> dict:
    """DailyFact copied into a table partitioned by month (same unique key and index per partition); the query that
    reads DailyFact (a community's indicator table) timed on both."""
    from django.db import connection

    from dispatch.evaluation.selectors import MetricsScope, Period, indicator_table
    from grids.models import Level, Region

    out = {}
    with connection.cursor() as cur:
        t0 = time.perf_counter()
        cur.execute("SET maintenance_work_mem = '1GB'; SET synchronous_commit = off")
        cur.execute("CREATE TABLE bench_dailyfact_part (LIKE dispatch_dailyfact INCLUDING DEFAULTS) "
                    "PARTITION BY RANGE (day)")
        for month in range(1, 13):
            first = date(2025, month, 1)
            following = date(2025 + month // 12, month % 12 + 1, 1)
            cur.execute(f"CREATE TABLE bench_dailyfact_2025_{month:02d} PARTITION OF bench_dailyfact_part "
                        f"FOR VALUES FROM ('{first}') TO ('{following}')")
        cur.execute("INSERT INTO bench_dailyfact_part SELECT * FROM dispatch_dailyfact")
        cur.execute("ALTER TABLE bench_dailyfact_part ADD CONSTRAINT bench_part_key "
                    "UNIQUE (day, region_code, department, category, channel)")
        cur.execute("CREATE INDEX ON bench_dailyfact_part (department, day)")
        cur.execute("ANALYZE bench_dailyfact_part")
        out["build_s"] = time.perf_counter() - t0
    community = Region.objects.filter(level=Level.COMMUNITY).order_by("code").first()
    scope = MetricsScope(prefixes=[community.code], region=community)
    month, year = Period(date(2025, 6, 1), date(2025, 6, 30)), Period(date(2025, 1, 1), date(2025, 12, 31))

    def swap(cur):  # the ORM reads whichever table is called dispatch_dailyfact
        cur.execute("ALTER TABLE dispatch_dailyfact RENAME TO bench_swap; "
                    "ALTER TABLE bench_dailyfact_part RENAME TO dispatch_dailyfact; "
                    "ALTER TABLE bench_swap RENAME TO bench_dailyfact_part")

    for label, period in (("month", month), ("year", year)):
        plain = indicator_table(user=None, group_by="grid", period=period, scope=scope).total["counters"]
        name = f"DailyFact (today), community {label}"
        out[name] = eb.timed(
            lambda period=period: indicator_table(user=None, group_by="grid", period=period, scope=scope), repeats)
        _report(name, out[name])
        with connection.cursor() as cur:
            swap(cur)
        try:
            parted = indicator_table(user=None, group_by="grid", period=period, scope=scope).total["counters"]
            assert parted == plain, "the partitioned copy disagrees"
            name = f"DailyFact partitioned by month, community {label}"
            out[name] = eb.timed(
                lambda period=period: indicator_table(user=None, group_by="grid", period=period, scope=scope),
                repeats)
            _report(name, out[name])
        finally:
            with connection.cursor() as cur:
                swap(cur)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--orders", type=int, default=5, help="how many times a 督办 to 50 cases is timed")
    parser.add_argument("--partition", action="store_true", help="also time DailyFact partitioned by month")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="measure again on the database a --keep run left (no generation; implies --keep)")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["GRIDLOOP_VAR_DIR"] = str(ROOT / "var" / "cockpitbench")
    os.environ["LOG_LEVEL"] = "WARNING"
    if not args.reuse:
        eb.psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
        eb.psql(f"CREATE DATABASE {DB_NAME}")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    started_all = time.perf_counter()
    gen, drill, city_s = {}, {}, 0.0
    if not args.reuse:
        call_command("migrate", verbosity=0)
        from grids.demo import demo_city_build

        t0 = time.perf_counter()
        demo_city_build(districts=10, streets=10, communities=10, grids=40, seed=1)
        city_s = time.perf_counter() - t0
        eb.say(f"demo city (40,000 grids) in {city_s:.0f} s")
        gen = eb.generate(args.cases)
        eb.say(f"rollups of {args.cases:,} cases generated")
        drill = drill_tables(args.cases)
        eb.say("case rows, facts, items and clocks generated")

    from dispatch.evaluation.selectors import Period as P
    from dispatch.evaluation.selectors import indicator_table, metrics_scope
    from dispatch.models import SupervisionOrder
    from events.models import Case
    from grids.models import Region, User
    from web.cockpit import cockpit_panels

    supervisor = User.objects.get(username="d01_supervisor")
    district = Region.objects.get(code=supervisor.roles.get().region.code)
    scope = metrics_scope(supervisor, region=district.code)
    month, year = P(date(2025, 6, 1), date(2025, 6, 30)), P(date(2025, 1, 1), date(2025, 12, 31))
    client = Client()
    client.force_login(supervisor)
    results, checks = Results(), {}
    for label, period in (("month", month), ("year", year)):
        panels = cockpit_panels(user=supervisor, region=district, scope=scope, period=period)
        checks[label] = {k.code: k.value for k in panels["kpis"]}
        checks[label]["overdue_now"] = panels["overdue"]["count"]
        results[f"first screen, {label} (cockpit_panels, in process)"] = eb.timed(
            lambda period=period: cockpit_panels(user=supervisor, region=district, scope=scope, period=period),
            args.repeats)
        url = f"/cockpit/?region={district.code}&from={period.first}&to={period.last}"
        assert client.get(url).status_code == 200
        results[f"first screen, {label} (the page, template included)"] = eb.timed(lambda url=url: client.get(url),
                                                                                   args.repeats)
        results[f"baseline: district indicator table alone, {label}"] = eb.timed(
            lambda period=period: indicator_table(user=supervisor, group_by="street", period=period, scope=scope),
            args.repeats)
    department = panels["leagues"]["departments"].entries[0]["key"]
    lists = {
        "list: 立案数 behind a number, month": "counter=accepted&from=2025-06-01&to=2025-06-30",
        "list: 结案 late (超期结案), year": "counter=due_closed_late&from=2025-01-01&to=2025-12-31",
        "list: a department's overdue work now": f"list=overdue_now&department={department}",
        "list: overdue in the period, month": "list=overdue&from=2025-06-01&to=2025-06-30",
        "list: a street's 上报数, month, page 3": f"counter=reported&from=2025-06-01&to=2025-06-30"
                                                  f"&region={district.code}001&page=3",
    }
    for label, query in lists.items():
        url = f"/cockpit/cases/?region={district.code}&{query}" if "region=" not in query else \
            f"/cockpit/cases/?{query}"
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        counted = re.search(r'class="cases-count">([\d,]+)', response.content.decode())
        checks[label] = counted[1] if counted else "?"
        results[label] = eb.timed(lambda url=url: client.get(url), args.repeats)
    eb.say(f"screens and lists timed; checks so far: {checks}")

    # 督办 to 50 selected cases through the page, each through case_act: --orders times, 50 new cases each time
    open_cases = list(Case.objects.filter(region_code__startswith=district.code, state="handling")
                      .order_by("id").values_list("number", flat=True)[:50 * args.orders])
    assert len(open_cases) == 50 * args.orders, "not enough open cases"
    due = (datetime.now(SH) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    order_runs = []
    orders_before = SupervisionOrder.objects.count()
    for run in range(args.orders):
        numbers = open_cases[run * 50:(run + 1) * 50]
        started = time.perf_counter()
        response = client.post("/cockpit/act/", {"cases": numbers, "action": "supervise", "type": "overdue",
                                                 "reply_due": due, "note": "限期处置并回复", "back": "/cockpit/"})
        order_runs.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 302
    checks["orders made"] = SupervisionOrder.objects.count() - orders_before
    assert checks["orders made"] == 50 * args.orders
    results["督办 to 50 selected cases (the page; 50 × case_act)"] = order_runs
    eb.say("督办 timed")
    part = partition_compare(max(5, args.repeats // 2)) if args.partition else {}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"\nCockpit benchmark: {args.cases:,} cases over 2025, demo city with 40,000 unit grids, PostgreSQL "
          f"{connection.pg_version // 10000}; the district supervisor of {district.name} ({district.code})")
    if gen:
        print(f"  demo city {city_s:.0f} s; rollups: items {gen['items_s']:.0f} s, DailyFact {gen['daily_s']:.0f} s, "
              f"SummaryFact {gen['summary_s']:.0f} s, indexes {gen['index_s']:.0f} s, logged {gen['logged_s']:.0f} s")
        print(f"  case rows {drill['cases_s']:.0f} s, CaseFact {drill['facts_s']:.0f} s, FactItem {drill['items_s']:.0f} s, "
              f"clocks {drill['clocks_s']:.0f} s, indexes {drill['index_s']:.0f} s")
        for table in ("dispatch_dailyfact", "dispatch_summaryfact"):
            print(f"  {table:22s} rows {gen[table][0]:>12,}  size {gen[table][1]}")
        for table in ("events_case", "dispatch_casefact", "dispatch_factitem", "dispatch_stageclock"):
            print(f"  {table:22s} rows {drill[table][0]:>12,}  size {drill[table][1]}")
    print(f"  checks: {checks}")
    print(f"\n  {'measure':58s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}   (n)")
    for label, runs in {**results, **{k: v for k, v in part.items() if k != 'build_s'}}.items():
        print(f"  {label:58s} {eb.percentile(runs, 50):8.1f} {eb.percentile(runs, 95):8.1f} {max(runs):8.1f}   "
              f"({len(runs)})")
    if part:
        print(f"  (partitioned copy of DailyFact built in {part['build_s']:.0f} s)")
    print(f"\n  peak RSS (getrusage): {peak:.0f} MB; total {time.perf_counter() - started_all:.0f} s")
    if not (args.keep or args.reuse):
        connection.close()
        eb.psql(f"DROP DATABASE IF EXISTS {DB_NAME}")


if __name__ == "__main__":
    main()
