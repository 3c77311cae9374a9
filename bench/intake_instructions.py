"""Instructions per request of the intake, of the bare DRF create endpoint and of a transition (accept, dispatch,
sign over HTTP), in the web process, counted by valgrind (callgrind): the same figure on every run, whatever else
the machine is doing — for judging a change to the request path when timings drift (on a shared 2-vCPU machine they
move by ±20 % within minutes).

    DATABASE_URL=postgres://…/gridloop_bench .venv/bin/python bench/intake_instructions.py [--requests 50]

Needs the database of ``bench/intake_bench.py`` (the demo city; run that once first) and ``valgrind`` on the PATH.
For each endpoint it runs the Django test client under callgrind twice — 10 and 10 + ``--requests`` requests,
each after 20 uncounted ones — and divides the difference (start-up cancels out). About two minutes per endpoint.
A transition is counted as (a case filed and taken through accept, dispatch and sign, less one intake) / 3.
PostgreSQL's own work is not counted: ``bench/intake_bench.py`` reads that from /proc.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENDPOINTS = {"bare": "/bench/bare/reports/", "intake": "/api/v1/cases/", "transitions": "actions"}


def child(path: str, requests: int) -> None:
    """Inside valgrind: file ``requests`` reports at the unit grids' centres after 20 warm-up ones."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from grids.models import Department, Region, User
    from grids.selectors import grid_index
    from grids.services import api_token_issue

    tokens = {}

    def token_of(username):  # one per user: a second token for the same device replaces the first
        if username not in tokens:
            tokens[username] = api_token_issue(user=User.objects.get(username=username), device="bench")[1]
        return tokens[username]

    # The bare endpoint is stock DRF throughout, its token model included (rest_framework.authtoken).
    token = (Token.objects.get_or_create(user=User.objects.get(username="hotline_operator"))[0].key
             if path == ENDPOINTS["bare"] else token_of("hotline_operator"))
    grids = Region.objects.filter(level="grid").order_by("code")
    if path == ENDPOINTS["transitions"]:  # cases in the first street, whose dispatcher and handler act on them
        street = grid_index().entries[0].ancestors[2][1]
        department = Department.objects.get(region__code=street, type="环卫")
        steps = [("accept", token_of("d01s01_dispatcher"), {"category": "E0101"}),
                 ("dispatch", token_of("d01s01_dispatcher"), {"department": department.code}),
                 ("sign", token_of(f"h_{department.code}"), {})]
        grids = grids.filter(code__startswith=street)
    points = []
    for region in grids[:600]:
        ring = region.boundary["coordinates"][0]
        points.append(((min(p[1] for p in ring) + max(p[1] for p in ring)) / 2,
                       (min(p[0] for p in ring) + max(p[0] for p in ring)) / 2))
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")

    def one(index):
        lat, lng = points[index * 7919 % len(points)]
        body = {"description": "路灯不亮", "lat": lat, "lng": lng, "citizen_name": "张三",
                "citizen_phone": "13812341234"}
        if path != ENDPOINTS["bare"]:
            body["channel"] = "hotline"
        response = client.post(ENDPOINTS["intake"] if path == ENDPOINTS["transitions"] else path, json.dumps(body),
                               content_type="application/json")
        assert response.status_code == 201, response.content
        if path == ENDPOINTS["transitions"]:
            number = response.json()["number"]
            for action, key, inputs in steps:
                response = client.post(f"/api/v1/cases/{number}/actions/{action}/", json.dumps(inputs),
                                       content_type="application/json", HTTP_AUTHORIZATION=f"Token {key}")
                assert response.status_code == 200, response.content

    for index in range(20 + requests):
        one(index)


def instructions(path: str, requests: int) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/out", sys.executable, __file__,
             "--child", path, str(requests)],
            cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0", "GRIDLOOP_EXTRA_APPS": "bench.bare,rest_framework.authtoken",
                           "LOG_LEVEL": "WARNING"},
            capture_output=True, text=True, check=True,
        )
    return int(re.search(r"Collected : (\d+)", run.stderr).group(1))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    counts = {}
    for name, path in ENDPOINTS.items():
        counts[name] = (instructions(path, 10 + args.requests) - instructions(path, 10)) / args.requests
        if name == "transitions":
            counts[name] = (counts[name] - counts["intake"]) / 3
            path = "…/actions/{action}/"
        print(f"  {name:11s} {path:22s} {counts[name] / 1e6:7.2f} M instructions per request")
    print(f"  ratio bare / intake (web process only): {counts['bare'] / counts['intake']:.2f}")


if __name__ == "__main__":
    main()
