"""IoT sensors: device registry, integration keys, rules, raw readings, rule states, alarms, reject counters.

On PostgreSQL also: a BRIN index on the readings' ``received_at`` (retention deletes by it; a BRIN index costs next to
nothing on insert, unlike a B-tree), and room on the rule-state pages (fillfactor 50), which every batch updates, so
the updates stay HOT (no index entries, dead versions pruned in place)."""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models

TUNING = """
CREATE INDEX IF NOT EXISTS sensor_reading_received_brin ON events_sensorreading USING brin (received_at);
ALTER TABLE events_sensorrulestate SET (fillfactor = 50);
"""
UNDO = """
DROP INDEX IF EXISTS sensor_reading_received_brin;
ALTER TABLE events_sensorrulestate RESET (fillfactor);
"""


def postgres_tuning(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TUNING, params=None)


def postgres_tuning_undo(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNDO, params=None)


class Migration(migrations.Migration):
    dependencies = [("events", "0004_open311"), ("grids", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name='SensorIntegrationKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key_id', models.CharField(max_length=40, unique=True, verbose_name='key id')),
                ('name', models.CharField(max_length=100, verbose_name='integrator')),
                ('secret', models.CharField(max_length=128, verbose_name='secret')),
                ('active', models.BooleanField(default=True, verbose_name='active')),
                ('created_at', models.DateTimeField(verbose_name='created at')),
            ],
            options={
                'verbose_name': 'sensor integration key',
                'verbose_name_plural': 'sensor integration keys',
                'ordering': ['key_id'],
            },
        ),
        migrations.CreateModel(
            name='SensorDevice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('device_id', models.CharField(max_length=64, unique=True, validators=[django.core.validators.RegexValidator('^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$')], verbose_name='device id')),
                ('type', models.CharField(choices=[('water_level', 'water level'), ('manhole_tilt', 'manhole cover tilt'), ('smoke', 'smoke'), ('bin_fill', 'garbage-bin fill level'), ('noise', 'noise'), ('other', 'other')], max_length=20, verbose_name='type')),
                ('name', models.CharField(blank=True, max_length=100, verbose_name='name')),
                ('lat', models.FloatField(verbose_name='latitude')),
                ('lng', models.FloatField(verbose_name='longitude')),
                ('address', models.CharField(blank=True, max_length=300, verbose_name='address')),
                ('region_code', models.CharField(db_index=True, max_length=15, verbose_name='region code')),
                ('secret', models.CharField(max_length=128, verbose_name='secret')),
                ('active', models.BooleanField(default=True, verbose_name='active')),
                ('registered_at', models.DateTimeField(verbose_name='registered at')),
                ('updated_at', models.DateTimeField(verbose_name='updated at')),
                ('department', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='sensors', to='grids.department', verbose_name='owner department')),
                ('grid', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='grids.region', verbose_name='unit grid')),
                ('integration_key', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='devices', to='events.sensorintegrationkey', verbose_name='integration key')),
            ],
            options={
                'verbose_name': 'sensor',
                'verbose_name_plural': 'sensors',
                'ordering': ['device_id'],
            },
        ),
        migrations.CreateModel(
            name='SensorReading',
            fields=[
                ('pk', models.CompositePrimaryKey('device', 'seq', blank=True, editable=False, primary_key=True, serialize=False)),
                ('seq', models.PositiveBigIntegerField(verbose_name='sequence number')),
                ('ts', models.DateTimeField(verbose_name='measured at')),
                ('metric', models.CharField(max_length=32, verbose_name='metric')),
                ('value', models.FloatField(verbose_name='value')),
                ('alarm', models.BooleanField(default=False, verbose_name='alarm flag')),
                ('received_at', models.DateTimeField(verbose_name='received at')),
                ('device', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.sensordevice', verbose_name='sensor')),
            ],
            options={
                'verbose_name': 'sensor reading',
                'verbose_name_plural': 'sensor readings',
            },
        ),
        migrations.CreateModel(
            name='SensorRejectCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(verbose_name='day (UTC)')),
                ('source', models.CharField(choices=[('http', 'HTTP'), ('mqtt', 'MQTT'), ('rule', 'rule evaluation')], max_length=4, verbose_name='source')),
                ('reason', models.CharField(choices=[('malformed', 'malformed'), ('unknown_device', 'unknown device'), ('inactive_device', 'device deactivated'), ('not_authorized', 'not allowed for this signer'), ('ts_in_future', 'timestamp in the future'), ('ts_too_old', 'timestamp older than the retention period'), ('duplicate', 'duplicate (already received)'), ('unknown_key', 'unknown integration key'), ('bad_signature', 'bad signature'), ('stale_timestamp', 'stale timestamp'), ('too_large', 'batch too large'), ('case_failed', 'alarm could not open a case'), ('error', 'internal error')], max_length=20, verbose_name='reason')),
                ('count', models.PositiveBigIntegerField(default=0, verbose_name='count')),
                ('last_detail', models.CharField(blank=True, max_length=300, verbose_name='last detail')),
                ('last_at', models.DateTimeField(verbose_name='last at')),
            ],
            options={
                'verbose_name': 'sensor reject count',
                'verbose_name_plural': 'sensor reject counts',
                'ordering': ['-day', 'source', 'reason'],
                'constraints': [models.UniqueConstraint(fields=('day', 'source', 'reason'), name='unique_sensor_reject_count')],
            },
        ),
        migrations.CreateModel(
            name='SensorRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100, verbose_name='name')),
                ('device_type', models.CharField(choices=[('water_level', 'water level'), ('manhole_tilt', 'manhole cover tilt'), ('smoke', 'smoke'), ('bin_fill', 'garbage-bin fill level'), ('noise', 'noise'), ('other', 'other')], max_length=20, verbose_name='device type')),
                ('metric', models.CharField(max_length=32, validators=[django.core.validators.RegexValidator('^[a-z][a-z0-9_]{0,31}$')], verbose_name='metric')),
                ('comparison', models.CharField(choices=[('gt', '>'), ('gte', '≥'), ('lt', '<'), ('lte', '≤')], default='gt', max_length=3, verbose_name='comparison')),
                ('threshold', models.FloatField(blank=True, help_text='Empty: only readings the device flags as alarms trigger the rule.', null=True, verbose_name='threshold')),
                ('duration_seconds', models.PositiveIntegerField(default=0, help_text='How long readings must stay beyond the threshold before a case is opened (0: at once).', verbose_name='for at least (seconds)')),
                ('urgency', models.CharField(choices=[('normal', 'normal'), ('urgent', 'urgent')], default='urgent', max_length=10, verbose_name='urgency')),
                ('verify_on_recovery', models.BooleanField(default=True, help_text='When readings return to normal, ask the grid worker to check on site.', verbose_name='ask for an on-site check on recovery')),
                ('active', models.BooleanField(default=True, verbose_name='active')),
                ('category', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.category', verbose_name='category')),
            ],
            options={
                'verbose_name': 'sensor rule',
                'verbose_name_plural': 'sensor rules',
                'ordering': ['device_type', 'metric', 'id'],
            },
        ),
        migrations.CreateModel(
            name='SensorAlarm',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('alarm', 'alarm'), ('recovered', 'recovered')], max_length=10, verbose_name='kind')),
                ('seq', models.PositiveBigIntegerField(verbose_name='reading number')),
                ('ts', models.DateTimeField(verbose_name='measured at')),
                ('value', models.FloatField(verbose_name='value')),
                ('since', models.DateTimeField(blank=True, null=True, verbose_name='beyond the threshold since')),
                ('created_at', models.DateTimeField(verbose_name='created at')),
                ('processed_at', models.DateTimeField(blank=True, null=True, verbose_name='processed at')),
                ('outcome', models.CharField(blank=True, choices=[('opened', 'opened a case'), ('occurrence', 'added to the open case'), ('recovered', 'recorded on the open case'), ('no_case', 'no open case'), ('failed', 'failed')], max_length=10, verbose_name='outcome')),
                ('detail', models.CharField(blank=True, max_length=500, verbose_name='detail')),
                ('case', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.case', verbose_name='case')),
                ('device', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.sensordevice', verbose_name='sensor')),
                ('rule', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.sensorrule', verbose_name='rule')),
            ],
            options={
                'verbose_name': 'sensor alarm',
                'verbose_name_plural': 'sensor alarms',
                'ordering': ['-id'],
                'indexes': [models.Index(condition=models.Q(('processed_at__isnull', True)), fields=['created_at'], name='sensor_alarm_pending')],
                'constraints': [models.UniqueConstraint(fields=('device', 'rule', 'kind', 'seq'), name='unique_sensor_alarm')],
            },
        ),
        migrations.CreateModel(
            name='SensorRuleState',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('run_start', models.DateTimeField(blank=True, null=True, verbose_name='beyond the threshold since')),
                ('run_fired', models.BooleanField(default=False, verbose_name='alarm raised for this run')),
                ('last_ts', models.DateTimeField(blank=True, null=True, verbose_name='last reading at')),
                ('last_seq', models.PositiveBigIntegerField(blank=True, null=True, verbose_name='last reading number')),
                ('occurrences', models.PositiveIntegerField(default=0, verbose_name='occurrences on the case')),
                ('verify_pending', models.BooleanField(default=False, verbose_name='on-site check requested')),
                ('case', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.case', verbose_name='case')),
                ('device', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.sensordevice', verbose_name='sensor')),
                ('rule', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.sensorrule', verbose_name='rule')),
            ],
            options={
                'verbose_name': 'sensor rule state',
                'verbose_name_plural': 'sensor rule states',
                'constraints': [models.UniqueConstraint(fields=('device', 'rule'), name='unique_sensor_rule_state')],
            },
        ),
        migrations.RunPython(postgres_tuning, postgres_tuning_undo),
    ]
