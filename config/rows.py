"""Row writes on the hot paths (intake, transitions, clocks) from SQL built once per model, not on every call.

``Model.save()`` compiles its INSERT or UPDATE anew each time; for the case (35 columns), its events and clocks that
was about a tenth of an intake's instructions. ``row_insert`` and ``row_update`` write the same columns with the same
values — each field's ``pre_save`` (``auto_now`` …) and ``get_db_prep_save`` (JSON, dates, foreign keys), as
``save()`` does — from SQL text kept per model, vendor and field list. Like ``bulk_create`` and ``QuerySet.update``
they send no ``pre_save``/``post_save`` signals (the project keeps no logic in signals).

``rows_insert`` writes a few new rows that point at each other (a case and its first rows), each as one statement on
PostgreSQL. ``rows_insert_many`` and ``rows_update_many`` are the project's one writer of many rows of a model (sensor
alarms and rule states, signal events, outbox messages, cases moved on together): on PostgreSQL one statement whose
text does not depend on the number of rows — each column as a typed array sent in binary, ``unnest``-ed — so it is
prepared once; elsewhere Django's ``bulk_create`` / ``bulk_update``.

For plain rows of the caller's own: no multi-table inheritance, no deferred fields, no file fields (their
``pre_save`` stores the file: use ``save()``).

Both reach past Django's public API (``Model._prepare_related_fields_for_save``; a psycopg 3 cursor's ``%b``
parameters): they are hooks of ``config.fastpath``, and when their check fails or ``GRIDLOOP_COMPILED_QUERIES=0``
each function does what it stands for with the ORM (``save()``, ``bulk_create``, ``bulk_update``).
"""

import json
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import TypeVar
from uuid import UUID

from django.db import connections, router, transaction
from django.db.models import (
    BooleanField,
    CharField,
    DateTimeField,
    Field,
    FloatField,
    IntegerField,
    Model,
    TextField,
)
from django.db.models.fields.related import ForeignKey

from config import fastpath

try:
    from psycopg.types.json import Json, Jsonb
except ImportError:  # (no psycopg: SQLite only, where nothing is wrapped)
    Json = Jsonb = ()  # type: ignore[misc,assignment]

_statements: dict[tuple, tuple] = {}


def _statements_check() -> str:
    return fastpath.first_problem(
        fastpath.has_parameters(Model._prepare_related_fields_for_save, "operation_name"),
        fastpath.has_attributes(Field, "generated", "pre_save", "get_db_prep_save"),
        fastpath.has_attributes(ForeignKey, "target_field", "get_cached_value", "delete_cached_value"),
    )


def _arrays_check() -> str:
    """psycopg 3 under Django's cursor: ``%b`` parameters (arrays in binary) and its JSON wrappers."""
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    if not is_psycopg3:
        return "the PostgreSQL driver is not psycopg 3"
    return "" if Json else "psycopg is not installed"


fastpath.hook("rows.statements", _statements_check)
fastpath.hook("rows.arrays", _arrays_check)


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


M = TypeVar("M", bound=Model)


def row_insert(obj: M) -> M:
    """INSERT ``obj`` as ``obj.save(force_insert=True)`` would; its primary key is set from the database."""
    if not fastpath.active("rows.statements"):
        obj.save(force_insert=True)
        return obj
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
    if not fastpath.active("rows.statements"):
        names = fields if fields is not None else [
            f.name for f in model._meta.local_concrete_fields if not f.primary_key and not f.generated]
        obj.save(update_fields=names)
        return
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
    end): one round trip, atomic on its own, so outside a transaction it needs no BEGIN and COMMIT. Each row travels
    as one JSON parameter that ``jsonb_populate_record`` turns into the table's row type: with a parameter per column
    (ninety for an intake) psycopg would parse the statement anew on every call, which cost more than the round
    trips saved. Elsewhere it is one ``row_insert`` each: the caller runs it in a transaction if the rows must go in
    together.
    """
    if not objs:
        return
    alias = router.db_for_write(type(objs[0]), instance=objs[0])
    connection = connections[alias]
    if not (fastpath.active("rows.statements") and fastpath.active("rows.arrays")):
        with transaction.atomic(using=alias):  # (the fast path is one statement: atomic on its own)
            for obj in objs:
                obj.save(force_insert=True)
        return
    if connection.vendor != "postgresql" or len(objs) == 1:
        for obj in objs:
            row_insert(obj)
        return
    position = {id(obj): index for index, obj in enumerate(objs)}
    documents, links, shape = [], [], []
    for index, obj in enumerate(objs):
        model = type(obj)
        if router.db_for_write(model, instance=obj) != alias:
            raise ValueError("rows_insert writes to one database")
        _sql, fields, _returning = _insert_statement(model, connection)
        row, pointers = {}, []
        for f in fields:
            related = f.get_cached_value(obj, None) if f.is_relation else None
            earlier = position.get(id(related), index) if related is not None else index
            if earlier < index:  # the row of an item before it: its key comes from that item's INSERT
                if f.target_field is not related._meta.pk:
                    raise ValueError(f"rows_insert: {model.__name__}.{f.name} must point at a primary key")
                pointers.append((f.column, earlier))
                links.append((obj, f, related))
                continue
            if related is not None:  # as save() checks it (Model._prepare_related_fields_for_save)
                if related.pk is None:
                    raise ValueError(f"rows_insert: {model.__name__}.{f.name} is an unsaved row not listed before it")
                if getattr(obj, f.attname) in f.empty_values:
                    setattr(obj, f.name, related)  # saved after it was assigned
                elif getattr(related, f.target_field.attname) != getattr(obj, f.attname):
                    f.delete_cached_value(obj)
            row[f.column] = _json_ready(f.get_db_prep_save(f.pre_save(obj, True), connection=connection))
        try:
            documents.append(json.dumps(row, default=_json_default, allow_nan=False))
        except ValueError as exc:
            raise ValueError(f"rows_insert: a {model.__name__} value cannot be stored: {exc}") from None
        shape.append((model, tuple(pointers)))
    sql = _together_statement(tuple(shape), connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, documents)
        keys = cursor.fetchone()
    for obj, key in zip(objs, keys, strict=True):
        obj.pk = type(obj)._meta.pk.to_python(key)
        obj._state.adding, obj._state.db = False, alias
    for obj, f, related in links:
        setattr(obj, f.name, related)  # its key, and the related object stays cached


def rows_insert_many(objs: Sequence[Model]) -> None:
    """INSERT many new rows of one model, as ``bulk_create`` would (each field's ``pre_save`` and database value;
    primary keys set from the database, in the order of ``objs``; no foreign key to an unsaved row; no signals).
    On PostgreSQL one statement, ``INSERT … SELECT … FROM unnest(<one typed array per column>)``, its text the same
    whatever the number of rows; elsewhere ``bulk_create``."""
    if not objs:
        return
    model = type(objs[0])
    if any(type(obj) is not model for obj in objs):
        raise ValueError("rows_insert_many writes rows of one model")
    alias = router.db_for_write(model, instance=objs[0])
    connection = connections[alias]
    if connection.vendor != "postgresql" or not (fastpath.active("rows.arrays") and
                                                 fastpath.active("rows.statements")):
        model._base_manager.using(alias).bulk_create(objs)
        return
    fields = _insert_statement(model, connection)[1]
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="rows_insert_many")
    columns = [_column(f, [f.pre_save(obj, True) for obj in objs], connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(_arrays_statement("insert", model, tuple(fields), connection), columns)
        keys = sorted(row[0] for row in cursor.fetchall())
    for obj, key in zip(objs, keys, strict=True):
        obj.pk = model._meta.pk.to_python(key)
        obj._state.adding, obj._state.db = False, alias


def rows_update_many(objs: Sequence, fields: list[str] | tuple[str, ...], *, model: type[Model] | None = None) -> None:
    """UPDATE the named ``fields`` of many rows of one model to the values they hold, as ``bulk_update`` would (no
    ``pre_save``, no signals). The rows are instances of ``model`` (by default the first one's class), or plain
    objects with its attribute names (``pk`` and each field's ``attname``, e.g. ``case_id``). On PostgreSQL one
    statement, ``UPDATE … FROM unnest(<typed arrays>)`` (a fraction of what ``bulk_update``'s CASE expressions cost to
    build); elsewhere ``bulk_update``."""
    if not objs:
        return
    model = model or type(objs[0])
    meta = model._meta
    concrete = [meta.get_field(name) for name in fields]
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql" or not fastpath.active("rows.arrays"):
        rows = [obj if type(obj) is model else model(pk=obj.pk, **{f.attname: getattr(obj, f.attname) for f in concrete})
                for obj in objs]
        model._base_manager.using(alias).bulk_update(rows, [f.name for f in concrete])
        return
    params = [_column(meta.pk, [obj.pk for obj in objs], connection)]
    params += [_column(f, [getattr(obj, f.attname) for obj in objs], connection) for f in concrete]
    with connection.cursor() as cursor:
        cursor.execute(_arrays_statement("update", model, tuple(concrete), connection), params)


# Fields whose database value on PostgreSQL is the Python value itself when it is of this exact type (psycopg adapts
# it as the field's get_db_prep_save would hand it over): booleans, integers and keys, floats, text, aware date-times.
_SAME_VALUE = ((BooleanField, bool), (IntegerField, int), (FloatField, float), (CharField, str), (TextField, str),
               (DateTimeField, datetime))
_same_value: dict[Field, type | None] = {}


def _column(field: Field, values: list, connection) -> list:
    """``values`` of ``field`` as ``field.get_db_prep_save`` makes them (as bulk_update does), without calling it on
    the values it would hand back unchanged (rows_update_many writes hundreds of sensor rule states per batch)."""
    if field not in _same_value:
        target = field.target_field if isinstance(field, ForeignKey) else field
        _same_value[field] = next((kind for cls, kind in _SAME_VALUE if isinstance(target, cls)
                                   and type(target).get_db_prep_save is Field.get_db_prep_save), None)
    kind = _same_value[field]
    if kind is None:
        return [field.get_db_prep_save(value, connection=connection) for value in values]
    if kind is datetime:  # (a naive one goes through the field, which makes it aware and warns)
        return [value if value is None or (type(value) is datetime and value.tzinfo is not None)
                else field.get_db_prep_save(value, connection=connection) for value in values]
    return [value if value is None or type(value) is kind else field.get_db_prep_save(value, connection=connection)
            for value in values]


def _arrays_statement(kind: str, model, fields: tuple, connection) -> str:
    """The statement of ``rows_insert_many`` (``insert``: rows in the arrays' order, returning their keys) or of
    ``rows_update_many`` (``update``: the first array holds the primary keys)."""
    key = ("arrays", kind, model, connection.vendor, fields)
    sql = _statements.get(key)
    if sql is None:
        qn, meta = connection.ops.quote_name, model._meta
        if kind == "update":
            fields = (meta.pk, *fields)
        arrays = ", ".join(f"%b::{f.db_type(connection)}[]" for f in fields)
        names = ", ".join(qn(f.column) for f in fields)
        if kind == "insert":
            # In the arrays' order, so the keys (increasing within the statement) follow the rows.
            sql = (f"INSERT INTO {qn(meta.db_table)} ({names}) SELECT {names} FROM unnest({arrays}) WITH ORDINALITY "
                   f"AS v({names}, gridloop_row) ORDER BY v.gridloop_row RETURNING {qn(meta.pk.column)}")
        else:
            sets = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in fields[1:])
            sql = (f"UPDATE {qn(meta.db_table)} AS t SET {sets} FROM unnest({arrays}) AS v({names}) "
                   f"WHERE t.{qn(meta.pk.column)} = v.{qn(meta.pk.column)}")
        _statements[key] = sql
    return sql


def _json_ready(value):
    """A JSONField's value (psycopg's Json/Jsonb wrapper) as the plain JSON value the field's own encoder makes."""
    if isinstance(value, (Json, Jsonb)):
        return json.loads((value.dumps or json.dumps)(value.obj))
    return value


def _together_statement(shape: tuple, connection) -> str:
    """The WITH statement of ``rows_insert`` for rows of these models, with these (column, earlier row) pointers."""
    key = ("together", connection.vendor, shape)
    found = _statements.get(key)
    if found is None:
        qn, parts = connection.ops.quote_name, []
        for index, (model, pointers) in enumerate(shape):
            meta, fields = model._meta, _insert_statement(model, connection)[1]
            pointed = dict(pointers)
            columns = [qn(f.column) for f in fields]
            select = [f"(SELECT {qn(meta.get_field(f.name).target_field.column)} FROM r{pointed[f.column]})"
                      if f.column in pointed else qn(f.column) for f in fields]
            parts.append(f"r{index} AS (INSERT INTO {qn(meta.db_table)} ({', '.join(columns)}) "
                         f"SELECT {', '.join(select)} FROM jsonb_populate_record(NULL::{qn(meta.db_table)}, %s::jsonb) "
                         f"RETURNING {qn(meta.pk.column)})")
        found = _statements[key] = "WITH {} SELECT {}".format(", ".join(parts), ", ".join(
            f"(SELECT {qn(model._meta.pk.column)} FROM r{index})" for index, (model, _p) in enumerate(shape)))
    return found


def _json_default(value):
    """JSON for the column values json does not know, as PostgreSQL reads them back: ISO 8601 dates and times,
    decimals and UUIDs as strings."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    raise TypeError(f"rows_insert cannot send a {type(value).__name__} value")
