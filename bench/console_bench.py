"""Console benchmark (issue 16 §3): server time of the command console over N open cases in a 40,000-grid city.

    .venv/bin/python bench/console_bench.py [--cases 1000000] [--repeats 30] [--city-spec 10,10,10,40]
        [--database gridloop_consolebench] [--server postgres://postgres@127.0.0.1:5432] [--keep]

In one run, on PostgreSQL, in its own database (dropped and made afresh):

1. the demo city scaled to 40,000 unit grids (10 districts × 10 streets × 10 communities × 40 grids, seed 1,
   ``grids.demo.demo_city_build`` as bench/evaluation_bench.py does);
2. N open cases with one running stage clock each, written in SQL by bench/sweep_bench.py's ``build_data`` (the same
   mix of states, levels — 85 % street, 10 % district, 5 % city — and lights: 75 % green, 10 % yellow, 4 % red,
   3 % paused …), spread over the grids; each case then gets a point inside its grid (the grid's centre ± ~30 m);
   plus 40 hotline cases filed and 20 of them accepted through the real services in one street (their detail has a
   report, events, clocks and a routing suggestion);
3. in a child process (a web worker's work, run under ``/usr/bin/time -v`` for its peak RSS), each request through
   Django's test client after a warm-up, ``--repeats`` times, p50 and p95 of the server time:
   - the worklist (50 rows, default sort = time to breach) as the htmx fragment and as the whole page, for a street
     and a district dispatcher; baseline: the API's list of the same person (``GET /api/v1/cases/``, 50 rows) and a
     bare ``SELECT … LIMIT 50`` of the center's open rows (no sort, no clock);
   - the map data for a district viewport (counts per community at zoom 13) for the district and a street
     dispatcher, markers at zoom 16 for a street viewport, the district's boundaries at zoom 13;
   - the case detail (htmx fragment); baseline: the API's case detail;
   - the bucket counts (``dispatch.worklist.bucket_counts``, one query);
   and the page weight: the JS and CSS the console page loads (its <script>/<link> and the modules they import),
   gzipped.
Prints the figures with the targets (worklist ≤ 150 ms, map ≤ 200 ms, detail ≤ 100 ms, counts ≤ 100 ms p95; page
weight ≤ 250 KB; worker peak RSS < 300 MB) and the EXPLAIN ANALYZE of the street worklist query. Exits 1 when a
target is missed.
"""

import argparse
import gzip
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS_MS = {"worklist": 150.0, "map": 200.0, "detail": 100.0, "counts": 100.0}
PAGE_WEIGHT_KB = 250.0
RSS_MB = 300.0
STREET, DISTRICT = "990101001", "990101"  # the measured centers (district 01, its street 01)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--city-spec", default="10,10,10,40", help="districts,streets,communities,grids")
    parser.add_argument("--database", default="gridloop_consolebench")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--measure", action="store_true", help="(internal) the measuring child process")
    parser.add_argument("--reuse", action="store_true", help="measure a database kept by an earlier --keep run")
    return parser.parse_args()


def setup_django(args) -> None:
    os.environ["DATABASE_URL"] = f"{args.server}/{args.database}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("GRIDLOOP_VAR_DIR", tempfile.mkdtemp(prefix="gridloop-console-bench-"))
    import django

    django.setup()


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Build ---------------------------------------------------------------------------------------------------------------
def place_cases() -> float:
    """Give every case a point inside its grid: the grid's centre, moved by up to ~30 m by the case id."""
    from django.db import connection

    from grids.models import Level, Region

    started = time.perf_counter()
    rows = []
    for pk, boundary in Region.objects.filter(level=Level.GRID).values_list("id", "boundary"):
        ring = boundary["coordinates"][0]
        lngs, lats = [p[0] for p in ring], [p[1] for p in ring]
        rows.append((pk, (min(lats) + max(lats)) / 2, (min(lngs) + max(lngs)) / 2))
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_centre (id int PRIMARY KEY, lat float8, lng float8)")
        with cursor.copy("COPY bench_centre (id, lat, lng) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute("""UPDATE events_case c SET lat = b.lat + ((c.id % 7) - 3) * 0.0001,
                                                   lng = b.lng + ((c.id % 11) - 5) * 0.00006
                          FROM bench_centre b WHERE c.grid_id = b.id""")
        cursor.execute("DROP TABLE bench_centre")
    return time.perf_counter() - started


def file_real_cases() -> list[str]:
    """40 hotline cases in the measured street through case_report; every other one accepted through case_act."""
    from events.actors import Actor
    from events.models import Category, Channel
    from events.services import ReportInput, case_act, case_report
    from grids.models import Region, User

    operator = User.objects.get(username="hotline_operator")
    dispatcher = User.objects.get(username="d01s01_dispatcher")
    category = Category.objects.filter(active=True).order_by("code").first()
    grids = list(Region.objects.filter(level="grid", code__startswith=STREET).order_by("code")[:40])
    numbers = []
    for index, grid in enumerate(grids):
        ring = grid.boundary["coordinates"][0]
        lat = (min(p[1] for p in ring) + max(p[1] for p in ring)) / 2
        lng = (min(p[0] for p in ring) + max(p[0] for p in ring)) / 2
        case, _ = case_report(actor=Actor.staff(operator), data=ReportInput(
            channel=Channel.HOTLINE, description=f"bench hotline case {index}", lat=lat, lng=lng, category=category,
            citizen_name="张三", citizen_phone=f"1380000{index:04d}"))
        if index % 2 == 0:
            case_act(case=case.number, action="accept", actor=Actor.staff(dispatcher))
        numbers.append(case.number)
    return numbers


def build(args) -> dict:
    from bench.sweep_bench import build_data, recreate_database, vacuum_analyze

    figures = {}
    recreate_database(args.server, args.database)
    setup_django(args)
    from django.core.management import call_command

    from events.services import categories_load
    from grids.demo import demo_city_build

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    figures["migrate_s"] = time.perf_counter() - started
    districts, streets, communities, grids = (int(part) for part in args.city_spec.split(","))
    started = time.perf_counter()
    demo_city_build(districts=districts, streets=streets, communities=communities, grids=grids, seed=1)
    categories_load()  # (grids.demo builds the geography and staff only)
    figures["city_s"] = time.perf_counter() - started
    say(f"demo city: {districts * streets * communities * grids:,} grids in {figures['city_s']:.0f} s")
    data = build_data(SimpleNamespace(cases=args.cases, due=max(1, args.cases // 100), street=400, district=100,
                                      city=500))
    say(f"{data['cases']:,} cases in {data['case_seconds']:.0f} s, {data['clocks']:,} clocks in "
        f"{data['clock_seconds']:.0f} s")
    figures["place_s"] = place_cases()
    say(f"points placed in {figures['place_s']:.0f} s")
    started = time.perf_counter()
    figures["real_cases"] = file_real_cases()
    say(f"{len(figures['real_cases'])} cases filed through the services in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    vacuum_analyze()
    say(f"VACUUM ANALYZE in {time.perf_counter() - started:.0f} s")
    return figures


# --- Measure (child process) ---------------------------------------------------------------------------------------------
def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def timed(fn, repeats: int, warmup: int = 3) -> dict:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return {"p50": statistics.median(times), "p95": percentile(times, 95), "max": max(times)}


def get(client, url, status=200, **headers):
    def call():
        response = client.get(url, **headers)
        if response.status_code != status:
            raise SystemExit(f"GET {url}: {response.status_code} {response.content[:300]!r}")
        return response

    return call


def page_weight(client) -> tuple[float, list[tuple[str, int, int]]]:
    """The JS and CSS the console page loads (and the modules they import), each gzipped (level 6)."""
    from django.contrib.staticfiles import finders

    html = client.get("/console/").content.decode()
    paths = re.findall(r'(?:src|href)="/static/([^"]+\.(?:js|css))"', html)
    seen, files = set(), []
    while paths:
        path = paths.pop(0)
        if path in seen:
            continue
        seen.add(path)
        content = Path(finders.find(path)).read_bytes()
        files.append((path, len(content), len(gzip.compress(content, 6))))
        if path.endswith(".js"):
            base = path.rsplit("/", 1)[0]
            paths += [f"{base}/{name}" for name in re.findall(rb'^import .* from "\./([^"]+)";', content, re.M)
                      for name in [name.decode()]]
    return sum(f[2] for f in files) / 1024, files


def explain_worklist(user, center) -> str:
    from django.db import connection

    from dispatch.worklist import worklist_page_query

    queryset = worklist_page_query(user=user, center=center)[:51]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def measure(args) -> int:
    setup_django(args)
    from django.db import connection
    from django.test import Client

    from dispatch.worklist import bucket_counts
    from events.models import OPEN_STATE_VALUES, Case
    from grids.models import Region, User
    from grids.selectors import boundaries_geojson

    street_user = User.objects.get(username="d01s01_dispatcher")
    district_user = User.objects.get(username="d01_dispatcher")
    street, district = Region.objects.get(code=STREET), Region.objects.get(code=DISTRICT)
    real = list(Case.objects.filter(description__startswith="bench hotline case").order_by("id")
                .values_list("number", flat=True))
    boundary = boundaries_geojson(parent=district, zoom=10)["features"][0]["geometry"]["coordinates"][0]
    lngs, lats = [p[0] for p in boundary], [p[1] for p in boundary]
    district_bbox = f"{min(lngs)},{min(lats)},{max(lngs)},{max(lats)}"
    boundary = boundaries_geojson(parent=street, zoom=10)["features"][0]["geometry"]["coordinates"][0]
    lngs, lats = [p[0] for p in boundary], [p[1] for p in boundary]
    street_bbox = f"{min(lngs)},{min(lats)},{max(lngs)},{max(lats)}"
    street_client, district_client = Client(), Client()
    street_client.force_login(street_user)
    district_client.force_login(district_user)
    htmx_list = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "worklist"}
    htmx_detail = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "detail"}

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_case WHERE state = ANY(%s)", [OPEN_STATE_VALUES])
        open_cases = cursor.fetchone()[0]
        cursor.execute("SELECT level, count(*) FROM events_case WHERE state = ANY(%s) AND region_code LIKE %s "
                       "GROUP BY level ORDER BY level", [OPEN_STATE_VALUES, DISTRICT + "%"])
        in_district = dict(cursor.fetchall())
    street_rows = Case.objects.filter(level="street", region_code__startswith=STREET,
                                      state__in=OPEN_STATE_VALUES).count()

    def bare_select(level, prefix):
        def run():
            with connection.cursor() as cursor:
                cursor.execute("SELECT id, number, state, channel, urgency, category_id, region_code, department_id, "
                               "created_at FROM events_case WHERE level = %s AND region_code LIKE %s "
                               "AND state = ANY(%s) LIMIT 50", [level, prefix + "%", OPEN_STATE_VALUES])
                return cursor.fetchall()
        return run

    r = args.repeats
    print(f"load average before measuring: {os.getloadavg()}", flush=True)
    results = [
        ("worklist", "worklist fragment, street dispatcher", timed(get(street_client, "/console/", **htmx_list), r)),
        ("worklist", "worklist fragment, district dispatcher",
         timed(get(district_client, "/console/", **htmx_list), r)),
        ("worklist", "console page (worklist + shell), street", timed(get(street_client, "/console/"), r)),
        ("worklist", "worklist, overdue bucket, street",
         timed(get(street_client, "/console/?bucket=overdue", **htmx_list), r)),
        (None, "baseline: API list GET /api/v1/cases/, street", timed(get(street_client, "/api/v1/cases/"), r)),
        (None, "baseline: bare SELECT … LIMIT 50, street center", timed(bare_select("street", STREET), r)),
        ("map", "map, district viewport z13, district dispatcher",
         timed(get(district_client, f"/console/map/?bbox={district_bbox}&zoom=13"), r)),
        ("map", "map, district viewport z13, street dispatcher",
         timed(get(street_client, f"/console/map/?bbox={district_bbox}&zoom=13"), r)),
        ("map", "map, street viewport z16 markers, street",
         timed(get(street_client, f"/console/map/?bbox={street_bbox}&zoom=16"), r)),
        ("map", "boundaries, district z13 (cached)",
         timed(get(district_client, f"/geo/boundaries/?parent={DISTRICT}&zoom=13"), r)),
        ("detail", "case detail fragment, new case (duplicates), street",
         timed(get(street_client, f"/console/case/{real[1]}/", **htmx_detail), r)),
        ("detail", "case detail fragment, accepted (routing), street",
         timed(get(street_client, f"/console/case/{real[0]}/", **htmx_detail), r)),
        (None, "baseline: API detail GET /api/v1/cases/N/", timed(get(street_client, f"/api/v1/cases/{real[0]}/"), r)),
        ("counts", "bucket counts, street center", timed(lambda: bucket_counts(user=street_user, center=street), r)),
        ("counts", "bucket counts, district center",
         timed(lambda: bucket_counts(user=district_user, center=district), r)),
    ]
    weight, files = page_weight(street_client)
    print(f"\nopen cases: {open_cases:,}; in district {DISTRICT}: {in_district}; street center {STREET}: "
          f"{street_rows:,} open cases at street level")
    print(f"\n{'measure':52} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  target (p95)")
    failed = False
    for kind, name, figures in results:
        target = TARGETS_MS.get(kind)
        verdict = ""
        if target is not None:
            ok = figures["p95"] <= target
            failed |= not ok
            verdict = f"≤ {target:.0f} ms {'ok' if ok else 'MISSED'}"
        print(f"{name:52} {figures['p50']:8.1f} {figures['p95']:8.1f} {figures['max']:8.1f}  {verdict}")
    by_name = {name: figures for _kind, name, figures in results}
    api, bare = by_name["baseline: API list GET /api/v1/cases/, street"], by_name[
        "baseline: bare SELECT … LIMIT 50, street center"]
    fragment = by_name["worklist fragment, street dispatcher"]
    print(f"\nratios (p50): worklist fragment / API list = {fragment['p50'] / api['p50']:.2f}; "
          f"worklist fragment / bare SELECT = {fragment['p50'] / bare['p50']:.1f}; "
          f"detail / API detail = {by_name['case detail fragment, accepted (routing), street']['p50'] / by_name['baseline: API detail GET /api/v1/cases/N/']['p50']:.2f}")
    print(f"\npage weight (JS + CSS, gzip -6): {weight:.1f} KB (target ≤ {PAGE_WEIGHT_KB:.0f} KB)")
    for path, raw, packed in files:
        print(f"  {path:50} {raw / 1024:8.1f} KB raw {packed / 1024:8.1f} KB gzip")
    failed |= weight > PAGE_WEIGHT_KB
    print(f"\nload average during the run: {os.getloadavg()}")
    print("\nEXPLAIN ANALYZE, street worklist: the page's ids and the bucket counts (default sort, 50 rows):")
    print(explain_worklist(street_user, street))
    return 1 if failed else 0


def main() -> int:
    args = parse_args()
    if args.measure:
        return measure(args)
    started = time.perf_counter()
    if not args.reuse:
        build(args)
    say(f"built in {time.perf_counter() - started:.0f} s; measuring in a child process under /usr/bin/time -v")
    command = ["/usr/bin/time", "-v", sys.executable, __file__, "--measure", "--database", args.database,
               "--server", args.server, "--repeats", str(args.repeats)]
    child = subprocess.run(command, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", child.stderr)
    errors = [line for line in child.stderr.splitlines() if "Maximum resident" not in line and line.strip()
              and not line.startswith("\t")]
    if errors:
        print("\n".join(errors[-20:]), file=sys.stderr)
    rss_mb = int(rss.group(1)) / 1024 if rss else float("nan")
    print(f"\nmeasuring process (one web worker's work): peak RSS {rss_mb:.0f} MB (target < {RSS_MB:.0f} MB)")
    if not args.keep:
        from bench.sweep_bench import drop_database

        drop_database(args.server, args.database)
    return child.returncode or (1 if not rss_mb < RSS_MB else 0)


if __name__ == "__main__":
    sys.exit(main())
