import csv
import os

from django.core.management.base import BaseCommand, CommandError, no_translations

from events.sensors.services import DEVICE_COLUMNS, DeviceImportError, devices_import


class Command(BaseCommand):
    help = ("Register or update sensors from a UTF-8 CSV with the columns " + ", ".join(DEVICE_COLUMNS)
            + " (the first five required; department = a department code). All-or-nothing: every problem is listed "
            "as 'line N, field F: why'. Secrets made for new devices go to --secrets-out (mode 600) or stdout.")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--secrets-out", help="write device_id,secret of the new devices here (not stdout)")

    @no_translations  # an English command line, like the rest of manage.py (the problems too)
    def handle(self, *args, file, secrets_out=None, **options):
        try:
            summary = devices_import(path=file)
        except DeviceImportError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"sensors: {summary.created} created, {summary.updated} updated")
        if not summary.secrets:
            return
        if secrets_out:
            fd = os.open(secrets_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, lineterminator="\n")  # LF: shell tools (cut, read) keep no \r
                writer.writerow(["device_id", "secret"])
                writer.writerows(sorted(summary.secrets.items()))
            self.stdout.write(f"secrets of {len(summary.secrets)} new sensors written to {secrets_out}")
        else:
            self.stdout.write("device_id,secret")
            for device_id, secret in sorted(summary.secrets.items()):
                self.stdout.write(f"{device_id},{secret}")
