"""Intake throughput over HTTP and transition latency, on gunicorn + PostgreSQL.

    .venv/bin/python bench/intake_bench.py [--seconds 20] [--rounds 5] [--clients 8] [--workers 2]

In one run, against one gunicorn serving one PostgreSQL database (``gridloop_bench``, dropped and made afresh),
taking turns in ``--rounds`` rounds (so that the shared machine's slower and faster spells fall on both):
1. baseline: a bare DRF create endpoint (bench/bare: ModelSerializer → INSERT, same auth) — requests/s;
2. Gridloop: ``POST /api/v1/cases/`` hotline intake (locate, case number, case + report + hash-chained event) —
   requests/s, and the ratio to the baseline (target ≥ 0.6);
3. transition latency: ``POST /api/v1/cases/{number}/actions/{action}/`` for accept → dispatch → sign, one client,
   p50/p95 (target p95 ≤ 20 ms), after the same three actions on ``WARM_UP_CASES`` cases not counted; and the
   same transitions timed in-process around ``case_act``.
Every intake response is checked (201 and a case number) and the case count in the database must equal the number
of successful requests: no figure counts a failed request.
"""

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.common import CpuSplit, fresh_demo_database, gunicorn_start, percentile, sh  # noqa: E402

# GRIDLOOP_BENCH_DB / GRIDLOOP_BENCH_PORT: another database and port, to run beside someone else's run.
DB_NAME = os.environ.get("GRIDLOOP_BENCH_DB", "gridloop_bench")
PORT = int(os.environ.get("GRIDLOOP_BENCH_PORT", "8765"))
WARM_UP_CASES = 10


def post(conn, path, token, body):
    conn.request("POST", path, body=json.dumps(body),
                 headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, response.read()


def load(path, token, make_body, seconds, clients):
    """`clients` threads POST for `seconds` (http.client reconnects when the server closes the connection after a
    response, as config/gunicorn.conf.py has it do); returns (ok, errors, elapsed)."""
    ok, errors, lock = [0], [0], threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client(index):
        rng = random.Random(index)
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        mine_ok = mine_err = 0
        while time.perf_counter() < stop_at:
            status, _ = post(conn, path, token, make_body(rng))
            if status == 201:
                mine_ok += 1
            else:
                mine_err += 1
        conn.close()
        with lock:
            ok[0] += mine_ok
            errors[0] += mine_err

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ok[0], errors[0], time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--latency-cases", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="turns each endpoint takes (--seconds split over them)")
    args = parser.parse_args()

    url = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    env = {**os.environ, "DATABASE_URL": url, "GRIDLOOP_EXTRA_APPS": "bench.bare,rest_framework.authtoken",
           "DJANGO_DEBUG": "0",
           "GRIDLOOP_VAR_DIR": str(ROOT / "var" / "bench"), "LOG_LEVEL": "WARNING"}
    fresh_demo_database(DB_NAME, env)
    python = sys.executable
    setup = sh(python, "manage.py", "shell", "--no-imports", "-c", (
        "import json; from rest_framework.authtoken.models import Token; from grids.models import Department, User;"
        "from grids.selectors import grid_index; from grids.services import api_token_issue;"
        "t = lambda u: api_token_issue(user=User.objects.get(username=u), device='bench')[1];"
        "e = grid_index().entries; g = [x.code for x in e];"
        "d = Department.objects.filter(region__code=g[0][:9], type='环卫').get().code;"
        "print(json.dumps({'operator': t('hotline_operator'), 'dispatcher': t('d01s01_dispatcher'),"
        "'handler': t('h_' + d), 'department': d, 'bbox_grid': g[0],"
        "'operator_drf': Token.objects.get_or_create(user=User.objects.get(username='hotline_operator'))[0].key}))"
    ), env=env)
    tokens = json.loads(setup.stdout.strip().splitlines()[-1])

    # Every unit grid's rectangle (the demo city's grids are axis-aligned, about 100 m across). The load files
    # reports at random points all over the city, as a hotline does; the latency phase files its cases in the first
    # street, whose dispatcher and handler then act on them.
    boxes = sh(python, "manage.py", "shell", "--no-imports", "-c", (
        "import json; from grids.models import Region;"
        "r = Region.objects.filter(level='grid').order_by('code');"
        "c = [(x.code, x.boundary['coordinates'][0]) for x in r];"
        "print(json.dumps([[code, min(p[1] for p in ring), max(p[1] for p in ring),"
        "min(p[0] for p in ring), max(p[0] for p in ring)] for code, ring in c]))"
    ), env=env)
    grids = json.loads(boxes.stdout.strip().splitlines()[-1])
    first_street = [box for box in grids if box[0].startswith(tokens["bbox_grid"][:9])]

    def case_count() -> int:
        return int(sh(python, "manage.py", "shell", "--no-imports", "-c",
                      "from events.models import Case; print(Case.objects.count())", env=env).stdout.split()[-1])

    gunicorn = gunicorn_start(env, port=PORT, workers=args.workers, threads=4,
                              options=("-c", "config/gunicorn.conf.py"))
    try:
        def report(rng, boxes):
            _code, lat0, lat1, lng0, lng1 = rng.choice(boxes)
            inset = 0.02  # (a point on a grid's edge belongs to either neighbour)
            lat = lat0 + (lat1 - lat0) * rng.uniform(inset, 1 - inset)
            lng = lng0 + (lng1 - lng0) * rng.uniform(inset, 1 - inset)
            return {"description": "路灯不亮", "lat": lat, "lng": lng, "citizen_name": "张三",
                    "citizen_phone": "13812341234"}

        def bare_body(rng):
            return report(rng, grids)

        def intake_body(rng, boxes=grids):
            return {"channel": "hotline", **report(rng, boxes)}

        # The two endpoints take turns, round by round, so that a slower or faster spell of this shared machine
        # falls on both alike; totals over all rounds give the rates, the CPU split and the ratio.
        split = CpuSplit(gunicorn.pid)
        load("/bench/bare/reports/", tokens["operator_drf"], bare_body, 2, args.clients)  # warm-up
        load("/api/v1/cases/", tokens["operator"], intake_body, 2, args.clients)  # warm-up
        count_before = case_count()
        phases = {"bare": ("/bench/bare/reports/", bare_body, "operator_drf"),  # stock DRF token on the bare one
                  "intake": ("/api/v1/cases/", intake_body, "operator")}
        totals = {name: [0, 0, 0.0, [0.0, 0.0, 0.0]] for name in phases}  # ok, errors, seconds, CPU ms
        rounds = []
        for _ in range(args.rounds):
            row = {}
            for name, (path, make_body, who) in phases.items():
                split.start()
                ok_, err_, secs_ = load(path, tokens[who], make_body, args.seconds / args.rounds,
                                        args.clients)
                cpu = split.per_request(1)
                total = totals[name]
                total[0] += ok_
                total[1] += err_
                total[2] += secs_
                total[3] = [a + b for a, b in zip(total[3], cpu, strict=True)]
                row[name] = ok_ / secs_
            rounds.append(row)
        count_after = case_count()
        (bare_ok, bare_err, bare_s, bare_cpu), (ok, err, secs, intake_cpu) = totals["bare"], totals["intake"]
        bare_cpu = [ms / max(bare_ok + bare_err, 1) for ms in bare_cpu]
        intake_cpu = [ms / max(ok + err, 1) for ms in intake_cpu]

        # HTTP transition latency, one client
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        numbers = []
        rng = random.Random(7)
        for _ in range(WARM_UP_CASES + args.latency_cases):
            status, body = post(conn, "/api/v1/cases/", tokens["operator"], intake_body(rng, first_street))
            assert status == 201, body
            numbers.append(json.loads(body)["number"])
        dept_code = tokens["department"]
        latencies = {"accept": [], "dispatch": [], "sign": []}
        steps = [("accept", tokens["dispatcher"], {"category": "E0101"}),
                 ("dispatch", tokens["dispatcher"], {"department": dept_code}),
                 ("sign", tokens["handler"], {})]
        for index, number in enumerate(numbers):
            for action, token, body in steps:
                started = time.perf_counter()
                status, reply = post(conn, f"/api/v1/cases/{number}/actions/{action}/", token, body)
                if index >= WARM_UP_CASES:  # (the first few warm the workers' connections and statements up)
                    latencies[action].append((time.perf_counter() - started) * 1000)
                assert status == 200, (action, status, reply)
        conn.close()
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)

    # in-process transition latency around case_act (same database)
    inproc = sh(python, "bench/transition_inprocess.py", str(args.latency_cases), env=env)

    bare_rps, rps = bare_ok / bare_s, ok / secs
    everything = [v for values in latencies.values() for v in values]
    print(f"\nIntake over HTTP: gunicorn {args.workers} workers × 4 threads, {args.clients} clients, "
          f"{args.seconds:.0f} s each in {args.rounds} alternating rounds, PostgreSQL")
    print("  rounds (req/s bare / Gridloop = ratio): " + ", ".join(
        f"{r['bare']:.0f} / {r['intake']:.0f} = {r['intake'] / r['bare']:.2f}" for r in rounds))
    print(f"  baseline bare DRF create : {bare_rps:8.1f} req/s  ({bare_ok} ok, {bare_err} errors)")
    print(f"  Gridloop POST /cases/    : {rps:8.1f} req/s  ({ok} ok, {err} errors)")
    print(f"  ratio Gridloop / bare    : {rps / bare_rps:8.2f}   (target ≥ 0.60)")
    print(f"  cases written            : {count_after - count_before} (must equal {ok} successful requests)")
    print("  CPU ms per request        web workers   PostgreSQL   load driver")
    for name, (web, db, driver) in (("bare", bare_cpu), ("Gridloop", intake_cpu)):
        print(f"    {name:22s} {web:10.2f} {db:12.2f} {driver:13.2f}")
    print(f"\nTransition latency over HTTP, one client, {args.latency_cases} cases × accept/dispatch/sign:")
    for action, values in latencies.items():
        print(f"  {action:9s} p50 {percentile(values, 50):6.2f} ms   p95 {percentile(values, 95):6.2f} ms")
    print(f"  all       p50 {percentile(everything, 50):6.2f} ms   p95 {percentile(everything, 95):6.2f} ms"
          f"   mean {statistics.mean(everything):.2f} ms   (target p95 ≤ 20 ms)")
    print(inproc.stdout)
    if count_after - count_before != ok or err or bare_err:
        print("FAILED: errors or lost writes", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
