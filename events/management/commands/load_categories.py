from django.core.management.base import BaseCommand, CommandError

from events.services import DEFAULT_CATEGORIES_CSV, CategoryLoadError, categories_load


class Command(BaseCommand):
    help = "Load or update categories (部件/事件 大类/小类) from a CSV (default: the bundled demo set)."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", default=str(DEFAULT_CATEGORIES_CSV))

    def handle(self, *args, file, **options):
        try:
            summary = categories_load(path=file)
        except CategoryLoadError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"categories: {summary.created} created, {summary.updated} updated")
