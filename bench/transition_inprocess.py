"""Time ``case_act`` in-process (no HTTP) on the database given by DATABASE_URL; used by bench/intake_bench.py.

    DATABASE_URL=… .venv/bin/python bench/transition_inprocess.py [N]
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from events.actors import Actor  # noqa: E402
from events.models import Category, Channel  # noqa: E402
from events.services import ReportInput, case_act, case_report  # noqa: E402
from grids.models import Department, User  # noqa: E402
from grids.selectors import grid_index  # noqa: E402


def main(n: int) -> None:
    operator = Actor.staff(User.objects.get(username="hotline_operator"))
    entry = grid_index().entries[0]
    street = entry.ancestors[2][1]
    dispatcher = Actor.staff(User.objects.get(username="d01s01_dispatcher"))
    department = Department.objects.get(region__code=street, type="环卫")
    handler = Actor.staff(User.objects.get(username=f"h_{department.code}"))
    category = Category.objects.get(code="E0101")
    from grids.models import Region

    ring = Region.objects.get(code=entry.code).boundary["coordinates"][0]
    lat = (min(p[1] for p in ring) + max(p[1] for p in ring)) / 2
    lng = (min(p[0] for p in ring) + max(p[0] for p in ring)) / 2
    timings = []
    for _ in range(n):
        case, _ = case_report(actor=operator, data=ReportInput(channel=Channel.HOTLINE, description="bench",
                                                                lat=lat, lng=lng))
        for action, actor, inputs in (("accept", dispatcher, {"category": category}),
                                      ("dispatch", dispatcher, {"department": department.code}),
                                      ("sign", handler, {})):
            started = time.perf_counter()
            case_act(case=case.number, action=action, actor=actor, inputs=inputs)
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p50, p95 = timings[len(timings) // 2], timings[int(0.95 * (len(timings) - 1))]
    print(f"Transition latency in-process (case_act), {len(timings)} transitions: p50 {p50:.2f} ms   p95 {p95:.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
