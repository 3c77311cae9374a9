from django.core.management.base import BaseCommand, CommandError

from events.anchors import anchors_verify
from events.integrity import chains_verify
from events.models import Case


class Command(BaseCommand):
    help = ("Recompute every case's event hash chain and name the first bad row of each broken case; then check the "
            "chains against the signed daily anchors and name the day whose anchor a rewritten case breaks.")

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

        anchors = anchors_verify(case_number=case)
        for problem in anchors.breaks:
            if problem.case_number:
                self.stdout.write(f"case {problem.case_number}: breaks the anchor of {problem.day}: {problem.problem}")
            else:
                self.stdout.write(f"anchor of {problem.day}: {problem.problem}")
        if anchors.days:
            self.stdout.write(f"{len(anchors.days)} anchor(s) from {anchors.days[0]} to {anchors.days[-1]}: "
                              f"{anchors.heads_checked} anchored head(s) checked, {len(anchors.breaks)} problem(s)")
        else:
            self.stdout.write("no anchors yet (manage.py anchor_events, or the daily beat task, writes them)")
        if broken or anchors.breaks:
            raise CommandError(f"{broken} of {total} case chain(s) broken, {len(anchors.breaks)} anchor problem(s)")
        self.stdout.write(f"all {total} case chain(s) intact")
