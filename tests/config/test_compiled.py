"""config/compiled.py: a CompiledQuery returns the same model instances as its queryset (fields, deferred columns,
select_related objects, converted values), with each call's own parameter values, through the logged cursor; it
refuses the queries it cannot run from SQL kept between calls."""

import pytest
from django.db import connection, transaction
from django.db.models import Count, Q
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from config.compiled import CompiledQuery
from dispatch.models import StageClock
from events.models import Case
from grids.models import Department, Role, User
from tests.events.conftest import act, file_hotline, file_patrol

pytestmark = pytest.mark.django_db

RELATED = ("category", "department", "reporter", "grid", "street", "district")


def case_query(number):
    return (Case.objects.select_related(*RELATED)
            .defer(*(f"{name}__{field}" for name in ("grid", "street", "district")
                     for field in ("boundary", "parent", "updated_at")))
            .filter(number=number))


def fields(obj) -> dict:
    return {key: value for key, value in vars(obj).items() if key != "_state"}


def assert_same(ours, django):
    assert type(ours) is type(django)
    assert fields(ours) == fields(django)
    assert ours.get_deferred_fields() == django.get_deferred_fields()
    assert ours._state.db == django._state.db and ours._state.adding is django._state.adding is False


def test_the_instances_are_the_querysets_with_their_related_objects_and_deferred_columns(world):
    case = file_patrol(world)  # a worker's report is accepted at once
    case = act(case, "dispatch", world.dispatcher, department=world.dept.code)
    compiled = CompiledQuery(case_query, str)
    [ours] = compiled(case.number)
    [django] = list(case_query(case.number))
    assert_same(ours, django)
    for name in RELATED:
        assert Case._meta.get_field(name).is_cached(ours), name
        if getattr(django, name) is None:
            assert getattr(ours, name) is None
        else:
            assert_same(getattr(ours, name), getattr(django, name))
    assert ours.grid.get_deferred_fields() == {"boundary", "parent_id", "updated_at"}
    assert ours.department.code == world.dept.code and ours.category.code == world.category.code


def test_each_call_runs_with_its_own_values_and_an_unknown_one_finds_nothing(world):
    first, second = file_hotline(world), file_hotline(world, description="井盖缺失")
    compiled = CompiledQuery(case_query, str)
    assert [c.pk for c in compiled(first.number)] == [first.pk]
    assert [c.description for c in compiled(second.number)] == ["井盖缺失"]
    assert compiled("2099010100001") == []


def test_several_parameters_a_parameter_used_twice_and_ordering(world):
    users = CompiledQuery(
        lambda role, code, name: User.objects.filter(Q(roles__department__code=code) | Q(username=name),
                                                     Q(roles__role=role) | Q(username=name))
        .distinct().order_by("-id"),
        str, str, str)
    assert users(Role.HANDLER, world.dept.code, "nobody") == [world.handler]
    assert [u.username for u in users(Role.HANDLER, world.dept_y.code, "handler")] == ["handler_y", "handler"]
    assert sorted(u.pk for u in users(Role.HANDLER, "no-such-department", "worker")) == [world.worker.pk]
    twice = CompiledQuery(lambda code: Department.objects.filter(Q(code=code) | Q(name=code)), str)
    assert twice(world.dept.name) == [world.dept] and twice(world.dept.code) == [world.dept]


def test_converted_values_and_annotations_are_as_the_querysets(world):
    case = act(file_hotline(world), "accept", world.dispatcher, category=world.category)
    clocks = CompiledQuery(lambda case_id: StageClock.objects.filter(case_id=case_id).order_by("pk"), int)
    ours, django = clocks(case.pk), list(StageClock.objects.filter(case_id=case.pk).order_by("pk"))
    assert len(ours) == len(django) == 2
    for a, b in zip(ours, django, strict=True):
        assert_same(a, b)
        assert a.deadline.tzinfo is not None and a.limit_amount == b.limit_amount
    counted = CompiledQuery(lambda case_id: Case.objects.filter(pk=case_id).annotate(clock_count=Count("clocks")), int)
    assert counted(case.pk)[0].clock_count == 2


def test_every_run_goes_through_the_logged_cursor(world, django_assert_num_queries):
    case = file_hotline(world)
    compiled = CompiledQuery(case_query, str)
    compiled(case.number)
    with django_assert_num_queries(1) as captured:
        compiled(case.number)
    assert case.number in str(captured.captured_queries[0]["sql"])


def test_wrong_parameters_are_refused_before_any_query(world, django_assert_num_queries):
    compiled = CompiledQuery(case_query, str)
    with django_assert_num_queries(0):
        with pytest.raises(TypeError, match="takes 1 parameters, got 2"):
            compiled("a", "b")
        with pytest.raises(TypeError, match="is not a str"):
            compiled(2026)
    with pytest.raises(TypeError, match="str, int or list"):
        CompiledQuery(case_query, float)


def test_queries_that_cannot_be_kept_as_sql_are_refused_when_first_compiled(world):
    file_hotline(world)
    with pytest.raises(ValueError, match="does not reach the SQL unchanged"):
        CompiledQuery(lambda prefix: Case.objects.filter(number__startswith=prefix), str)("2026")
    with pytest.raises(ValueError, match="model instances"):
        CompiledQuery(lambda number: Case.objects.filter(number=number).values("pk"), str)("x")
    with pytest.raises(ValueError, match="model instances"):
        CompiledQuery(lambda number: Case.objects.filter(number=number).prefetch_related("events"), str)("x")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # outside a transaction between the blocks, as a real caller can be
def test_a_locking_query_locks_and_needs_a_transaction(world):
    case = file_hotline(world)
    compiled = CompiledQuery(lambda number: Case.objects.select_for_update(of=("self",)).filter(number=number), str)
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        assert [c.pk for c in compiled(case.number)] == [case.pk]  # compiled here, inside the transaction
        assert [c.pk for c in compiled(case.number)] == [case.pk]  # and run from the kept SQL
    assert [q["sql"].count('FOR UPDATE OF "events_case"') for q in captured.captured_queries] == [1, 1]
    with pytest.raises(TransactionManagementError):
        compiled(case.number)  # the kept SQL is checked as the queryset would be


def test_a_list_parameter_through_the_any_lookup_takes_lists_of_any_length(world):
    cases = [file_hotline(world) for _ in range(3)]
    by_ids = CompiledQuery(lambda ids: Case.objects.filter(pk__any=ids).order_by("id"), list)
    assert [c.pk for c in by_ids([cases[2].pk, cases[0].pk])] == [cases[0].pk, cases[2].pk]
    assert [c.pk for c in by_ids({c.pk for c in cases})] == [c.pk for c in cases]
    assert by_ids([]) == [] and by_ids((-5,)) == []
    by_numbers = CompiledQuery(lambda numbers: Case.objects.filter(number__any=numbers), list)
    assert [c.pk for c in by_numbers([cases[1].number])] == [cases[1].pk]
    assert list(Case.objects.filter(pk__any=[cases[1].pk])) == [cases[1]]  # the lookup works in plain querysets
    clocks = CompiledQuery(lambda ids: StageClock.objects.filter(case_id__any=ids).order_by("case_id"), list)
    assert [c.case_id for c in clocks([cases[0].pk, cases[1].pk])] == [cases[0].pk, cases[1].pk]  # a foreign key
    with pytest.raises(TypeError, match="is not a list"):
        by_ids(cases[0].pk)
