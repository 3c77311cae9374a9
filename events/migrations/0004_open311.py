"""Placeholder reserved for open311 (filled by the work on that channel)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("events", "0003_case_event_append_only")]
    operations = []
