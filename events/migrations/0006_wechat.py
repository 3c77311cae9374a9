"""Placeholder reserved for wechat (filled by the work on that channel)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("events", "0005_sensors")]
    operations = []
