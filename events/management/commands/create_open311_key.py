from django.core.management.base import BaseCommand, CommandError

from config.errors import InvalidInput
from events.models import Category
from events.open311.services import open311_key_create
from grids.models import User


class Command(BaseCommand):
    help = ("Make an Open311 API key and print it once (only its hash is stored). The key alone goes to stdout, "
            "the explanation to stderr: KEY=$(manage.py create_open311_key 'Citizen app').")

    def add_arguments(self, parser):
        parser.add_argument("name", help="who will use the key, e.g. the app's name")
        parser.add_argument("--services", default="",
                            help="comma separated service codes (category codes) the key may file; default: all")
        parser.add_argument("--created-by", default="", help="username of the admin making the key")

    def handle(self, *args, name, services, created_by, **options):
        codes = [code.strip() for code in services.split(",") if code.strip()]
        categories = list(Category.objects.filter(code__in=codes))
        unknown = sorted(set(codes) - {category.code for category in categories})
        if unknown:
            raise CommandError(f"unknown service codes: {', '.join(unknown)}")
        user = None
        if created_by:
            user = User.objects.filter(username=created_by).first()
            if user is None:
                raise CommandError(f"no user {created_by!r}")
        try:
            key, raw = open311_key_create(name=name, created_by=user, services=categories)
        except InvalidInput as exc:
            raise CommandError(exc.message) from exc
        allowed = ", ".join(sorted(codes)) or "all services"
        self.stderr.write(f"Open311 API key {key.name!r} made (id {key.pk}, {allowed}). Copy it now: only its hash "
                          "is stored, it cannot be shown again.")
        self.stdout.write(raw)
