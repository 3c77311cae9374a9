from django.core.management.base import BaseCommand, CommandError

from events.integrity import chains_verify
from events.models import Case


class Command(BaseCommand):
    help = "Recompute every case's event hash chain and name the first bad row of each broken case."

    def add_arguments(self, parser):
        parser.add_argument("--case", help="verify only this case number")

    def handle(self, *args, case=None, **options):
        cases = Case.objects.filter(number=case) if case else Case.objects.all()
        if case and not cases.exists():
            raise CommandError(f"no case {case}")
        broken = 0
        for problem in chains_verify(cases):
            broken += 1
            where = f"event #{problem.seq} (id {problem.event_id})" if problem.event_id else "end of chain"
            self.stdout.write(f"case {problem.case_number}: {where}: {problem.problem}")
        total = cases.count()
        if broken:
            raise CommandError(f"{broken} of {total} case chain(s) broken")
        self.stdout.write(f"all {total} case chain(s) intact")
