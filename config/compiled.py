"""Model queries on the hot paths compiled to SQL once per database, then run with new parameter values.

Django compiles a queryset to SQL every time it runs. For the case a transition locks (``select_related`` over six
tables, with deferred columns) that took 3 ms of CPU on the benchmark machine: more than PostgreSQL needed to answer
it, and about a quarter of a transition. A ``CompiledQuery`` builds its queryset once per database alias, with a
marker value for each parameter, and keeps what running it needs: the SQL text, where each parameter goes, the
column layout and the value converters. Later calls only execute the SQL and build the rows into model instances
the same way the queryset's own iteration does (``ModelIterable``: ``Model.from_db`` and the ``select_related``
populators), through ``connection.cursor()``, so query logging and execute wrappers see them as usual.

The compiler's ``klass_info``, ``get_related_populators`` and the queryset's private flags are Django internals: this
is a hook of ``config.fastpath``. When its start-up check fails (or ``GRIDLOOP_COMPILED_QUERIES=0``), or a compiler
turns out not to hold what ``_compile`` reads, a CompiledQuery runs its queryset each time, as plain Django does.

Only for queries whose shape never changes between calls (a parameter's *value* may; its arity may not: for a
list of values use the ``__any`` lookup below, not ``__in``, which writes one placeholder per value), returning model
instances (no ``values()``, no ``prefetch_related``). A parameter must reach the SQL unchanged (a string, an integer
or a list compared with a column); a query where Django converts it, or where its value changes the SQL, is refused
when it is first compiled.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, ForeignObject, Lookup, Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from django.db.transaction import TransactionManagementError

from config import fastpath

try:
    from django.db.models.query import ModelIterable, get_related_populators
except ImportError:  # (a Django without them: the check below turns the hook off)
    ModelIterable = get_related_populators = None  # type: ignore[assignment,misc]


def _internals_check() -> str:
    if get_related_populators is None or ModelIterable is None:
        return "django.db.models.query has no get_related_populators or ModelIterable"
    return fastpath.first_problem(
        fastpath.has_parameters(get_related_populators, "klass_info", "select", "db"),
        fastpath.has_parameters(SQLCompiler.get_converters, "expressions"),
        fastpath.has_parameters(SQLCompiler.has_composite_fields, "expressions"),
        fastpath.has_parameters(Model.from_db, "db", "field_names", "values"),
        fastpath.has_attributes(QuerySet(), "_iterable_class", "_prefetch_related_lookups", "_known_related_objects"),
    )


fastpath.hook("compiled", _internals_check)

# Marker values the queryset is built with the first time; each must come through to the SQL's parameters as it is.
# The integers stay inside a 32-bit column's range (Django turns an out-of-range integer lookup into "no rows").
_MARKERS = {
    str: lambda i: f"\x00gridloop-compiled-parameter-{i}\x00",
    int: lambda i: -2_000_000_000 + 7919 * i,
    list: lambda i: [-1_900_000_000 - 7919 * i],
}


class AnyOf(Lookup):
    """``field__any=[…]``: the field equals one of the values, the list sent as one parameter — ``= ANY(%s)`` on
    PostgreSQL, ``IN (SELECT value FROM json_each(%s))`` elsewhere — so that the SQL is the same whatever the list's
    length, as a CompiledQuery needs. For integer and string columns, given values of the column's type."""

    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        return [self.lhs.output_field.get_prep_value(value) for value in self.rhs]

    def process_rhs(self, compiler, connection):
        values = [self.lhs.output_field.get_db_prep_value(v, connection, prepared=True) for v in self.rhs]
        return "%s", [values if connection.vendor == "postgresql" else json.dumps(values)]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]
        return f"{lhs} IN (SELECT value FROM json_each({rhs}))", [*lhs_params, *rhs_params]


Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)  # (a foreign key keeps lookups of its own: ``device_id__any``)

_PLAIN = {str: str.__str__, int: int.__index__, list: list}
_KINDS = {str: str, int: int, list: (list, tuple, set, frozenset)}  # what a parameter of each type may be given as


class _Unexpected(Exception):
    """Django's compiler does not hold what ``CompiledQuery._compile`` reads (another Django version)."""


@dataclass(frozen=True)
class _Plan:
    sql: str
    params: tuple
    slots: tuple[tuple[int, int, bool], ...]  # (position in params, argument index, sent as JSON text)
    for_update: bool
    model: type
    init_list: tuple[str, ...]
    model_start: int
    model_end: int
    col_count: int
    trim: bool
    converters: tuple
    populators: tuple
    annotations: tuple[tuple[str, int], ...]


class CompiledQuery:
    """``CompiledQuery(build, str, int)``: ``build`` takes one argument per listed type and returns the queryset;
    calling the CompiledQuery with values of those types returns the list of model instances the queryset would.

    >>> case_by_number = CompiledQuery(lambda number: Case.objects.filter(number=number), str)
    >>> case_by_number("2026120200001")
    [<Case: 2026120200001>]
    """

    def __init__(self, build: Callable[..., QuerySet], *types: type):
        unknown = [t for t in types if t not in _MARKERS]
        if unknown:
            raise TypeError(f"CompiledQuery parameters are str, int or list, not {unknown}")
        self._build = build
        self._types = types
        self._plans: dict[str, _Plan] = {}

    def __call__(self, *args, using: str = DEFAULT_DB_ALIAS) -> list:
        if len(args) != len(self._types):
            raise TypeError(f"this query takes {len(self._types)} parameters, got {len(args)}")
        values = []
        for value, kind in zip(args, self._types, strict=True):
            if not isinstance(value, _KINDS[kind]) or isinstance(value, bool):
                raise TypeError(f"parameter {value!r} is not a {kind.__name__}")
            values.append(_PLAIN[kind](value))  # a TextChoices member as its plain string
        if not fastpath.active("compiled"):
            return list(self._build(*values).using(using))
        connection = connections[using]
        plan = self._plans.get(using)
        if plan is None:
            try:
                plan = self._plans[using] = self._compile(using, connection)
            except _Unexpected as exc:  # the compiler is not as this module knows it: plain Django from now on
                fastpath.give_up("compiled", str(exc))
                return list(self._build(*values).using(using))
        if plan.for_update and connection.get_autocommit():
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        params = list(plan.params)
        for position, index, as_json in plan.slots:
            params[position] = json.dumps(values[index]) if as_json else values[index]
        with connection.cursor() as cursor:
            cursor.execute(plan.sql, params)
            rows = cursor.fetchall()
        return [self._instance(plan, row, using, connection) for row in rows]

    @staticmethod
    def _instance(plan: _Plan, row, using: str, connection):
        if plan.trim:
            row = row[:plan.col_count]
        if plan.converters:
            row = list(row)
            for position, converters, expression in plan.converters:
                value = row[position]
                for converter in converters:
                    value = converter(value, expression, connection)
                row[position] = value
        obj = plan.model.from_db(using, plan.init_list, row[plan.model_start:plan.model_end])
        for populator in plan.populators:
            populator.populate(row, obj)
        for name, position in plan.annotations:
            setattr(obj, name, row[position])
        return obj

    def _compile(self, using: str, connection) -> _Plan:
        markers = [_MARKERS[kind](i) for i, kind in enumerate(self._types)]
        queryset = self._build(*markers).using(using)
        if queryset._iterable_class is not ModelIterable or queryset._prefetch_related_lookups:
            raise ValueError("a CompiledQuery returns model instances: no values(), no prefetch_related()")
        if queryset._known_related_objects:
            raise ValueError("a CompiledQuery cannot run a related manager's queryset")
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        params = tuple(params)
        slots = []
        for index, marker in enumerate(markers):
            # A list may come through with its marker as a string (a string column), and off PostgreSQL as JSON text.
            same = [marker, [str(marker[0])]] if type(marker) is list else [marker]
            texts = [json.dumps(m) for m in same] if type(marker) is list else []
            found = [(p, False) for p, value in enumerate(params) if type(value) is type(marker) and value in same]
            found += [(p, True) for p, value in enumerate(params) if type(value) is str and value in texts]
            if not found:
                raise ValueError(f"parameter {index} does not reach the SQL unchanged: this query cannot be compiled "
                                 "once")
            slots += [(position, index, as_json) for position, as_json in found]
        try:
            fields = [column[0] for column in compiler.select[:compiler.col_count]]
            composite = compiler.has_composite_fields(fields)
            klass_info, select = compiler.klass_info, compiler.select
            select_fields = klass_info["select_fields"]
            start, end = select_fields[0], select_fields[-1] + 1
            init_list = tuple(column[0].target.attname for column in select[start:end])
            model = klass_info["model"]
            populators = tuple(get_related_populators(klass_info, select, using))
        except (AttributeError, KeyError, IndexError, TypeError) as exc:
            raise _Unexpected(f"the compiler of {queryset.model.__name__} holds no usable klass_info/select: "
                              f"{type(exc).__name__}: {exc}") from exc
        if composite:
            raise ValueError("a CompiledQuery does not read composite fields")
        return _Plan(
            sql=sql, params=params, slots=tuple(slots),
            for_update=bool(queryset.query.select_for_update and connection.features.has_select_for_update),
            model=model, init_list=init_list,
            model_start=start, model_end=end,
            col_count=compiler.col_count, trim=bool(compiler.has_extra_select),
            converters=tuple((position, tuple(converters), expression)
                             for position, (converters, expression) in compiler.get_converters(fields).items()),
            populators=populators,
            annotations=tuple((compiler.annotation_col_map or {}).items()),
        )
