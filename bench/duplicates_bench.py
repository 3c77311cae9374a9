"""Duplicate search at 1,000,000 open cases, on PostgreSQL.

    /usr/bin/time -v .venv/bin/python bench/duplicates_bench.py [--cases 1000000] [--searches 1000]

Makes the database ``gridloop_dupbench`` afresh (migrate + the default demo city), writes ``--cases`` open cases with
random points over the city's bounding box, random categories and creation times inside the last 72 hours in one
``INSERT … SELECT generate_series`` (columns taken from the model, so the rows are what the ORM would write), then
times ``events.duplicates.duplicate_candidates`` — the function intake calls — at ``--searches`` random points.
Baseline in the same run: the same searches with index scans turned off (``enable_indexscan`` /
``enable_bitmapscan`` = off: what the query costs without ``case_open_point``). Prints p50/p95/max, the ratio, the
query plan with and without the index, and the process's peak RSS.
"""

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "gridloop_dupbench"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--baseline-searches", type=int, default=20)
    parser.add_argument("--grids-spec", default="10,10,10,40",
                        help="demo city districts,streets,communities,grids (default: the 40,000-grid city)")
    args = parser.parse_args()

    os.environ.update({"DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}", "DJANGO_DEBUG": "0",
                       "GRIDLOOP_VAR_DIR": str(ROOT / "var" / "bench"), "LOG_LEVEL": "WARNING"})
    for sql in (f"DROP DATABASE IF EXISTS {DB_NAME}", f"CREATE DATABASE {DB_NAME}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True, capture_output=True)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, check=True,
                   capture_output=True)
    d, s_, c, g = args.grids_spec.split(",")
    subprocess.run([python, "manage.py", "demo_city", "--quiet", "--history-days", "0", "--districts", d, "--streets", s_, "--communities", c,
                    "--grids", g], cwd=ROOT, check=True, capture_output=True)

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from events.duplicates import duplicate_candidates, search_statement
    from events.models import OPEN_STATE_VALUES, Case, Category
    from grids.models import Level, Region

    lng0 = lat0 = float("inf")
    lng1 = lat1 = float("-inf")
    for boundary in Region.objects.filter(level=Level.DISTRICT).values_list("boundary", flat=True).iterator():
        for x, y in boundary["coordinates"][0]:
            lng0, lng1, lat0, lat1 = min(lng0, x), max(lng1, x), min(lat0, y), max(lat1, y)
    categories = list(Category.objects.values_list("id", flat=True))
    street = Region.objects.filter(level=Level.STREET).first()
    now = timezone.now()

    # Every column of the model: explicit expressions for the ones that vary, model defaults for the rest.
    exprs = {
        "number": "to_char(%(day)s::date, 'YYYYMMDD') || lpad(g::text, 7, '0')",
        "state": f"(ARRAY{OPEN_STATE_VALUES!r})[1 + mod(g, {len(OPEN_STATE_VALUES)})]",
        "channel": "'hotline'",
        "category_id": f"(ARRAY{categories!r})[1 + mod(g, {len(categories)})]",
        "lat": f"{lat0} + random() * {lat1 - lat0}",
        "lng": f"{lng0} + random() * {lng1 - lng0}",
        "street_id": str(street.pk), "district_id": str(street.parent_id),
        "region_code": f"'{street.code}'",
        "created_at": "%(now)s::timestamptz - random() * interval '72 hours'",
        "updated_at": "%(now)s::timestamptz",
        "description": "'bench'",
    }
    columns, values = [], []
    for field in Case._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.attname in exprs:
            values.append(exprs[field.attname])
        elif field.has_default() or not field.null:
            default = field.get_default()  # "" for text fields without a default, as the ORM writes them
            if default is None:
                values.append("NULL")
            elif isinstance(default, bool):
                values.append("true" if default else "false")
            elif isinstance(default, str):
                values.append("'" + str(default).replace("'", "''") + "'")
            else:
                values.append(str(default))
        else:
            values.append("NULL")
    sql = (f"INSERT INTO events_case ({', '.join(columns)}) SELECT {', '.join(values)} "
           f"FROM generate_series(1, %(n)s) AS g")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, {"n": args.cases, "day": now.date(), "now": now})
        cursor.execute("ANALYZE events_case")
    from events.duplicates import distance_m
    area = distance_m(lat0, lng0, lat1, lng0) * distance_m(lat0, lng0, lat0, lng1) / 1e6
    print(f"{args.cases:,} open cases written in {time.perf_counter() - started:.1f} s over {area:,.0f} km² "
          f"({args.cases / area:,.0f} open cases per km²; Beijing: 1M over 16,410 km² is ~61 per km²)")

    rng = random.Random(1)
    by_id = {c.pk: c for c in Category.objects.all()}

    def searches(n):
        timings, found = [], 0
        for _ in range(n):
            lat, lng = lat0 + rng.random() * (lat1 - lat0), lng0 + rng.random() * (lng1 - lng0)
            category = by_id[rng.choice(categories)]
            t = time.perf_counter()
            found += len(duplicate_candidates(lat=lat, lng=lng, category=category, now=now))
            timings.append((time.perf_counter() - t) * 1000)
        return sorted(timings), found

    def plan():  # the statement a search runs, for the first point and category of the run
        sql, params = search_statement(lat=(lat0 + lat1) / 2, lng=(lng0 + lng1) / 2,
                                       category=by_id[categories[0]], now=now)
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            return "\n".join("    " + row[0] for row in cursor.fetchall())

    searches(20)  # warm-up
    indexed, found = searches(args.searches)
    indexed_plan = plan()
    # A new connection for the baseline: the search is a prepared statement, and a connection keeps the plan it made
    # (with the index) whatever the session's settings say afterwards.
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_indexscan = off")
        cursor.execute("SET enable_bitmapscan = off")
    baseline, _ = searches(args.baseline_searches)
    baseline_plan = plan()

    def pct(values, p):
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

    print(f"\nduplicate_candidates at {args.cases:,} open cases ({found} candidates found in {args.searches} searches)")
    print(f"  with case_open_point : p50 {pct(indexed, 50):8.2f} ms  p95 {pct(indexed, 95):8.2f} ms  "
          f"max {indexed[-1]:8.2f} ms  ({args.searches} searches)")
    print(f"  baseline, no index   : p50 {pct(baseline, 50):8.2f} ms  p95 {pct(baseline, 95):8.2f} ms  "
          f"max {baseline[-1]:8.2f} ms  ({args.baseline_searches} searches)")
    print(f"  speed-up (p50)       : {statistics.median(baseline) / statistics.median(indexed):8.0f}×")
    print("\nplan with the index:\n" + indexed_plan)
    print("\nplan without (baseline):\n" + baseline_plan)
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
