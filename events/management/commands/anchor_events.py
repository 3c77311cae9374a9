"""Write the day's anchor of the event log now (as the daily beat task does): see events.anchors."""

from django.core.management.base import BaseCommand

from events.anchors import anchor_write


class Command(BaseCommand):
    help = ("Sign the heads of the case event chains and write them to the anchor store (one file per day, never "
            "overwritten; a day already anchored is left as it is).")

    def handle(self, *args, **options):
        written = anchor_write()
        if written.created:
            self.stdout.write(f"anchor {written.name} written: {written.heads} chain head(s)")
        else:
            self.stdout.write(f"{written.day} is already anchored ({written.name}): nothing written")
