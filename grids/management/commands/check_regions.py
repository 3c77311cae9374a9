from django.core.management.base import BaseCommand, CommandError

from grids.geo import GeometryError
from grids.models import Level, Region
from grids.selectors import region_geometry_problems


class Command(BaseCommand):
    help = (
        "Check region geometry: unit grids overlapping each other and regions sticking out of their parent by more "
        "than --tolerance m² (areas by an equirectangular approximation). Shared borders are fine. Prints one line "
        "per problem and fails (exit status 1) when there is any."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tolerance", type=float, default=1.0, metavar="M2",
                            help="ignore overlaps and overhangs up to this many m² (default 1)")

    def handle(self, *args, tolerance, **options):
        if not tolerance >= 0:
            raise CommandError(f"--tolerance must be a number of m² ≥ 0, got {tolerance}")
        try:
            overlaps, outside = region_geometry_problems(tolerance)
        except GeometryError as exc:
            raise CommandError(f"stored boundary does not parse: {exc}") from exc
        for a, b, area in overlaps:
            self.stdout.write(f"overlap: grids {a} and {b} overlap by {area:,.1f} m²")
        for child, parent, area in outside:
            self.stdout.write(f"outside parent: {child} sticks out of {parent} by {area:,.1f} m²")
        grids = Region.objects.filter(level=Level.GRID).count()
        regions = Region.objects.count()
        summary = (
            f"{grids} unit grids and {regions} regions checked (tolerance {tolerance:g} m²): "
            f"{len(overlaps)} overlapping grid pair(s), {len(outside)} region(s) outside their parent"
        )
        if overlaps or outside:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(f"no overlaps: {summary}"))
