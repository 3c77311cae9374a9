"""The process-wide copy of role assignments: kept while the user's roles_version stands, dropped the moment the
database triggers move it on (a role added, changed or removed; a region or department it names changed)."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from grids import selectors
from grids.models import Department, Role, RoleAssignment, User
from grids.selectors import covers, roles_of
from grids.services import api_token_issue, role_assign, role_revoke
from tests.factories import make_department, make_user

pytestmark = pytest.mark.django_db


def fresh(user: User) -> User:
    """The user as the next request's token or session read sees them."""
    return User.objects.get(pk=user.pk)


def version(user: User) -> int:
    return User.objects.values_list("roles_version", flat=True).get(pk=user.pk)


def roles_queries(user: User) -> tuple[list, int]:
    with CaptureQueriesContext(connection) as queries:
        roles = roles_of(user)
    return roles, len(queries.captured_queries)


def test_a_second_request_reads_no_roles(city):
    make_user("d", (Role.DISPATCHER, city["990101001"]))
    first, reads = roles_queries(fresh(User.objects.get(username="d")))
    assert reads == 1 and [a.role for a in first] == [Role.DISPATCHER]
    again, reads = roles_queries(fresh(User.objects.get(username="d")))
    assert reads == 0 and again == first


@pytest.mark.parametrize("change", ["add", "revoke", "update"])
def test_a_role_change_by_any_path_moves_the_version_on_and_the_next_request_sees_it(city, change):
    user = make_user("d", (Role.DISPATCHER, city["990101001"]))
    assert covers(fresh(user), "990101001001001")
    before = version(user)
    if change == "add":  # the admin and the importers write rows directly
        RoleAssignment.objects.create(user=user, role=Role.SUPERVISOR, region=city["990102"])
    elif change == "revoke":
        RoleAssignment.objects.filter(user=user).delete()
    else:
        RoleAssignment.objects.filter(user=user).update(region=city["990101002"])
    assert version(user) != before
    now = fresh(user)
    assert covers(now, "990102001001001") is (change == "add")
    assert covers(now, "990101001001001") is (change == "add")
    assert covers(now, "990101002001001") is (change == "update")


def test_the_services_refresh_the_users_object_they_were_given(city):
    user = make_user("w", (Role.GRID_WORKER, city["990101001001001"]))
    assert not covers(user, "990101001001002")
    assignment = role_assign(user=user, role=Role.GRID_WORKER, region=city["990101001001002"])
    assert covers(user, "990101001001002")
    role_revoke(assignment=assignment)
    assert not covers(user, "990101001001002")
    assert user.roles_version == version(user)


def test_moving_a_department_to_another_street_moves_its_handlers_scope(city):
    department = make_department(city["990101001"], code="s1-huanwei")
    handler = make_user("h", (Role.HANDLER, department))
    other = make_user("d", (Role.DISPATCHER, city["990101001"]))
    assert covers(fresh(handler), "990101001001001")
    before, before_other = version(handler), version(other)
    Department.objects.filter(pk=department.pk).update(region=city["990101002"])
    department.refresh_from_db()
    department.save()  # (a save that changes nothing moves nothing on)
    assert version(handler) != before and version(other) == before_other
    assert covers(fresh(handler), "990101002001001")
    assert not covers(fresh(handler), "990101001001001")


def test_recoding_a_region_moves_the_version_of_those_whose_roles_name_it(city):
    worker = make_user("w", (Role.GRID_WORKER, city["990101001001001"]))
    department = make_department(city["990101001"], code="s1-huanwei")
    handler = make_user("h", (Role.HANDLER, department))
    bystander = make_user("d", (Role.DISPATCHER, city["990102"]))
    versions = {u.pk: version(u) for u in (worker, handler, bystander)}
    region = city["990101001001001"]
    region.boundary = {"type": "Polygon", "coordinates": region.boundary["coordinates"]}
    region.save()  # geometry only: roles unchanged
    assert version(worker) == versions[worker.pk]
    region.name = "新名字"
    region.save()
    assert version(worker) != versions[worker.pk]
    assert [a.region.name for a in roles_of(fresh(worker))] == ["新名字"]
    street = city["990101001"]
    street.name = "改名街道"
    street.save()
    assert version(handler) != versions[handler.pk]
    assert version(bystander) == versions[bystander.pk]


def test_a_version_seen_in_a_rolled_back_transaction_is_not_met_again(city):
    user = make_user("o", (Role.OPERATOR, city["990101"]))
    with pytest.raises(RuntimeError), transaction.atomic():
        RoleAssignment.objects.create(user=user, role=Role.ADMIN)
        assert selectors.is_admin(fresh(user))  # cached under the version of a change that will not stand
        raise RuntimeError("rolled back")
    RoleAssignment.objects.create(user=user, role=Role.SUPERVISOR, region=city["990102"])
    roles = roles_of(fresh(user))
    assert sorted(a.role for a in roles) == [Role.OPERATOR, Role.SUPERVISOR]


def test_the_copy_is_bounded(city, monkeypatch):
    monkeypatch.setattr(selectors, "ROLES_CACHE_USERS", 3)
    selectors._roles_cache.clear()
    users = [make_user(f"o{i}", (Role.OPERATOR, city["990101"])) for i in range(7)]
    for user in users:
        roles_of(fresh(user))
        assert len(selectors._roles_cache) <= 3


def test_an_api_caller_loses_a_revoked_role_on_the_next_request(city):
    user = make_user("d", (Role.DISPATCHER, city["990101001"]))
    client = APIClient()  # by token: each request reads the user afresh, as in production
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=user)[1]}")
    assert client.get("/api/v1/regions/990101001/").status_code == 200
    assert client.get("/api/v1/regions/990101001/").status_code == 200  # (from the copy)
    RoleAssignment.objects.filter(user=user).delete()
    assert client.get("/api/v1/regions/990101001/").status_code == 404
