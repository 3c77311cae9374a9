"""Placeholder reserved for evaluation rollups."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0007_sweep_indexes")]
    operations = []
