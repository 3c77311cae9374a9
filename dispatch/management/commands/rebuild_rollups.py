from django.core.management.base import BaseCommand, CommandError

from dispatch.evaluation.direct import direct_mismatches
from dispatch.evaluation.rollups import rollups_catch_up, rollups_rebuild


class Command(BaseCommand):
    help = ("Recompute every evaluation fact and rollup from the case event log and the stage clocks; with --check, "
            "then compare the rollups with counts made directly from the cases, events and clocks.")

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=2000, help="cases per transaction (default 2000)")
        parser.add_argument("--check", action="store_true",
                            help="afterwards compare every counter per day, region, department, category and channel "
                                 "with a direct count; exit 1 on any difference")
        parser.add_argument("--catch-up", action="store_true",
                            help="do not rebuild: only count the events the sweep has not counted yet")

    def handle(self, *args, batch=2000, check=False, catch_up=False, **options):
        if batch <= 0:
            raise CommandError("--batch must be above 0")
        if catch_up:
            result = rollups_catch_up(limit=batch)
            self.stdout.write(f"counted {result.events} new event(s) of {result.cases} case(s); "
                              f"{result.changed} case(s) changed, {result.rollup_rows} rollup row(s) updated")
        else:
            verbose = options.get("verbosity", 1) > 1

            def progress(total):
                if verbose:
                    self.stdout.write(f"… {total.cases} case(s)")

            result = rollups_rebuild(batch=batch, progress=progress)
            self.stdout.write(f"rebuilt the facts of {result.cases} case(s): {result.changed} with facts, "
                              f"{result.rollup_rows} rollup row(s) written")
        if check:
            problems = direct_mismatches()
            for line in problems[:50]:
                self.stdout.write(line)
            if problems:
                raise CommandError(f"{len(problems)} rollup value(s) differ from the direct count")
            self.stdout.write("rollups agree with the direct count")
