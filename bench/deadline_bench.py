"""Deadline benchmark (issue 4): ``WorkCalendar.deadline`` throughput, single process, no database.

    .venv/bin/python bench/deadline_bench.py [--deadlines 200000] [--baseline 5000] [--seed 1]

Draws random starts (any second) over 2025–2026 in Asia/Shanghai and a realistic mix of limits (work_hour 45 %,
work_day 25 %, urgent_hour 20 %, natural_day 10 %, amounts as in REFERENCE.md §4), then times: building the year
tables (first use), deadlines per unit and over the whole mix, ``elapsed_fraction`` over the mix, and as baseline a
naive day-by-day loop that calls ``chinese_calendar.is_workday`` directly, on the first ``--baseline`` jobs of the mix.
Checks that the calendar agrees with the baseline on those jobs; exits 1 when not. Deadlines that run into 2027 use
the weekend fallback (chinesecalendar 1.11.0 stops at 2026), in both.
"""

import argparse
import random
import resource
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import chinese_calendar  # noqa: E402

from dispatch.calendar import (  # noqa: E402
    DEFAULT_WINDOWS,
    NATURAL_DAY,
    UNITS,
    URGENT_HOUR,
    WORK_DAY,
    WORK_HOUR,
    WorkCalendar,
)

TARGET_PER_SECOND = 100_000
SH = ZoneInfo("Asia/Shanghai")
MIX = [  # unit, share, amounts
    (WORK_HOUR, 0.45, [1, 2, 4, 8, 24]),
    (WORK_DAY, 0.25, [1, 2, 3, 5, 7, 15, 20]),
    (URGENT_HOUR, 0.20, [1, 2, 3, 6, 24]),
    (NATURAL_DAY, 0.10, [1, 3, 7, 15, 30]),
]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deadlines", type=int, default=200_000, help="deadlines in the mix (default 200,000)")
    parser.add_argument("--baseline", type=int, default=5_000, help="jobs for the naive baseline (default 5,000)")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def jobs_for(count: int, rng: random.Random) -> list[tuple[datetime, int, str]]:
    first = datetime(2025, 1, 1, tzinfo=SH)
    span = int((datetime(2027, 1, 1, tzinfo=SH) - first).total_seconds())
    units = [unit for unit, _, _ in MIX]
    weights = [share for _, share, _ in MIX]
    amounts = {unit: choices for unit, _, choices in MIX}
    jobs = []
    for unit in rng.choices(units, weights, k=count):
        jobs.append((first + timedelta(seconds=rng.randrange(span)), rng.choice(amounts[unit]), unit))
    return jobs


def naive_is_workday(day) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def naive_deadline(start: datetime, amount: int, unit: str) -> datetime:
    """The obvious implementation: walk day by day, asking chinese_calendar about each day."""
    if unit == URGENT_HOUR:
        return start + timedelta(hours=amount)
    if unit == NATURAL_DAY:
        return start + timedelta(days=amount)
    local = start.astimezone(SH)
    day = local.date()
    if unit == WORK_DAY:
        counted = 0
        while counted < amount:
            day += timedelta(days=1)
            counted += naive_is_workday(day)
        return datetime.combine(day, DEFAULT_WINDOWS[-1][1], tzinfo=SH)
    remaining = timedelta(hours=amount)
    while True:
        if naive_is_workday(day):
            for opens, closes in DEFAULT_WINDOWS:
                opening = max(datetime.combine(day, opens, tzinfo=SH), local)
                closing = datetime.combine(day, closes, tzinfo=SH)
                if opening < closing:
                    if remaining <= closing - opening:
                        return opening + remaining
                    remaining -= closing - opening
        day += timedelta(days=1)


def rate(count: int, seconds: float) -> str:
    return f"{count:,} in {seconds:.3f} s = {count / seconds:,.0f} /s"


def main() -> int:
    args = parse_args()
    rng = random.Random(args.seed)
    jobs = jobs_for(args.deadlines, rng)
    calendar = WorkCalendar()
    print(f"Python {sys.version.split()[0]}, chinesecalendar {chinese_calendar.__version__}, "
          f"{args.deadlines:,} jobs, seed {args.seed}")

    started = time.perf_counter()
    for year in (2025, 2026, 2027):
        calendar.is_workday(datetime(year, 6, 1).date())
    print(f"year tables 2025–2027 (first use): {time.perf_counter() - started:.3f} s")

    deadline = calendar.deadline
    for unit in UNITS:
        subset = [(start, amount) for start, amount, job_unit in jobs if job_unit == unit]
        started = time.perf_counter()
        for start, amount in subset:
            deadline(start, amount, unit)
        print(f"deadline {unit:<12} {rate(len(subset), time.perf_counter() - started)}")

    started = time.perf_counter()
    results = [deadline(start, amount, unit) for start, amount, unit in jobs]
    overall_seconds = time.perf_counter() - started
    overall = len(jobs) / overall_seconds
    print(f"deadline mix          {rate(len(jobs), overall_seconds)}")

    nows = [start + timedelta(seconds=rng.randrange(30 * 86400)) for start, _, _ in jobs]
    fraction = calendar.elapsed_fraction
    started = time.perf_counter()
    for (start, amount, unit), now in zip(jobs, nows, strict=True):
        fraction(start, amount, unit, now)
    print(f"elapsed_fraction mix  {rate(len(jobs), time.perf_counter() - started)}")

    baseline_jobs = jobs[: args.baseline]
    started = time.perf_counter()
    naive = [naive_deadline(start, amount, unit) for start, amount, unit in baseline_jobs]
    naive_seconds = time.perf_counter() - started
    print(f"baseline naive mix    {rate(len(baseline_jobs), naive_seconds)}")
    print(f"speed-up mix / naive  {overall / (len(baseline_jobs) / naive_seconds):,.0f}x")
    agree = sum(fast == slow for fast, slow in zip(results, naive, strict=False))
    print(f"agreement with naive  {agree:,}/{len(baseline_jobs):,}")
    into_2027 = sum(result.astimezone(SH).year == 2027 for result in results)
    print(f"deadlines in 2027 (weekend fallback): {into_2027:,}")
    print(f"target >= {TARGET_PER_SECOND:,}/s: {'met' if overall >= TARGET_PER_SECOND else 'NOT met'}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0 if agree == len(baseline_jobs) else 1


if __name__ == "__main__":
    sys.exit(main())
