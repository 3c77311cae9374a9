from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from config.errors import DomainError
from dispatch.evaluation.scores import league_tables_compute


class Command(BaseCommand):
    help = ("Compute and store a month's league tables (departments, districts, streets, grid workers, dispatchers) "
            "with the red and yellow lists and the black listings (default: last month).")

    def add_arguments(self, parser):
        parser.add_argument("--month", help="YYYY-MM (default: last month)")

    def handle(self, *args, month=None, **options):
        if month:
            try:
                first = date.fromisoformat(f"{month}-01")
            except ValueError:
                raise CommandError(f"--month {month!r} is not a month like 2026-03") from None
        else:
            first = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
        try:
            tables = league_tables_compute(month=first)
        except DomainError as error:
            raise CommandError(error.message) from None
        for table in tables:
            entries = table.entries.all()
            listed = {kind: [e.name for e in entries if e.listing == kind] for kind in ("red", "yellow")}
            self.stdout.write(f"{table}: {entries.count()} unit(s); red: {', '.join(listed['red']) or '-'}; "
                              f"yellow: {', '.join(listed['yellow']) or '-'}")
