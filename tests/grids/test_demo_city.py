"""The demo city generator (grids.demo) and its command (without a history here: tests/dispatch/test_demo.py covers
that): deterministic, valid codes, exact tiling, every role and department type present, logins that work, and
refusals that name the option."""

import csv
from io import StringIO
from itertools import combinations

import pytest
import shapely
from django.conf import global_settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory

from config.errors import InvalidInput
from events.services import DEFAULT_CATEGORIES_CSV
from grids.codes import code_problem
from grids.demo import DEFAULT_PASSWORD, PASSWORD_ENV, block_shape, demo_city_build, split
from grids.geo import parse_boundary
from grids.models import Department, Level, Region, Role, RoleAssignment, User
from grids.selectors import locate

pytestmark = pytest.mark.django_db

SMALL = {"districts": 2, "streets": 2, "communities": 2, "grids": 4}


@pytest.fixture(autouse=True)
def _default_password_fast_hashing(monkeypatch, settings):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    # The build hashes the password once; PBKDF2 would cost most of this file's time. test_demo_logins_work
    # puts the real hashers back.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo():
    return demo_city_build(**SMALL, seed=1)


def export() -> dict:
    def rows(qs, *fields):
        return [tuple("" if v is None else v for v in row) for row in qs.values_list(*fields)]

    return {
        "regions": rows(Region.objects.order_by("code"), "code", "name", "level", "parent__code", "boundary"),
        "departments": rows(Department.objects.order_by("code"), "code", "name", "type", "level", "region__code"),
        "users": rows(User.objects.order_by("username"), "username", "display_name", "is_superuser"),
        "roles": sorted(rows(RoleAssignment.objects, "user__username", "role", "region__code", "department__code")),
    }


def test_same_seed_same_city_other_seed_other_names(demo):
    first = export()
    again = demo_city_build(**SMALL, seed=1, reset=True)
    assert export() == first
    assert again.logins == demo.logins
    demo_city_build(**SMALL, seed=2, reset=True)
    other = export()
    assert [r[0] for r in other["regions"]] == [r[0] for r in first["regions"]]  # same codes …
    assert [r[4] for r in other["regions"]] == [r[4] for r in first["regions"]]  # … and boundaries
    assert [r[1] for r in other["regions"]] != [r[1] for r in first["regions"]]  # other names


def test_counts_and_codes_follow_the_code_rules(demo):
    assert demo.regions == {"city": 1, "district": 2, "street": 4, "community": 8, "grid": 32}
    assert demo.departments == Department.objects.count() == 1 * 6 + 2 * 8 + 4 * 3
    assert demo.users == User.objects.count() == len(demo.logins)
    regions = {r.code: r for r in Region.objects.select_related("parent")}
    assert regions["990100"].name == "示范市"
    for region in regions.values():
        parent = region.parent
        assert code_problem(region.level, region.code, parent and parent.level, parent and parent.code) is None
    assert sorted(c for c, r in regions.items() if r.level == Level.DISTRICT) == ["990101", "990102"]
    assert sorted(c for c in regions if c.startswith("990101001001") and len(c) == 15) == [
        "990101001001001", "990101001001002", "990101001001003", "990101001001004",
    ]


def test_names_are_unique_among_siblings_and_grids_are_named_after_their_community(demo):
    parents = Region.objects.exclude(level=Level.GRID).prefetch_related("children")
    for parent in parents:
        names = [child.name for child in parent.children.all()]
        assert len(names) == len(set(names)), parent.code
    suffix = {Level.DISTRICT: "区", Level.STREET: "街道", Level.COMMUNITY: "社区"}
    for region in Region.objects.select_related("parent").exclude(level=Level.CITY):
        if region.level == Level.GRID:
            assert region.name == f"{region.parent.name}第{int(region.code[-3:]):02d}网格"
        else:
            assert region.name.endswith(suffix[region.level])


def test_children_tile_every_parent_exactly(demo):
    for parent in Region.objects.exclude(level=Level.GRID).prefetch_related("children"):
        outline = parse_boundary(parent.boundary)
        children = [parse_boundary(child.boundary) for child in parent.children.all()]
        assert children
        assert all(outline.covers(child) for child in children)
        assert abs(shapely.union_all(children).area - outline.area) < 1e-12
        for a, b in combinations(children, 2):
            assert a.intersection(b).area == 0
            assert not a.relate_pattern(b, "2********")  # interiors never meet


def test_split_reuses_parent_edges_and_shares_neighbour_edges():
    parent = (120.1, 30.1, 120.1312, 30.2)
    cells = split(parent, 3, 7)
    assert len(cells) == 21
    assert {c[0] for c in cells[::7]} == {parent[0]} and {c[2] for c in cells[6::7]} == {parent[2]}
    assert {c[3] for c in cells[:7]} == {parent[3]} and {c[1] for c in cells[-7:]} == {parent[1]}
    for row in range(3):
        for col in range(6):
            left, right = cells[row * 7 + col], cells[row * 7 + col + 1]
            assert left[2] == right[0] and left[1] == right[1] and left[3] == right[3]
    for n in (1, 4, 7, 10, 12, 40, 997):
        rows, cols = block_shape(n, 1, 1)
        assert rows * cols == n and min(rows, cols) == max(d for d in range(1, int(n**0.5) + 1) if n % d == 0)


def test_every_grid_center_locates_to_itself(demo):
    for region in Region.objects.filter(level=Level.GRID):
        ring = region.boundary["coordinates"][0]
        lngs, lats = [p[0] for p in ring], [p[1] for p in ring]
        found = locate((min(lats) + max(lats)) / 2, (min(lngs) + max(lngs)) / 2)
        assert found is not None and found.code == region.code


def test_every_department_type_of_the_categories_exists(demo):
    with open(DEFAULT_CATEGORIES_CSV, encoding="utf-8-sig") as handle:
        needed = {row["department_type"] for row in csv.DictReader(handle)}
    assert needed <= set(Department.objects.values_list("type", flat=True))
    street = Region.objects.get(code="990101001")
    assert sorted(Department.objects.filter(region=street).values_list("type", flat=True)) == sorted(
        ["街道", "城管执法", "环卫"]
    )
    assert Department.objects.get(code="990101001-street-office").name == f"{street.name}办事处"


def test_every_role_has_users_with_the_right_scope(demo):
    for role in Role.values:
        assert RoleAssignment.objects.filter(role=role).exists(), role
    worker = User.objects.get(username="d01s02c02_worker")
    grids = sorted(RoleAssignment.objects.filter(user=worker).values_list("region__code", flat=True))
    assert grids == [f"990101002002{n:03d}" for n in range(1, 5)]
    assert RoleAssignment.objects.get(user__username="d02s01_dispatcher").region.code == "990102001"
    assert RoleAssignment.objects.get(user__username="hotline_operator").region.code == "990100"
    handler = RoleAssignment.objects.get(user__username="h_990102-water")
    assert handler.role == Role.HANDLER and handler.department.type == "水务" and handler.region is None
    assert Department.objects.count() == RoleAssignment.objects.filter(role=Role.HANDLER).count()
    assert User.objects.get(username="admin").is_superuser
    assert not User.objects.filter(is_superuser=True).exclude(username="admin").exists()


def test_demo_logins_work(monkeypatch, settings):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    demo = demo_city_build(**SMALL)
    assert User.objects.get(username="admin").password.startswith(PBKDF2PasswordHasher.algorithm)
    login = RequestFactory().post("/login/")  # (django-axes counts sign-ins per request)
    assert authenticate(login, username="d01s01c01_worker", password=DEFAULT_PASSWORD) is not None
    assert authenticate(login, username="admin", password="wrong") is None
    assert {p for _, p, _ in demo.logins} == {DEFAULT_PASSWORD}
    monkeypatch.setenv(PASSWORD_ENV, "another-secret-42")
    city = demo_city_build(districts=1, streets=1, communities=1, grids=1, reset=True)
    assert city.password == "another-secret-42"
    assert authenticate(login, username="h_990101001-sanitation", password="another-secret-42") is not None


def test_refuses_when_regions_exist_and_reset_rebuilds(city):
    with pytest.raises(InvalidInput, match="--reset") as info:
        demo_city_build(**SMALL)
    assert info.value.field == "reset"
    assert Region.objects.get(code="990100").name == "测试市"  # nothing touched
    User.objects.create_user("someone", password="x-pw-12345")
    demo_city_build(**SMALL, reset=True)
    assert Region.objects.get(code="990100").name == "示范市"
    assert Region.objects.filter(level=Level.GRID).count() == 32
    assert not User.objects.filter(username="someone").exists()


@pytest.mark.parametrize(
    "option, value",
    [("districts", 0), ("districts", 100), ("streets", -1), ("communities", 1000), ("grids", 0)],
)
def test_bad_sizes_are_rejected_naming_the_option(option, value):
    with pytest.raises(CommandError, match=f"--{option} "):
        call_command("demo_city", **{option: value}, history_days=0, stdout=StringIO())
    with pytest.raises(InvalidInput, match=f"--{option} "):
        demo_city_build(**{option: value})
    assert not Region.objects.exists()


def test_command_prints_counts_and_main_logins():
    out = StringIO()
    call_command("demo_city", *[f"--{k}={v}" for k, v in SMALL.items()], "--seed=3", "--history-days=0", stdout=out)
    text = out.getvalue()
    assert "32 unit grids" in text
    for username in ("admin", "city_dispatcher", "hotline_operator", "d01_supervisor", "d01s01_dispatcher",
                     "d01s01c01_worker", "h_990101001-street-office", "h_990101001-enforcement"):
        assert username in text
    shown = 4 + 2 + 1 + 1 + 3
    assert f"… {User.objects.count() - shown} more users" in text
    with pytest.raises(CommandError, match="--reset"):
        call_command("demo_city", "--history-days=0", stdout=StringIO())
    quiet = StringIO()
    call_command("demo_city", "--reset", "--quiet", "--history-days=0", stdout=quiet)
    assert quiet.getvalue() == ""
    assert Region.objects.filter(level=Level.GRID).count() == 3 * 4 * 5 * 10


def test_refused_in_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(InvalidInput, match="GRIDLOOP_PRODUCTION=1") as info:
        demo_city_build(**SMALL)
    assert info.value.field == "GRIDLOOP_PRODUCTION"
    assert not Region.objects.exists() and not User.objects.exists()
