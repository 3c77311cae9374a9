"""Scope selectors: which regions, grids and departments each role may see and act in."""

import pytest

from grids.models import Role
from grids.selectors import (
    ancestor_codes,
    command_centers_of,
    covers,
    departments_of,
    departments_visible_to,
    grids_visible_to,
    locate,
    region_scope_q,
    regions_visible_to,
    scope_of,
)
from tests.factories import grid_center, make_department, make_user

pytestmark = pytest.mark.django_db


def codes(qs):
    return sorted(qs.values_list("code", flat=True))


def test_ancestor_codes_follow_the_code_rules():
    assert ancestor_codes("990101001001002") == ["990100", "990101", "990101001", "990101001001"]
    assert ancestor_codes("990101") == ["990100"]
    assert ancestor_codes("990100") == []
    assert ancestor_codes("9901") == []


def test_grid_worker_sees_only_their_grids_and_the_names_above(city):
    worker = make_user("w", (Role.GRID_WORKER, city["990101001001001"]))
    assert codes(grids_visible_to(worker)) == ["990101001001001"]
    assert codes(regions_visible_to(worker)) == [
        "990100", "990101", "990101001", "990101001001", "990101001001001",
    ]
    assert covers(worker, "990101001001001")
    assert not covers(worker, "990101001001002")


def test_street_dispatcher_sees_their_street_not_the_neighbouring_one(city):
    dispatcher = make_user("d", (Role.DISPATCHER, city["990101001"]))
    assert codes(grids_visible_to(dispatcher)) == ["990101001001001", "990101001001002"]
    assert covers(dispatcher, "990101001001002")
    assert not covers(dispatcher, "990101002001001")
    assert [r.code for r in command_centers_of(dispatcher)] == ["990101001"]


def test_city_supervisor_covers_every_district(city):
    supervisor = make_user("s", (Role.SUPERVISOR, city["990100"]))
    assert len(codes(grids_visible_to(supervisor))) == 6
    assert covers(supervisor, "990102001001002")


def test_operator_scope_is_their_region(city):
    operator = make_user("o", (Role.OPERATOR, city["990102"]))
    assert codes(grids_visible_to(operator)) == ["990102001001001", "990102001001002"]


def test_handler_sees_their_department_and_its_jurisdiction(city):
    dept = make_department(city["990101002"], code="east2-sanitation")
    other = make_department(city["990101001"], code="east1-sanitation")
    handler = make_user("h", (Role.HANDLER, dept))
    assert departments_of(handler) == [dept]
    assert list(departments_visible_to(handler)) == [dept]
    assert other not in departments_visible_to(handler)
    assert codes(grids_visible_to(handler)) == ["990101002001001", "990101002001002"]


def test_street_dispatcher_sees_departments_of_their_street_and_above(city):
    street_dept = make_department(city["990101001"], code="s1")
    district_dept = make_department(city["990101"], type="水务", code="d1")
    city_dept = make_department(city["990100"], type="电力", code="c1")
    elsewhere = make_department(city["990101002"], code="s2")
    dispatcher = make_user("d", (Role.DISPATCHER, city["990101001"]))
    visible = set(departments_visible_to(dispatcher))
    assert visible == {street_dept, district_dept, city_dept}
    assert elsewhere not in visible


def test_admin_sees_everything_and_user_without_roles_nothing(city):
    admin = make_user("a", (Role.ADMIN, None))
    nobody = make_user("n")
    assert len(codes(grids_visible_to(admin))) == 6
    assert codes(grids_visible_to(nobody)) == []
    assert not covers(nobody, "990101001001001")
    assert str(region_scope_q(admin)) == str(region_scope_q(admin, field="code"))


def test_user_with_several_roles_gets_the_union(city):
    user = make_user("multi", (Role.GRID_WORKER, city["990101001001001"]), (Role.SUPERVISOR, city["990102"]))
    assert codes(grids_visible_to(user)) == ["990101001001001", "990102001001001", "990102001001002"]
    scope = scope_of(user)
    assert scope.grid_codes == ["990101001001001"]
    assert scope.region_prefixes == ["990101001001001", "990102"]


def test_role_restricted_scope_ignores_other_roles(city):
    user = make_user("multi", (Role.GRID_WORKER, city["990101001001001"]), (Role.DISPATCHER, city["990102"]))
    assert covers(user, "990102001001001", roles=(Role.DISPATCHER,))
    assert not covers(user, "990101001001001", roles=(Role.DISPATCHER,))


def test_locate_finds_the_grid_with_its_ancestors(city):
    entry = locate(*grid_center("990101002001002"))
    assert entry.code == "990101002001002"
    assert [a[1] for a in entry.ancestors] == ["990100", "990101", "990101002", "990101002001"]
