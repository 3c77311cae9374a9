"""Fewer indexes on cases, events and reports: none another covers, no pattern-ops copies of whole-value lookups,
partial ones where few rows qualify (each index is paid on every intake, and on every transition)."""

import django.db.models.deletion
import django_fsm
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0007_duplicates'),
        ('grids', '0002_roles_version'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='case',
            name='citizen_key',
            field=models.CharField(blank=True, max_length=64, verbose_name='citizen identity hash'),
        ),
        migrations.AlterField(
            model_name='case',
            name='department',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='cases', to='grids.department', verbose_name='department in charge'),
        ),
        migrations.AlterField(
            model_name='case',
            name='merged_into',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='merged_cases', to='events.case', verbose_name='merged into'),
        ),
        migrations.AlterField(
            model_name='case',
            name='number',
            field=models.CharField(max_length=20, verbose_name='case number'),
        ),
        migrations.AlterField(
            model_name='case',
            name='reopen_review',
            field=models.BooleanField(default=False, verbose_name='dissatisfied: reopen decision due'),
        ),
        migrations.AlterField(
            model_name='case',
            name='state',
            field=django_fsm.FSMField(choices=[('reported', 'awaiting acceptance'), ('accepted', 'accepted, awaiting dispatch'), ('dispatched', 'dispatched, awaiting sign-off'), ('handling', 'being handled'), ('suspended', 'suspended'), ('handled', 'handled, awaiting check'), ('verified', 'checked, awaiting feedback'), ('closed', 'closed'), ('rejected', 'not accepted'), ('merged', 'merged'), ('cancelled', 'cancelled')], default='reported', max_length=12, protected=True, verbose_name='state'),
        ),
        migrations.AlterField(
            model_name='caseevent',
            name='case',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='events.case', verbose_name='case'),
        ),
        migrations.AlterField(
            model_name='inboundreport',
            name='citizen_key',
            field=models.CharField(blank=True, max_length=64, verbose_name='citizen identity hash'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(fields=['citizen_key'], name='case_citizen_key'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('merged_into__isnull', False)), fields=['merged_into'], name='case_merged_into'),
        ),
        migrations.AddIndex(
            model_name='case',
            index=models.Index(condition=models.Q(('reopen_review', True)), fields=['reopen_review'], name='case_reopen_review'),
        ),
        migrations.AddIndex(
            model_name='inboundreport',
            index=models.Index(fields=['citizen_key'], name='report_citizen_key'),
        ),
        migrations.AddConstraint(
            model_name='case',
            constraint=models.UniqueConstraint(fields=('number',), name='unique_case_number'),
        ),
    ]
