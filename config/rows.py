"""Row writes on the hot paths (intake, transitions, clocks) from SQL built once per model, not on every call.

``Model.save()`` compiles its INSERT or UPDATE anew each time; for the case (35 columns), its events and clocks that
was about a tenth of an intake's instructions. ``row_insert`` and ``row_update`` write the same columns with the same
values — each field's ``pre_save`` (``auto_now`` …) and ``get_db_prep_save`` (JSON, dates, foreign keys), as
``save()`` does — from SQL text kept per model, vendor and field list. Like ``bulk_create`` and ``QuerySet.update``
they send no ``pre_save``/``post_save`` signals (the project keeps no logic in signals).

For plain rows of the caller's own: no multi-table inheritance, no deferred fields, no file fields (their
``pre_save`` stores the file: use ``save()``).
"""

from django.db import connections, router
from django.db.models import Model

_statements: dict[tuple, tuple] = {}


def _insert_statement(model, connection) -> tuple:
    key = ("insert", model, connection.vendor)
    found = _statements.get(key)
    if found is None:
        meta, qn = model._meta, connection.ops.quote_name
        fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field and not f.generated]
        returning = connection.features.can_return_columns_from_insert
        sql = "INSERT INTO {} ({}) VALUES ({}){}".format(
            qn(meta.db_table), ", ".join(qn(f.column) for f in fields), ", ".join(["%s"] * len(fields)),
            f" RETURNING {qn(meta.pk.column)}" if returning else "",
        )
        found = _statements[key] = (sql, fields, returning)
    return found


def _update_statement(model, connection, names: tuple[str, ...] | None) -> tuple:
    key = ("update", model, connection.vendor, names)
    found = _statements.get(key)
    if found is None:
        meta, qn = model._meta, connection.ops.quote_name
        if names is None:
            fields = [f for f in meta.local_concrete_fields if not f.primary_key and not f.generated]
        else:
            fields = [meta.get_field(name) for name in names]
        sql = "UPDATE {} SET {} WHERE {} = %s".format(
            qn(meta.db_table), ", ".join(f"{qn(f.column)} = %s" for f in fields), qn(meta.pk.column))
        found = _statements[key] = (sql, fields)
    return found


def row_insert(obj: Model) -> Model:
    """INSERT ``obj`` as ``obj.save(force_insert=True)`` would; its primary key is set from the database."""
    model = type(obj)
    alias = router.db_for_write(model, instance=obj)
    connection = connections[alias]
    sql, fields, returning = _insert_statement(model, connection)
    obj._prepare_related_fields_for_save(operation_name="row_insert")  # a parent saved after obj was built
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection=connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk = cursor.fetchone()[0] if returning else connection.ops.last_insert_id(
            cursor, model._meta.db_table, model._meta.pk.column)
    obj.pk = model._meta.pk.to_python(pk)
    obj._state.adding, obj._state.db = False, alias
    return obj


def row_update(obj: Model, fields: tuple[str, ...] | None = None) -> None:
    """UPDATE ``obj``'s row: all its columns, or the named ``fields``, as ``obj.save(update_fields=…)`` would —
    without its check that the row exists (callers hold the row, usually locked)."""
    model = type(obj)
    alias = router.db_for_write(model, instance=obj)
    connection = connections[alias]
    sql, concrete = _update_statement(model, connection, fields)
    params = [f.get_db_prep_save(f.pre_save(obj, False), connection=connection) for f in concrete]
    params.append(model._meta.pk.get_db_prep_value(obj.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def rows_insert(*objs: Model) -> None:
    """INSERT new rows, each as ``row_insert`` would, where a row may point at one before it in the list (a case,
    then its report, first event and clock): their primary keys and those foreign keys are set from the database.

    On PostgreSQL all go in as one statement (data-modifying ``WITH`` queries; the foreign keys are checked at its
    end): one round trip, atomic on its own, so outside a transaction it needs no BEGIN and COMMIT. Elsewhere it is
    one ``row_insert`` each: the caller runs it in a transaction if the rows must go in together.
    """
    if not objs:
        return
    alias = router.db_for_write(type(objs[0]), instance=objs[0])
    connection = connections[alias]
    if connection.vendor != "postgresql" or len(objs) == 1:
        for obj in objs:
            row_insert(obj)
        return
    qn = connection.ops.quote_name
    position = {id(obj): index for index, obj in enumerate(objs)}
    parts, params, links = [], [], []
    for index, obj in enumerate(objs):
        model = type(obj)
        if router.db_for_write(model, instance=obj) != alias:
            raise ValueError("rows_insert writes to one database")
        _sql, fields, _returning = _insert_statement(model, connection)
        values = []
        for f in fields:
            related = f.get_cached_value(obj, None) if f.is_relation else None
            earlier = position.get(id(related), index) if related is not None else index
            if earlier < index:  # the row of an item before it: its key comes from that item's INSERT
                if f.target_field is not related._meta.pk:
                    raise ValueError(f"rows_insert: {model.__name__}.{f.name} must point at a primary key")
                values.append(f"(SELECT {qn(f.target_field.column)} FROM r{earlier})")
                links.append((obj, f, related))
                continue
            if related is not None:  # as save() checks it (Model._prepare_related_fields_for_save)
                if related.pk is None:
                    raise ValueError(f"rows_insert: {model.__name__}.{f.name} is an unsaved row not listed before it")
                if getattr(obj, f.attname) in f.empty_values:
                    setattr(obj, f.name, related)  # saved after it was assigned
                elif getattr(related, f.target_field.attname) != getattr(obj, f.attname):
                    f.delete_cached_value(obj)
            values.append("%s")
            params.append(f.get_db_prep_save(f.pre_save(obj, True), connection=connection))
        meta = model._meta
        parts.append("r{} AS (INSERT INTO {} ({}) VALUES ({}) RETURNING {})".format(
            index, qn(meta.db_table), ", ".join(qn(f.column) for f in fields), ", ".join(values),
            qn(meta.pk.column)))
    sql = "WITH {} SELECT {}".format(", ".join(parts), ", ".join(
        f"(SELECT {qn(type(obj)._meta.pk.column)} FROM r{index})" for index, obj in enumerate(objs)))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        keys = cursor.fetchone()
    for obj, key in zip(objs, keys, strict=True):
        obj.pk = type(obj)._meta.pk.to_python(key)
        obj._state.adding, obj._state.db = False, alias
    for obj, f, related in links:
        setattr(obj, f.name, related)  # its key, and the related object stays cached
