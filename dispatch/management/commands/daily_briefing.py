from datetime import date

from django.core.management.base import BaseCommand, CommandError

from config.errors import DomainError
from dispatch.evaluation.briefing import briefing_generate, briefing_html, briefing_xlsx
from grids.models import Level, Region


class Command(BaseCommand):
    help = ("Make and store the daily briefing (一日一研商) of a region for a day (default: yesterday, every "
            "district); optionally write it as HTML and/or XLSX.")

    def add_arguments(self, parser):
        parser.add_argument("--date", help="the day summarised, YYYY-MM-DD (default: yesterday)")
        parser.add_argument("--region", help="region code (default: every district)")
        parser.add_argument("--html", help="write the HTML page to this file (with --region)")
        parser.add_argument("--xlsx", help="write the XLSX workbook to this file (with --region)")

    def handle(self, *args, date=None, region=None, html=None, xlsx=None, **options):
        day = None
        if date:
            try:
                day = _parse(date)
            except ValueError:
                raise CommandError(f"--date {date!r} is not a date like 2026-03-05") from None
        if (html or xlsx) and not region:
            raise CommandError("--html and --xlsx need --region")
        codes = [region] if region else list(
            Region.objects.filter(level=Level.DISTRICT).order_by("code").values_list("code", flat=True))
        for code in codes:
            try:
                briefing = briefing_generate(region_code=code, day=day)
            except DomainError as error:
                raise CommandError(error.message) from None
            counts = briefing.data["counts"]
            self.stdout.write(
                f"{briefing.day} {briefing.region_code} {briefing.data['region']['name']}: new {counts['new']}, "
                f"closed {counts['closed']}, overdue {counts['overdue']}, escalated {counts['escalated']}, "
                f"open supervision orders {counts['open_supervision_orders']}")
            if html:
                with open(html, "w", encoding="utf-8") as handle:
                    handle.write(briefing_html(briefing.data))
            if xlsx:
                with open(xlsx, "wb") as handle:
                    handle.write(briefing_xlsx(briefing.data))


def _parse(value: str) -> date:
    return date.fromisoformat(value)
