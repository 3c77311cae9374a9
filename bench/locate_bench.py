"""Locate benchmark (issue 2): point → unit grid on the demo city, single process.

    .venv/bin/python bench/locate_bench.py [--grids-spec 10,10,10,40] [--points 500000]

Builds the demo city (districts, streets per district, communities per street, grids per community) in a temporary
SQLite database (never your ./var), then times: the build, ``grids.selectors.grid_index_build`` (read from the
database + parse + index), ``GridIndex`` construction alone, bulk ``locate_many`` on random points in the city's
bounding box, single-point ``GridIndex.locate`` in a loop, and a naive loop over shapely ``contains`` as baseline.
Checks that locate_many agrees with locate (random, outside and border points) and with the naive loop. Prints
peak RSS. Exits 1 when an agreement check fails.
"""

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_POINTS_PER_SECOND = 50_000


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids-spec", default="10,10,10,40",
                        help="districts,streets,communities,grids (default 10,10,10,40 = 40,000 grids)")
    parser.add_argument("--points", type=int, default=500_000, help="random points for bulk locate_many")
    parser.add_argument("--single-points", type=int, default=50_000, help="points for the single-locate loop")
    parser.add_argument("--naive-points", type=int, default=100, help="points for the naive shapely loop")
    parser.add_argument("--check-points", type=int, default=1_000, help="random points for the agreement check")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    try:
        sizes = [int(part) for part in args.grids_spec.split(",")]
        if len(sizes) != 4:
            raise ValueError
    except ValueError:
        parser.error("--grids-spec must be four whole numbers: districts,streets,communities,grids")
    args.sizes = dict(zip(("districts", "streets", "communities", "grids"), sizes, strict=True))
    return args


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def main() -> int:
    args = parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="gridloop-locate-bench-")
    os.environ["GRIDLOOP_VAR_DIR"] = tmp.name
    os.environ.pop("DATABASE_URL", None)  # always the temporary SQLite file
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    import numpy as np
    import shapely
    from django.core.management import call_command

    from grids.demo import demo_city_build
    from grids.geo import GridIndex
    from grids.selectors import grid_index_build

    rows: list[tuple[str, str]] = []

    def row(label, value):
        rows.append((label, value))
        print(f"  {label:<44} {value}", flush=True)

    print(f"Locate benchmark — demo city {args.grids_spec} (seed {args.seed}), SQLite in {tmp.name}")
    _, seconds = timed(call_command, "migrate", verbosity=0, interactive=False)
    row("migrate", f"{seconds:.2f} s")
    city, seconds = timed(demo_city_build, **args.sizes, seed=args.seed, password="bench-only-password")
    row("demo_city_build", f"{seconds:.2f} s ({city.grids:,} grids, {city.users:,} users, "
                           f"{city.role_assignments:,} role rows)")

    index, seconds = timed(grid_index_build)
    row("grid_index_build (DB read + parse + index)", f"{seconds:.2f} s ({len(index):,} grids)")
    # Fresh, unprepared copies of the polygons: GridIndex construction alone (sort, prepare, STRtree).
    raw = list(shapely.from_wkb(shapely.to_wkb(index.geometries)))
    fresh = list(shapely.from_wkb(shapely.to_wkb(index.geometries)))
    _, seconds = timed(GridIndex, index.entries, fresh)
    row("GridIndex construction alone", f"{seconds:.3f} s")

    west, south, east, north = city.bbox
    rng = np.random.default_rng(args.seed)

    def random_points(n):
        return rng.uniform(south, north, n), rng.uniform(west, east, n)

    # Bulk.
    lats, lngs = random_points(args.points)
    found, seconds = timed(index.locate_many, lats, lngs)
    bulk_rate = args.points / seconds
    row("locate_many (bulk)", f"{args.points:,} points in {seconds:.3f} s = {bulk_rate:,.0f} points/s "
                              f"({int((found >= 0).sum()):,} located)")

    # Single point, in a Python loop.
    lats1, lngs1 = random_points(args.single_points)
    locate = index.locate
    started = time.perf_counter()
    for lat, lng in zip(lats1.tolist(), lngs1.tolist(), strict=True):
        locate(lat, lng)
    seconds = time.perf_counter() - started
    single_rate = args.single_points / seconds
    row("GridIndex.locate (single, loop)", f"{args.single_points:,} points in {seconds:.3f} s = "
                                           f"{single_rate:,.0f} points/s")

    # Naive baseline: every polygon (unprepared, in code order like index.entries) until one contains the point.
    latsn, lngsn = random_points(args.naive_points)
    started = time.perf_counter()
    naive = []
    for lat, lng in zip(latsn.tolist(), lngsn.tolist(), strict=True):
        point = shapely.Point(lng, lat)
        naive.append(next((i for i, polygon in enumerate(raw) if polygon.contains(point)), -1))
    seconds = time.perf_counter() - started
    naive_rate = args.naive_points / seconds
    row("naive loop over shapely contains", f"{args.naive_points:,} points in {seconds:.3f} s = "
                                            f"{naive_rate:,.1f} points/s")
    row("speed-up locate_many / naive", f"{bulk_rate / naive_rate:,.0f}×")
    row("speed-up single locate / naive", f"{single_rate / naive_rate:,.0f}×")

    # Agreement: random points, points outside the city, and grid corners (shared by up to four grids).
    failures = 0
    naive_found = index.locate_many(latsn, lngsn).tolist()
    mismatch = sum(a != b for a, b in zip(naive, naive_found, strict=True))
    failures += mismatch
    row("locate_many == naive (sample)", f"{len(naive) - mismatch:,}/{len(naive):,} agree")

    clat, clng = random_points(args.check_points)
    margin_lat, margin_lng = (north - south) * 0.05, (east - west) * 0.05
    olat = rng.uniform(south - margin_lat, north + margin_lat, 200)
    olng = rng.choice([west - margin_lng / 2, east + margin_lng / 2], 200)
    corners = shapely.get_coordinates(shapely.get_exterior_ring(raw[:: max(1, len(raw) // 200)]))
    check_lat = np.concatenate([clat, olat, corners[:, 1]])
    check_lng = np.concatenate([clng, olng, corners[:, 0]])
    bulk = index.locate_many(check_lat, check_lng).tolist()
    single = [locate(lat, lng) for lat, lng in zip(check_lat.tolist(), check_lng.tolist(), strict=True)]
    codes_bulk = [None if i < 0 else index.entries[i].code for i in bulk]
    codes_single = [None if e is None else e.code for e in single]
    mismatch = sum(a != b for a, b in zip(codes_bulk, codes_single, strict=True))
    failures += mismatch
    row("locate_many == locate", f"{len(bulk) - mismatch:,}/{len(bulk):,} agree ({args.check_points:,} random, "
                                 f"200 outside, {len(corners):,} grid corners)")

    row("target bulk ≥ 50,000 points/s", "met" if bulk_rate >= TARGET_POINTS_PER_SECOND else "NOT met")
    row("target single ≥ 50,000 points/s", "met" if single_rate >= TARGET_POINTS_PER_SECOND else "NOT met")
    row("peak RSS (getrusage)", f"{peak_rss_mb():,.0f} MB")
    tmp.cleanup()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
