"""Placeholder reserved for sensors (filled by the work on that channel)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("events", "0004_open311")]
    operations = []
