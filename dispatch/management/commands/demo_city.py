import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.utils.timezone import localtime

from config.errors import InvalidInput
from dispatch.demo import CASES_PER_90_DAYS, HISTORY_DAYS, MAX_CASES, MAX_HISTORY_DAYS, demo_city_make
from grids.demo import LIMITS


class ProgressBar:
    """A one-line progress bar on a terminal stream (``\\r`` redraws), plain lines on anything else."""

    WIDTH = 30

    def __init__(self, stream):
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.started = time.perf_counter()
        self.last = ""

    def __call__(self, fraction: float, label: str) -> None:
        fraction = min(1.0, max(0.0, fraction))
        filled = int(fraction * self.WIDTH)
        line = (f"history [{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction * 100:3.0f}%  "
                f"{time.perf_counter() - self.started:5.1f} s  {label}")
        if self.tty:
            self.stream.write("\r" + line.ljust(len(self.last)))
            if fraction >= 1.0:
                self.stream.write("\n")
            self.stream.flush()
        elif int(fraction * 10) != int(self._fraction(self.last) * 10) or fraction >= 1.0:
            self.stream.write(line + "\n")
        self.last = line

    @staticmethod
    def _fraction(line: str) -> float:
        try:
            return float(line.split("]")[1].split("%")[0]) / 100
        except (IndexError, ValueError):
            return -1.0


class Command(BaseCommand):
    help = (
        "Build the fictional demo city 示范市 (990100): regions tiling exactly, categories, departments of every "
        "responsible type, staff with roles (one shared password: $GRIDLOOP_DEMO_PASSWORD or 'gridloop-demo'), and "
        f"{HISTORY_DAYS} days of history made through the real services (about {CASES_PER_90_DAYS:,} cases from every "
        "channel with every outcome, open work in every queue, rollups and league tables). Refuses when regions "
        "exist, and with GRIDLOOP_PRODUCTION=1; --reset first DELETES ALL cases, regions, departments and users "
        "(superusers included) and the case photos — categories are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--districts", type=int, default=3, help=f"districts in the city (1–{LIMITS['districts']})")
        parser.add_argument("--streets", type=int, default=4, help=f"streets per district (1–{LIMITS['streets']})")
        parser.add_argument("--communities", type=int, default=5,
                            help=f"communities per street (1–{LIMITS['communities']})")
        parser.add_argument("--grids", type=int, default=10, help=f"unit grids per community (1–{LIMITS['grids']})")
        parser.add_argument("--seed", type=int, default=1,
                            help="seed of the names and the history (same seed, same city and cases)")
        parser.add_argument("--history-days", type=int, default=HISTORY_DAYS,
                            help=f"days of history up to now (0–{MAX_HISTORY_DAYS}; 0: an empty city)")
        parser.add_argument("--cases", type=int, default=None,
                            help=f"cases in the history (0–{MAX_CASES:,}; default {CASES_PER_90_DAYS:,} per "
                                 f"{HISTORY_DAYS} days)")
        parser.add_argument("--reset", action="store_true",
                            help="delete ALL cases, regions, departments, users and role assignments first")
        parser.add_argument("--quiet", action="store_true", help="print nothing but errors")

    def handle(self, *args, districts, streets, communities, grids, seed, history_days, cases, reset, quiet,
               **options):
        verbose = not quiet and options.get("verbosity", 1) > 1

        def say(message):
            if verbose:
                self.stdout.write(f"… {message}")

        progress = None if quiet else ProgressBar(options.get("stderr") or self.stderr._out or sys.stderr)
        try:
            made = demo_city_make(districts=districts, streets=streets, communities=communities, grids=grids,
                                  seed=seed, reset=reset, history_days=history_days, cases=cases, say=say,
                                  progress=progress)
        except InvalidInput as exc:
            raise CommandError(exc.message) from exc
        if quiet:
            return
        city, history = made.city, made.history
        r = city.regions
        self.stdout.write(self.style.SUCCESS(
            f"{city.city_name} ({city.city_code}) built in {made.seconds:.1f} s, seed {city.seed}"
        ))
        self.stdout.write(
            f"regions: {r['city']} city, {r['district']} districts, {r['street']} streets, "
            f"{r['community']} communities, {r['grid']} unit grids\n"
            f"departments: {city.departments}   users: {city.users}   role assignments: {city.role_assignments}   "
            f"categories: {made.categories}\n"
            "bbox (west, south, east, north): " + ", ".join(f"{v:.7f}" for v in city.bbox)
        )
        if history is not None:
            states = ", ".join(f"{state} {n:,}" for state, n in sorted(history.by_state.items()))
            channels = ", ".join(f"{channel} {n:,}" for channel, n in sorted(history.by_channel.items()))
            self.stdout.write(
                f"history: {history.days} days ({localtime(history.start):%Y-%m-%d} – {localtime(history.end):%Y-%m-%d %H:%M}) in "
                f"{history.seconds:.1f} s: {history.cases:,} cases, {history.events:,} case events, "
                f"{history.photos:,} photos, {history.escalations:,} escalations, "
                f"{history.supervision_orders:,} urges and supervision orders, {history.sensors} sensors, "
                f"{history.league_tables} league tables\n"
                f"  by state: {states}\n  by channel: {channels}"
            )
            if history.skipped:
                self.stderr.write(f"{len(history.skipped)} planned step(s) were refused by the services, e.g. "
                                  + "; ".join(history.skipped[:3]))
        rows = city.main_logins
        width = max(len(username) for username, _, _ in rows)
        pw_width = max(len("password"), *(len(password) for _, password, _ in rows))
        self.stdout.write("")
        self.stdout.write(f"{'username':<{width}}  {'password':<{pw_width}}  role")
        self.stdout.write(f"{'-' * width}  {'-' * pw_width}  {'-' * 40}")
        for username, password, description in rows:
            self.stdout.write(f"{username:<{width}}  {password:<{pw_width}}  {description}")
        more = len(city.logins) - len(rows)
        if more > 0:
            self.stdout.write(f"… {more} more users (same password)")
