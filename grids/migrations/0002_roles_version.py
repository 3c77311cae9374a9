"""User.roles_version, and the database triggers that move it on whenever what ``grids.selectors.roles_of`` returns
for the user could change: a role assignment of theirs is added, changed or removed, or a region or department one
names is changed. Triggers, not service code: the admin, imports and bulk writes all change these tables.

The step is random (1 … 2^30), so that a version seen inside a transaction that then rolled back is not met again
by a later, real change (a process may have cached the roles it read under that version).
"""

from django.db import migrations, models

import grids.models

BUMP_PG = "roles_version = roles_version + 1 + floor(random() * 1073741823)::bigint"
BUMP_SQLITE = "roles_version = roles_version + 1 + abs(random() % 1073741823)"

POSTGRES = f"""
CREATE OR REPLACE FUNCTION gridloop_roles_version_assignments() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE grids_user SET {BUMP_PG} WHERE id IN (SELECT user_id FROM old_rows);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE grids_user SET {BUMP_PG} WHERE id IN (SELECT user_id FROM new_rows);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER roles_version_insert AFTER INSERT ON grids_roleassignment
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION gridloop_roles_version_assignments();
CREATE TRIGGER roles_version_update AFTER UPDATE ON grids_roleassignment
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION gridloop_roles_version_assignments();
CREATE TRIGGER roles_version_delete AFTER DELETE ON grids_roleassignment
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION gridloop_roles_version_assignments();

CREATE OR REPLACE FUNCTION gridloop_roles_version_department() RETURNS trigger AS $$
BEGIN
    UPDATE grids_user SET {BUMP_PG}
    WHERE id IN (SELECT user_id FROM grids_roleassignment WHERE department_id = NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER roles_version_department AFTER UPDATE ON grids_department FOR EACH ROW
    WHEN ((OLD.code, OLD.name, OLD.type, OLD.level, OLD.region_id, OLD.active)
          IS DISTINCT FROM (NEW.code, NEW.name, NEW.type, NEW.level, NEW.region_id, NEW.active))
    EXECUTE FUNCTION gridloop_roles_version_department();

CREATE OR REPLACE FUNCTION gridloop_roles_version_region() RETURNS trigger AS $$
BEGIN
    UPDATE grids_user SET {BUMP_PG}
    WHERE id IN (SELECT user_id FROM grids_roleassignment WHERE region_id = NEW.id
                 OR department_id IN (SELECT id FROM grids_department WHERE region_id = NEW.id));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER roles_version_region AFTER UPDATE ON grids_region FOR EACH ROW
    WHEN ((OLD.code, OLD.name, OLD.level, OLD.parent_id) IS DISTINCT FROM (NEW.code, NEW.name, NEW.level, NEW.parent_id))
    EXECUTE FUNCTION gridloop_roles_version_region();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS roles_version_insert ON grids_roleassignment;
DROP TRIGGER IF EXISTS roles_version_update ON grids_roleassignment;
DROP TRIGGER IF EXISTS roles_version_delete ON grids_roleassignment;
DROP TRIGGER IF EXISTS roles_version_department ON grids_department;
DROP TRIGGER IF EXISTS roles_version_region ON grids_region;
DROP FUNCTION IF EXISTS gridloop_roles_version_assignments();
DROP FUNCTION IF EXISTS gridloop_roles_version_department();
DROP FUNCTION IF EXISTS gridloop_roles_version_region();
"""

SQLITE = [
    f"""CREATE TRIGGER roles_version_insert AFTER INSERT ON grids_roleassignment BEGIN
        UPDATE grids_user SET {BUMP_SQLITE} WHERE id = NEW.user_id; END""",
    f"""CREATE TRIGGER roles_version_update AFTER UPDATE ON grids_roleassignment BEGIN
        UPDATE grids_user SET {BUMP_SQLITE} WHERE id IN (OLD.user_id, NEW.user_id); END""",
    f"""CREATE TRIGGER roles_version_delete AFTER DELETE ON grids_roleassignment BEGIN
        UPDATE grids_user SET {BUMP_SQLITE} WHERE id = OLD.user_id; END""",
    f"""CREATE TRIGGER roles_version_department AFTER UPDATE OF code, name, type, level, region_id, active
        ON grids_department BEGIN
        UPDATE grids_user SET {BUMP_SQLITE}
        WHERE id IN (SELECT user_id FROM grids_roleassignment WHERE department_id = NEW.id); END""",
    f"""CREATE TRIGGER roles_version_region AFTER UPDATE OF code, name, level, parent_id ON grids_region
        WHEN OLD.code IS NOT NEW.code OR OLD.name IS NOT NEW.name OR OLD.level IS NOT NEW.level
             OR OLD.parent_id IS NOT NEW.parent_id BEGIN
        UPDATE grids_user SET {BUMP_SQLITE}
        WHERE id IN (SELECT user_id FROM grids_roleassignment WHERE region_id = NEW.id
                     OR department_id IN (SELECT id FROM grids_department WHERE region_id = NEW.id)); END""",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS {name}" for name in (
    "roles_version_insert", "roles_version_update", "roles_version_delete", "roles_version_department",
    "roles_version_region")]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement, params=None)
    else:
        raise NotImplementedError(f"grids 0002: no roles_version triggers written for {vendor}")


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("grids", "0001_initial")]
    operations = [
        migrations.AddField(
            model_name="user",
            name="roles_version",
            field=models.BigIntegerField(default=grids.models.roles_version_start, editable=False,
                                         verbose_name="roles version"),
        ),
        migrations.RunPython(forwards, backwards),
    ]
