"""Placeholder reserved for the sweep's partial indexes."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0006_supervision_orders")]
    operations = []
