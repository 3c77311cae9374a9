from django.conf import settings
from django.core.management.base import BaseCommand

from events.sensors.services import sensor_readings_purge


class Command(BaseCommand):
    help = "Delete raw sensor readings received more than GRIDLOOP_SENSOR_RETENTION_DAYS ago (in batches)."

    def handle(self, *args, **options):
        deleted = sensor_readings_purge()
        self.stdout.write(f"sensor readings deleted: {deleted} (retention {settings.GRIDLOOP_SENSOR_RETENTION_DAYS} "
                          "days)")
