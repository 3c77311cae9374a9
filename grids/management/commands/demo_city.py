from django.core.management.base import BaseCommand, CommandError

from config.errors import InvalidInput
from grids.demo import LIMITS, demo_city_build


class Command(BaseCommand):
    help = (
        "Build the fictional demo city 示范市 (990100): regions tiling exactly, categories, departments of every "
        "responsible type, and staff with roles (one shared password: $GRIDLOOP_DEMO_PASSWORD or 'gridloop-demo'). "
        "Refuses when regions exist; --reset first DELETES ALL regions, departments and users (geography and "
        "staff, superusers included) — categories are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--districts", type=int, default=3, help=f"districts in the city (1–{LIMITS['districts']})")
        parser.add_argument("--streets", type=int, default=4, help=f"streets per district (1–{LIMITS['streets']})")
        parser.add_argument("--communities", type=int, default=5,
                            help=f"communities per street (1–{LIMITS['communities']})")
        parser.add_argument("--grids", type=int, default=10, help=f"unit grids per community (1–{LIMITS['grids']})")
        parser.add_argument("--seed", type=int, default=1, help="seed of the names (same seed, same city)")
        parser.add_argument("--reset", action="store_true",
                            help="delete ALL regions, departments, users and role assignments first")
        parser.add_argument("--quiet", action="store_true", help="print nothing but errors")

    def handle(self, *args, districts, streets, communities, grids, seed, reset, quiet, **options):
        def progress(message):
            if not quiet and options.get("verbosity", 1) > 1:
                self.stdout.write(f"… {message}")

        try:
            city = demo_city_build(districts=districts, streets=streets, communities=communities, grids=grids,
                                   seed=seed, reset=reset, progress=progress)
        except InvalidInput as exc:
            raise CommandError(exc.message) from exc
        if quiet:
            return
        r = city.regions
        self.stdout.write(self.style.SUCCESS(
            f"{city.city_name} ({city.city_code}) built in {city.seconds:.1f} s, seed {city.seed}"
        ))
        self.stdout.write(
            f"regions: {r['city']} city, {r['district']} districts, {r['street']} streets, "
            f"{r['community']} communities, {r['grid']} unit grids\n"
            f"departments: {city.departments}   users: {city.users}   role assignments: {city.role_assignments}   "
            f"categories: {city.categories}\n"
            "bbox (west, south, east, north): " + ", ".join(f"{v:.7f}" for v in city.bbox)
        )
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
