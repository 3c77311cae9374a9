"""On PostgreSQL, refuse UPDATE and DELETE on the case event log (it is append-only and hash-chained)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION gridloop_case_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'events_caseevent is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS case_event_append_only ON events_caseevent;
CREATE TRIGGER case_event_append_only BEFORE UPDATE OR DELETE ON events_caseevent
    FOR EACH ROW EXECUTE FUNCTION gridloop_case_event_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS case_event_append_only ON events_caseevent;
DROP FUNCTION IF EXISTS gridloop_case_event_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("events", "0002_cases")]
    operations = [migrations.RunPython(forwards, backwards)]
