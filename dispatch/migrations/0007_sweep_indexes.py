"""The sweep's partial indexes (one per claim query: clocks turning yellow, clocks turning red, red clocks still to be
escalated — only open, running clocks) replace the two (finished_at, …) indexes and the clock's own index on case
(clock_case_open covers it); one SLA policy per stage × category × urgency × level."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0006_supervision_orders")]
    operations = [
        migrations.AlterField(
            model_name="stageclock",
            name="case",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="clocks", to="events.case", verbose_name="case"),
        ),
        migrations.RemoveIndex(
            model_name="stageclock",
            name="clock_due_warn",
        ),
        migrations.RemoveIndex(
            model_name="stageclock",
            name="clock_due_deadline",
        ),
        migrations.AddIndex(
            model_name="stageclock",
            index=models.Index(
                condition=models.Q(("finished_at__isnull", True), ("light", "green"), ("paused_at__isnull", True)),
                fields=["warn_at"], name="clock_due_green"),
        ),
        migrations.AddIndex(
            model_name="stageclock",
            index=models.Index(
                condition=models.Q(("finished_at__isnull", True), ("light", "yellow"), ("paused_at__isnull", True)),
                fields=["deadline"], name="clock_due_yellow"),
        ),
        migrations.AddIndex(
            model_name="stageclock",
            index=models.Index(
                condition=models.Q(("escalated_for_breach", False), ("finished_at__isnull", True),
                                   ("level__in", ["street", "district"]), ("light", "red"),
                                   ("paused_at__isnull", True)),
                fields=["deadline"], name="clock_breach_pending"),
        ),
        migrations.AddConstraint(
            model_name="slapolicy",
            constraint=models.UniqueConstraint(condition=models.Q(("category__isnull", False)),
                                               fields=("stage", "category", "urgency", "level"),
                                               name="sla_policy_unique"),
        ),
        migrations.AddConstraint(
            model_name="slapolicy",
            constraint=models.UniqueConstraint(condition=models.Q(("category__isnull", True)),
                                               fields=("stage", "urgency", "level"),
                                               name="sla_policy_unique_any_category"),
        ),
    ]
