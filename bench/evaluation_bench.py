"""Evaluation benchmark (issue 6): cockpit queries over the rollups of N cases, and the rollup upkeep per transition.

    /usr/bin/time -v .venv/bin/python bench/evaluation_bench.py [--cases 10000000] [--repeats 30] [--lifecycles 300]

In one run, on PostgreSQL, in its own database ``gridloop_evalbench`` (dropped and made afresh):

1. the demo city scaled to 40,000 unit grids (10 districts × 10 streets × 10 communities × 40 grids, seed 1);
2. the rollups of N closed and open cases over the year 2025, generated in SQL (``generate_series``): every case
   contributes an intake item on its report day (上报, 立案, 派遣, 处置 cohort) and a closure item 0–3 days later
   (结案, 办理时长, 回访, 核查), with realistic shares (95 % valid, 3 % returned, 97 % closed, 90 % on time …), spread
   uniformly over the grids, 17 departments per street (street, district and city ones), 81 categories and 6
   channels; summed into ``DailyFact`` and ``SummaryFact`` exactly as the sweep would (day and month grain, nine
   dimensions), plus a sample of 100,000 case rows (bulk insert) so the case table is not empty;
3. timings, each repeated ``--repeats`` times after a warm-up, p50 and p95: the department league table
   (``scores.ranking_compute``: rollup query + composite + ranks) and the district indicator table
   (``selectors.indicator_table``), for a month (2025-06) and a year (2025), from ``SummaryFact``; as baseline the
   same district table from the finest rollup (``DailyFact``, day × grid × department × category × channel); and
   the two through the HTTP API (Django test client, DRF included);
4. rollup upkeep: ``--lifecycles`` cases run through the real services (report with auto-accept, dispatch, sign,
   complete, verify, close = 7 events each), each call timed (the baseline: the transition itself), then the sweep
   (``rollups_advance``) counts them into the big tables: its time per event is the upkeep per transition. The sweep
   runs after commit, outside the transition; ``rebuild_rollups --check``-style comparison of the new cases'
   rollups against the direct count is not done here (see tests/dispatch/evaluation).
"""

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_NAME = "gridloop_evalbench"


def psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-qc", sql], check=True,
                   capture_output=True, text=True)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def timed(fn, repeats):
    fn()  # warm-up
    fn()
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return runs


def say(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Synthetic rollups --------------------------------------------------------------------------------------------------
COUNTER_SQL = """
-- one intake item and one closure item per virtual case i (hash streams h1 … h9 in 0..9999)
WITH v AS (
  SELECT i,
         DATE '2025-01-01' + (i::bigint * 365 / %(total)s)::int AS day,
         abs(hashint4(i)) %% 40000 AS gi,
         abs(hashint4(i + 1000000007)) %% 17 + 1 AS di,
         abs(hashint4(i + 2000000011)) %% %(ncat)s + 1 AS ci,
         abs(hashint4(i + 300000007)) %% 10 + 1 AS chi,
         abs(hashint4(i + 400000009)) %% 10000 AS h1,
         abs(hashint4(i + 500000003)) %% 10000 AS h2,
         abs(hashint4(i + 600000001)) %% 10000 AS h3,
         abs(hashint4(i + 700000001)) %% 10000 AS h4,
         abs(hashint4(i + 800000011)) %% 4 AS lag,
         3600 + abs(hashint4(i + 900000007)) %% (200 * 3600) AS secs
  FROM generate_series(%(first)s, %(last)s) AS i
), c AS (
  SELECT v.*, g.code AS rc, s.depts[v.di] AS dept, cats.ids[v.ci] AS cat,
         (ARRAY['patrol','patrol','patrol','patrol','patrol','hotline','hotline','hotline','wechat','web'])[v.chi]
           AS channel, g.worker,
         (h1 < 9500) AS valid, (h2 < 100) AS voided, (h2 < 9700) AS closed, (h3 < 9000) AS on_time,
         (h3 %% 100 < 3) AS returned, (h4 < 500) AS selfh, (h4 %% 100 < 2) AS rework
  FROM v JOIN bench_grid g ON g.i = v.gi JOIN bench_street s ON s.street = substr(g.code, 1, 9)
  CROSS JOIN bench_cats cats
)
INSERT INTO bench_items (day, region_code, department, category, channel, person, %(columns)s)
SELECT day, rc, CASE WHEN valid AND NOT selfh THEN dept ELSE 0 END, cat, channel,
       CASE WHEN channel = 'patrol' THEN worker ELSE 0 END,
       %(intake)s
FROM c
UNION ALL
SELECT least(day + lag, (date_trunc('month', day) + interval '1 month - 1 day')::date), rc,
       CASE WHEN selfh THEN 0 ELSE dept END, cat, channel, 0,
       %(closure)s
FROM c WHERE valid AND NOT voided AND closed
"""


def counter_exprs(columns):
    def pick(values):
        return ", ".join(f"({values.get(c, '0')})::int" if c != "duration_seconds" else
                         f"({values.get(c, '0')})::bigint" for c in columns)

    public = "channel IN ('hotline','wechat','web','open311')"
    due = "(valid AND NOT voided)"
    assigned = "(valid AND NOT voided AND NOT selfh)"
    intake = {
        "reported": "1", "valid": "valid::int", "valid_public": f"(valid AND {public})::int",
        "accepted": "valid::int", "accepted_on_time": "(valid AND h1 < 9300)::int",
        "accepted_accurate": f"{due}::int", "voided": "(valid AND voided)::int",
        "due": f"{due}::int", "due_closed": f"({due} AND closed)::int",
        "due_closed_on_time": f"({due} AND closed AND on_time)::int",
        "due_closed_late": f"({due} AND closed AND NOT on_time)::int",
        "first_time": f"({due} AND closed AND NOT returned AND NOT rework)::int",
        "dispatched": "(valid AND NOT selfh)::int + (valid AND NOT selfh AND returned)::int",
        "dispatched_on_time": "(valid AND NOT selfh AND h4 < 9600)::int",
        "dispatched_accurate": "(valid AND NOT selfh)::int", "dispatch_returned": "(valid AND NOT selfh AND returned)::int",
        "handle_due": f"{assigned}::int", "handle_done": f"({assigned} AND closed)::int",
        "handle_on_time": f"({assigned} AND closed AND on_time)::int", "reworks": f"({assigned} AND rework)::int",
        "extensions": f"({assigned} AND h4 % 100 = 50)::int", "escalated": "(h2 % 100 < 2)::int",
    }
    bounds = [1, 2, 4, 8, 24, 48, 72, 120, 168, 336, 720]
    closure = {
        "handled": "(NOT selfh)::int", "closed": "1", "closed_self_handled": "selfh::int",
        "duration_count": "(NOT selfh)::int", "duration_seconds": "CASE WHEN selfh THEN 0 ELSE secs END",
        "resolved_located": "1", "recurred": "(h1 % 100 < 3)::int", "checks": "(NOT selfh)::int",
        "checks_on_time": "(NOT selfh AND h3 % 10 > 0)::int",
        "rated": f"({public} AND h1 % 10 < 6)::int", "satisfied": f"({public} AND h1 % 10 < 6 AND h2 % 20 > 0)::int",
    }
    for index in range(12):
        low = 0 if index == 0 else bounds[index - 1] * 3600
        high = bounds[index] * 3600 if index < 11 else 10 ** 12
        closure[f"d{index:02d}"] = f"(NOT selfh AND secs > {low} AND secs <= {high})::int"
    return pick(intake), pick(closure)


def generate(cases: int) -> dict:
    """Month by month (so every aggregation fits in memory): the items of the month's cases, their DailyFact rows,
    and the SummaryFact day and month rows of every dimension."""
    from django.db import connection

    from dispatch.models.evaluation import COUNTERS

    columns = list(COUNTERS)
    cols = ", ".join(columns)
    sums = ", ".join(f"sum({c})" for c in columns)
    # sum(int) is bigint and sum(bigint) is numeric (slow): keep the staging columns int (bigint for seconds)
    typed_sums = ", ".join(f"sum({c})::{'bigint' if c == 'duration_seconds' else 'int'} AS {c}" for c in columns)
    intake, closure = counter_exprs(columns)
    figures = {"items": 0, "items_s": 0.0, "daily_s": 0.0, "summary_s": 0.0}
    plan = [  # dim, source, day column, key, scope — each from the smallest table that has it
        ("grid", "bench_daily", "day", "region_code", "substr(region_code, 1, 9)"),
        ("community", "bench_d_grid", "period", "substr(key, 1, 12)", "scope"),
        ("street", "bench_d_community", "period", "substr(key, 1, 9)", "scope"),
        ("district", "bench_d_street", "period", "substr(key, 1, 6)", "scope"),
        ("city", "bench_d_district", "period", "substr(key, 1, 4) || '00'", "scope"),
        ("department", "bench_daily", "day", "CASE WHEN department = 0 THEN '' ELSE department::text END",
         "substr(region_code, 1, 9)"),
        ("category", "bench_daily", "day", "CASE WHEN category = 0 THEN '' ELSE category::text END",
         "substr(region_code, 1, 9)"),
        ("channel", "bench_daily", "day", "channel", "substr(region_code, 1, 9)"),
        ("person", "bench_items", "day", "CASE WHEN person = 0 THEN '' ELSE person::text END",
         "substr(region_code, 1, 9)"),
    ]
    with connection.cursor() as cur:
        cur.execute("SET work_mem = '1GB'; SET maintenance_work_mem = '1GB'; SET synchronous_commit = off")
        cur.execute("""
            CREATE UNLOGGED TABLE bench_grid AS
              SELECT (row_number() OVER (ORDER BY r.code) - 1)::int AS i, r.code,
                     coalesce((SELECT min(a.user_id) FROM grids_roleassignment a
                               WHERE a.region_id = r.id AND a.role = 'grid_worker'), 0)::int AS worker
              FROM grids_region r WHERE r.level = 'grid';
            CREATE UNIQUE INDEX ON bench_grid (i);
            CREATE UNLOGGED TABLE bench_street AS
              SELECT s.code AS street,
                     (SELECT array_agg(d.id ORDER BY d.code) FROM grids_department d JOIN grids_region r
                        ON r.id = d.region_id WHERE r.code IN (s.code, substr(s.code, 1, 6), substr(s.code, 1, 4) || '00')
                     ) AS depts
              FROM grids_region s WHERE s.level = 'street';
            CREATE UNLOGGED TABLE bench_cats AS SELECT array_agg(id ORDER BY code) AS ids FROM events_category;
        """)
        cur.execute("SELECT min(array_length(depts, 1)) FROM bench_street")
        assert cur.fetchone()[0] >= 17, "each street needs 17 departments (street, district and city)"
        cur.execute("SELECT array_length(ids, 1) FROM bench_cats")
        ncat = cur.fetchone()[0]
        cur.execute("CREATE UNLOGGED TABLE bench_items (day date, region_code varchar(15), department int, "
                    "category int, channel varchar(10), person int, "
                    + ", ".join(f"{c} {'bigint' if c == 'duration_seconds' else 'int'}" for c in columns) + ")")
        cur.execute("ALTER TABLE dispatch_dailyfact DROP CONSTRAINT dailyfact_key")
        cur.execute("ALTER TABLE dispatch_summaryfact DROP CONSTRAINT summaryfact_key")
        # bulk load without WAL (max_wal_size 1 GB would checkpoint every few seconds); logged again below
        cur.execute("ALTER TABLE dispatch_dailyfact SET UNLOGGED")
        cur.execute("ALTER TABLE dispatch_summaryfact SET UNLOGGED")
        # the cases of day d are i with floor(i * 365 / N) = d: month m holds the days of that month
        bounds, day = [], 0
        for month in range(1, 13):
            days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
            first = -(-day * cases // 365)  # ceil
            day += days
            last = -(-day * cases // 365) - 1
            bounds.append((month, first, min(last, cases - 1)))
        for month, first, last in bounds:
            t0 = time.perf_counter()
            cur.execute("TRUNCATE bench_items")
            cur.execute(COUNTER_SQL % {"first": first, "last": last, "ncat": ncat, "total": cases,
                                       "columns": cols, "intake": intake, "closure": closure})
            cur.execute("SELECT count(*) FROM bench_items")
            figures["items"] += cur.fetchone()[0]
            t1 = time.perf_counter()
            cur.execute(f"CREATE UNLOGGED TABLE bench_daily AS SELECT day, region_code, department, category, "
                        f"channel, {typed_sums} FROM bench_items "
                        "GROUP BY 1, 2, 3, 4, 5")
            cur.execute(f"INSERT INTO dispatch_dailyfact (day, region_code, department, category, channel, {cols}) "
                        f"SELECT day, region_code, department, category, channel, {cols} FROM bench_daily")
            t2 = time.perf_counter()
            for dim, source, day_column, key, scope in plan:
                cur.execute(f"CREATE UNLOGGED TABLE bench_d_{dim} AS SELECT {day_column} AS period, {key} AS key, "
                            f"{scope} AS scope, {typed_sums}"
                            + f" FROM {source} GROUP BY 1, 2, 3")
                for grain, period in (("d", "period"), ("m", "date_trunc('month', period)::date")):
                    cur.execute(f"INSERT INTO dispatch_summaryfact (dim, grain, period, key, scope, {cols}) "
                                f"SELECT '{dim}', '{grain}', {period}, key, scope, {sums} FROM bench_d_{dim} "
                                "GROUP BY 3, 4, 5")
            cur.execute("DROP TABLE bench_daily, " + ", ".join(f"bench_d_{dim}" for dim, *_ in plan))
            t3 = time.perf_counter()
            figures["items_s"] += t1 - t0
            figures["daily_s"] += t2 - t1
            figures["summary_s"] += t3 - t2
            say(f"  2025-{month:02d}: cases {first:,}–{last:,}: items {t1 - t0:.0f} s, DailyFact {t2 - t1:.0f} s, "
                f"SummaryFact {t3 - t2:.0f} s")
        t0 = time.perf_counter()
        cur.execute("ALTER TABLE dispatch_dailyfact ADD CONSTRAINT dailyfact_key "
                    "UNIQUE (day, region_code, department, category, channel)")
        cur.execute("ALTER TABLE dispatch_summaryfact ADD CONSTRAINT summaryfact_key "
                    "UNIQUE (dim, grain, period, key, scope)")
        figures["index_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cur.execute("ALTER TABLE dispatch_dailyfact SET LOGGED")
        cur.execute("ALTER TABLE dispatch_summaryfact SET LOGGED")
        figures["logged_s"] = time.perf_counter() - t0
        cur.execute("DROP TABLE bench_items, bench_grid, bench_street, bench_cats")
        cur.execute("VACUUM ANALYZE dispatch_dailyfact")
        cur.execute("VACUUM ANALYZE dispatch_summaryfact")
        for table in ("dispatch_dailyfact", "dispatch_summaryfact"):
            cur.execute(f"SELECT count(*), pg_size_pretty(pg_total_relation_size('{table}')) FROM {table}")
            figures[table] = cur.fetchone()
        cur.execute("SELECT grain, count(*) FROM dispatch_summaryfact GROUP BY grain ORDER BY grain")
        figures["summary_by_grain"] = cur.fetchall()
        cur.execute("SELECT count(*) FROM dispatch_summaryfact WHERE dim = 'department' AND grain = 'm' "
                    "AND period = '2025-06-01'")
        figures["dept_month_rows"] = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM dispatch_summaryfact WHERE dim = 'district' AND grain = 'm'")
        figures["district_year_rows"] = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM dispatch_summaryfact WHERE dim = 'department' AND grain = 'm'")
        figures["dept_year_rows"] = cur.fetchone()[0]
    return figures


def sample_cases(count: int) -> float:
    """``count`` case rows (closed, spread over the grids and 2025) so the case table is not empty."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from events.models import Case, CaseState, Category, CloseReason
    from grids.models import Level, Region

    started = time.perf_counter()
    grids = list(Region.objects.filter(level=Level.GRID).values_list("id", "code", "parent__parent_id"))
    streets = {r.pk: r for r in Region.objects.filter(level=Level.STREET)}
    districts = {r.code: r.pk for r in Region.objects.filter(level=Level.DISTRICT)}
    category = Category.objects.first()
    first = datetime(2025, 1, 1, 8, tzinfo=ZoneInfo("Asia/Shanghai"))
    rows = []
    for i in range(count):
        grid_id, code, street_id = grids[(i * 7919) % len(grids)]
        when = first + timedelta(minutes=(i * 5) % (365 * 24 * 60))
        rows.append(Case(number=f"B{i:012d}", state=CaseState.CLOSED, channel="patrol", category=category,
                         description="sample", grid_id=grid_id, street_id=street_id,
                         district_id=districts[code[:6]], region_code=code, close_reason=CloseReason.RESOLVED,
                         created_at=when, updated_at=when, closed_at=when + timedelta(hours=5)))
        if len(rows) == 5000:
            Case.objects.bulk_create(rows)
            rows = []
    Case.objects.bulk_create(rows)
    del streets
    return time.perf_counter() - started


def lifecycles(count: int) -> dict:
    """Run cases through the services, timing each call; then time the sweep counting them."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from dispatch.evaluation.rollups import RollupCursor, rollups_advance
    from events.actors import Actor
    from events.models import CaseEvent, Category, Channel
    from events.services import ReportInput, case_act, case_report
    from grids.models import Department, Level, Region, User
    from grids.selectors import grid_index

    def photo():
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, "JPEG")
        return SimpleUploadedFile("p.jpg", buffer.getvalue(), content_type="image/jpeg")

    # count what is there already: only the new events are timed
    last = CaseEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    RollupCursor.objects.update_or_create(pk=1, defaults={"last_event_id": last, "gaps": []})
    street = Region.objects.filter(level=Level.STREET).order_by("code").first()
    community = Region.objects.filter(level=Level.COMMUNITY, code__startswith=street.code).order_by("code").first()
    worker = User.objects.get(username=f"d01s01c{community.code[-2:]}_worker")
    dispatcher = User.objects.get(username="d01s01_dispatcher")
    department = Department.objects.get(region=street, type="环卫")
    handler = User.objects.get(username=f"h_{department.code}")
    entries = [e for e in grid_index().entries if e.code.startswith(community.code)]
    category = Category.objects.get(code="E0102")
    calls = []

    def call(fn):
        started = time.perf_counter()
        result = fn()
        calls.append((time.perf_counter() - started) * 1000)
        return result

    from grids.geo import parse_boundary

    points = []
    for entry in entries:
        centre = parse_boundary(Region.objects.get(code=entry.code).boundary).centroid
        points.append((centre.y, centre.x))
    for i in range(count):
        lat, lng = points[i % len(points)]
        data = ReportInput(channel=Channel.PATROL, description="垃圾", lat=lat, lng=lng, category=category,
                           photos=[photo()])
        case, _ = call(lambda data=data: case_report(actor=Actor.staff(worker), data=data))
        for action, user, inputs in (
            ("dispatch", dispatcher, {"department": department.code}), ("sign", handler, {}),
            ("complete", handler, {"note": "ok", "photos": [photo()]}), ("verify", worker, {"photos": [photo()]}),
            ("close", dispatcher, {}),
        ):
            call(lambda a=action, u=user, i=inputs, n=case.number: case_act(case=n, action=a, actor=Actor.staff(u),
                                                                            inputs=i))
    events = CaseEvent.objects.filter(id__gt=last).count()
    started = time.perf_counter()
    counted = 0
    batches = []
    while True:
        t0 = time.perf_counter()
        result = rollups_advance(limit=2000)
        if result.events == 0:
            break
        batches.append((result.events, time.perf_counter() - t0))
        counted += result.events
    sweep_s = time.perf_counter() - started
    return {"cases": count, "events": events, "counted": counted, "calls_ms": calls, "sweep_s": sweep_s,
            "batches": batches}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--lifecycles", type=int, default=300)
    parser.add_argument("--sample", type=int, default=100_000, help="case rows inserted as a sample")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["GRIDLOOP_VAR_DIR"] = str(ROOT / "var" / "evalbench")
    os.environ["LOG_LEVEL"] = "WARNING"
    psql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    psql(f"CREATE DATABASE {DB_NAME}")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    started_all = time.perf_counter()
    call_command("migrate", verbosity=0)
    say("migrated")
    from events.services import categories_load
    from grids.demo import demo_city_build

    t0 = time.perf_counter()
    demo_city_build(districts=10, streets=10, communities=10, grids=40, seed=1)
    categories_load()  # (grids.demo builds the geography and staff only)
    city_s = time.perf_counter() - t0
    say(f"demo city (40,000 grids) in {city_s:.0f} s")
    gen = generate(args.cases)
    say(f"rollups of {args.cases:,} cases generated")
    sample_s = sample_cases(args.sample)
    say(f"{args.sample:,} sample cases in {sample_s:.0f} s")
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE events_case")

    from datetime import date

    from rest_framework.test import APIClient

    from dispatch.evaluation import selectors
    from dispatch.evaluation.scores import ranking_compute
    from dispatch.evaluation.selectors import MetricsScope, Period, indicator_table
    from grids.models import User

    city = MetricsScope(prefixes=["9901"])
    month, year = Period(date(2025, 6, 1), date(2025, 6, 30)), Period(date(2025, 1, 1), date(2025, 12, 31))
    results = {}
    checks = {}
    for label, period in (("month", month), ("year", year)):
        ranking = ranking_compute(object="department", kind="", period=period, scope=city)
        table = indicator_table(user=None, group_by="district", period=period, scope=city)
        checks[label] = (len(ranking.entries), len(table.rows), table.total["indicators"]["reported"]["value"])
        results[f"department league table, {label}"] = timed(
            lambda period=period: ranking_compute(object="department", kind="", period=period, scope=city),
            args.repeats)
        results[f"district indicator table, {label}"] = timed(
            lambda period=period: indicator_table(user=None, group_by="district", period=period, scope=city),
            args.repeats)
    summary_ok = selectors._summary_ok
    totals = {label: indicator_table(user=None, group_by="district", period=period, scope=city).total["counters"]
              for label, period in (("month", month), ("year", year))}
    selectors._summary_ok = lambda scope: False
    try:
        for label, period in (("month", month), ("year", year)):
            fine = indicator_table(user=None, group_by="district", period=period, scope=city)
            assert fine.total["counters"] == totals[label], "DailyFact and SummaryFact disagree"
            results[f"baseline: district table from DailyFact, {label}"] = timed(
                lambda period=period: indicator_table(user=None, group_by="district", period=period, scope=city),
                max(3, args.repeats // 6))
    finally:
        selectors._summary_ok = summary_ok
    client = APIClient()
    client.force_authenticate(User.objects.get(username="admin"))
    for label, url in (
        ("API rankings department, month", "/api/v1/metrics/rankings/?object=department&period=2025-06"),
        ("API rankings department, year", "/api/v1/metrics/rankings/?object=department&period=2025"),
        ("API indicators district, month", "/api/v1/metrics/indicators/?group_by=district&period=2025-06"),
        ("API indicators district, year", "/api/v1/metrics/indicators/?group_by=district&period=2025"),
    ):
        assert client.get(url).status_code == 200
        results[label] = timed(lambda url=url: client.get(url), args.repeats)
    say("queries timed")
    life = lifecycles(args.lifecycles)
    say("lifecycles done")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"\nEvaluation benchmark: {args.cases:,} cases over 2025, demo city with 40,000 unit grids, PostgreSQL "
          f"{connection.pg_version // 10000}")
    print(f"  demo city built in {city_s:.1f} s; items generated in {gen['items_s']:.1f} s "
          f"({gen['items']:,} items); DailyFact in {gen['daily_s']:.1f} s; SummaryFact in {gen['summary_s']:.1f} s; "
          f"unique indexes in {gen['index_s']:.1f} s; made logged (WAL) in {gen['logged_s']:.1f} s")
    print(f"  DailyFact  rows {gen['dispatch_dailyfact'][0]:>12,}  size {gen['dispatch_dailyfact'][1]}")
    print(f"  SummaryFact rows {gen['dispatch_summaryfact'][0]:>11,}  size {gen['dispatch_summaryfact'][1]}  "
          f"by grain {gen['summary_by_grain']}")
    print(f"  rows read: department month {gen['dept_month_rows']:,}, department year {gen['dept_year_rows']:,}, "
          f"district year {gen['district_year_rows']:,}")
    print(f"  checks (entries, rows, reports): {checks}")
    print(f"\n  {'query':52s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}   (n)")
    for label, runs in results.items():
        print(f"  {label:52s} {percentile(runs, 50):8.1f} {percentile(runs, 95):8.1f} {max(runs):8.1f}   "
              f"({len(runs)})")
    calls = life["calls_ms"]
    per_event = life["sweep_s"] * 1000 / max(life["counted"], 1)
    mean_call = statistics.mean(calls)
    print(f"\n  upkeep: {life['cases']} cases through the services = {life['events']} events "
          f"({len(calls)} service calls)")
    print(f"    service call (the transition itself): mean {mean_call:.2f} ms, p50 {percentile(calls, 50):.2f}, "
          f"p95 {percentile(calls, 95):.2f}")
    print(f"    sweep counting them: {life['sweep_s'] * 1000:.0f} ms for {life['counted']} events in "
          f"{len(life['batches'])} batch(es) = {per_event:.2f} ms per event "
          f"({per_event / (mean_call * len(calls) / max(life['events'], 1)):.2f}× the mean service time per event)")
    print(f"\n  peak RSS (getrusage): {peak:.0f} MB; total {time.perf_counter() - started_all:.0f} s")
    if not args.keep:
        connection.close()
        psql(f"DROP DATABASE IF EXISTS {DB_NAME}")


if __name__ == "__main__":
    main()
