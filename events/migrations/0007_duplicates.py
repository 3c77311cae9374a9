"""Placeholder reserved for duplicates (filled by the work on that channel)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("events", "0006_wechat")]
    operations = []
