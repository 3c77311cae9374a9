"""System check: warn when PostgreSQL runs without autovacuum.

Gridloop updates some rows very often (sensor rule states every batch, stage clocks, the outbox, case rows): without
autovacuum their dead versions are never cleaned, tables and indexes grow and every read of them slows down. Like
Django's own database checks it runs only when the check framework is given databases (``manage.py migrate``,
``manage.py check --database default``).
"""

from django.core.checks import Warning
from django.db import DatabaseError, connections

AUTOVACUUM_OFF = "gridloop.W002"


def autovacuum_check(app_configs=None, databases=None, **kwargs):
    warnings = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('autovacuum'), current_setting('track_counts')")
                autovacuum, track_counts = cursor.fetchone()
        except DatabaseError:
            continue  # (the server is down: Django's own checks and the first query say so)
        if autovacuum != "on" or track_counts != "on":
            warnings.append(Warning(
                f"PostgreSQL ({alias}) runs with autovacuum = {autovacuum}, track_counts = {track_counts}: dead rows "
                "of often-updated tables (sensor rule states, stage clocks, the outbox) are never cleaned up, so those "
                "tables and their indexes keep growing and slow down.",
                hint="Set autovacuum = on and track_counts = on in postgresql.conf (the defaults) and reload.",
                id=AUTOVACUUM_OFF,
            ))
    return warnings
