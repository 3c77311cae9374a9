"""WeChat official account (issue 5): messages as received, conversations, photos to fetch, the shared access token;
cases may wait for their location (unstructured reports) and carry the reopen-decision flag."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("events", "0005_sensors"), ("grids", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name='WeChatAccessToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('app_id', models.CharField(max_length=64, unique=True, verbose_name='AppID')),
                ('token', models.CharField(blank=True, max_length=600, verbose_name='access token')),
                ('expires_at', models.DateTimeField(verbose_name='expires at')),
                ('fetched_at', models.DateTimeField(verbose_name='fetched at')),
            ],
            options={
                'verbose_name': 'WeChat access token',
                'verbose_name_plural': 'WeChat access tokens',
            },
        ),
        migrations.CreateModel(
            name='WeChatConversation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('openid', models.CharField(max_length=64, unique=True, verbose_name='WeChat openid')),
                ('step', models.CharField(choices=[('location', 'waiting for the location'), ('photos', 'waiting for photos'), ('description', 'waiting for the description')], max_length=12, verbose_name='step')),
                ('draft', models.JSONField(default=dict, verbose_name='draft')),
                ('started_at', models.DateTimeField(verbose_name='started at')),
                ('updated_at', models.DateTimeField(verbose_name='updated at')),
                ('expires_at', models.DateTimeField(db_index=True, verbose_name='expires at')),
            ],
            options={
                'verbose_name': 'WeChat conversation',
                'verbose_name_plural': 'WeChat conversations',
            },
        ),
        migrations.AddField(
            model_name='case',
            name='reopen_review',
            field=models.BooleanField(db_index=True, default=False, verbose_name='dissatisfied: reopen decision due'),
        ),
        migrations.AddField(
            model_name='case',
            name='unstructured',
            field=models.BooleanField(default=False, verbose_name='awaiting location (unstructured report)'),
        ),
        migrations.AlterField(
            model_name='case',
            name='district',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='grids.region', verbose_name='district'),
        ),
        migrations.AlterField(
            model_name='case',
            name='street',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='grids.region', verbose_name='street'),
        ),
        migrations.CreateModel(
            name='WeChatMessage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('dedupe_key', models.CharField(max_length=120, unique=True, verbose_name='de-duplication key')),
                ('openid', models.CharField(db_index=True, max_length=64, verbose_name='WeChat openid')),
                ('msg_type', models.CharField(max_length=20, verbose_name='message type')),
                ('payload', models.JSONField(default=dict, verbose_name='message fields')),
                ('reply', models.TextField(blank=True, verbose_name='reply')),
                ('filing', models.JSONField(blank=True, default=dict, verbose_name='filing in progress')),
                ('received_at', models.DateTimeField(verbose_name='received at')),
                ('case', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.case', verbose_name='case')),
            ],
            options={
                'verbose_name': 'WeChat message',
                'verbose_name_plural': 'WeChat messages',
                'ordering': ['-id'],
            },
        ),
        migrations.CreateModel(
            name='WeChatPhoto',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('media_id', models.CharField(max_length=128, verbose_name='media id')),
                ('pic_url', models.URLField(blank=True, max_length=500, verbose_name='picture URL')),
                ('state', models.CharField(choices=[('pending', 'to fetch'), ('stored', 'stored'), ('failed', 'could not be fetched')], default='pending', max_length=10, verbose_name='state')),
                ('attempts', models.PositiveIntegerField(default=0, verbose_name='attempts')),
                ('next_attempt_at', models.DateTimeField(verbose_name='next attempt at')),
                ('last_error', models.TextField(blank=True, verbose_name='last error')),
                ('attachment', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.attachment', verbose_name='photo')),
                ('case', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.case', verbose_name='case')),
            ],
            options={
                'verbose_name': 'WeChat photo',
                'verbose_name_plural': 'WeChat photos',
                'ordering': ['id'],
                'indexes': [models.Index(fields=['state', 'next_attempt_at'], name='wechat_photo_due')],
                'constraints': [models.UniqueConstraint(fields=('case', 'media_id'), name='unique_wechat_photo_per_case')],
            },
        ),
    ]
