"""Duplicate detection: per-category radius and window, and a partial index on the points of open cases."""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("events", "0006_wechat")]

    operations = [
        migrations.AddField(
            model_name="category",
            name="duplicate_radius_m",
            field=models.PositiveIntegerField(default=100, validators=[
                django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(1000)],
                verbose_name="duplicate radius (m)"),
        ),
        migrations.AddField(
            model_name="category",
            name="duplicate_window_hours",
            field=models.PositiveIntegerField(default=72, validators=[django.core.validators.MinValueValidator(1)],
                                              verbose_name="duplicate window (hours)"),
        ),
        migrations.AddIndex(
            model_name="case",
            index=models.Index(condition=models.Q(("state__in", [
                "reported", "accepted", "dispatched", "handling", "suspended", "handled", "verified"])),
                fields=["lat", "lng"], name="case_open_point"),
        ),
        migrations.AddConstraint(
            model_name="category",
            constraint=models.CheckConstraint(
                condition=models.Q(("duplicate_radius_m__gte", 1), ("duplicate_radius_m__lte", 1000)),
                name="category_duplicate_radius_range"),
        ),
        migrations.AddConstraint(
            model_name="category",
            constraint=models.CheckConstraint(condition=models.Q(("duplicate_window_hours__gte", 1)),
                                              name="category_duplicate_window_positive"),
        ),
    ]
