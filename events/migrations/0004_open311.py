"""Open311 GeoReport v2: API keys (stored hashed), and an index on the case event log's time for the update feed."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0003_case_event_append_only"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    operations = [
        migrations.CreateModel(
            name="Open311ApiKey",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, verbose_name="name")),
                ("key_prefix", models.CharField(editable=False, max_length=8, verbose_name="key prefix")),
                ("key_hash", models.CharField(editable=False, max_length=64, unique=True,
                                              verbose_name="key hash (SHA-256)")),
                ("active", models.BooleanField(default=True, verbose_name="active")),
                ("created_at", models.DateTimeField(verbose_name="created at")),
                ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                                                 related_name="+", to=settings.AUTH_USER_MODEL,
                                                 verbose_name="created by")),
                ("services", models.ManyToManyField(blank=True, help_text="Leave empty to allow every service.",
                                                    related_name="+", to="events.category",
                                                    verbose_name="allowed services")),
            ],
            options={
                "verbose_name": "Open311 API key",
                "verbose_name_plural": "Open311 API keys",
                "ordering": ["name", "id"],
            },
        ),
        migrations.AddIndex(
            model_name="caseevent",
            index=models.Index(fields=["occurred_at"], name="case_event_occurred"),
        ),
    ]
