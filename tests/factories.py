"""Test data builders. ``small_city()`` makes a tiny region tree through the real import service.

Layout (lng, lat), unit squares of 0.01°, each community split into two grids side by side::

    990100 测试市
      990101 东区                     990102 西区
        990101001 东一街道  x 0–2       990102001 西一街道  x 4–6
          990101001001 社区 → grids 001 (x 0–1), 002 (x 1–2)
        990101002 东二街道  x 2–4         990102001001 社区 → grids 001, 002
          990101002001 社区 → grids 001 (x 2–3), 002 (x 3–4)
    all at y 0–1 (lat 30.00–30.01), x from lng 120.00 in steps of 0.01.
"""

from itertools import count
from types import SimpleNamespace

from grids.models import Department, Level, Region, Role, RoleAssignment, User
from grids.services import department_create, geo_version_bump, regions_import, role_assign

LNG0, LAT0, STEP = 120.0, 30.0, 0.01


def rect(x0: float, x1: float, y0: float = 0, y1: float = 1) -> dict:
    a, b = round(LNG0 + x0 * STEP, 7), round(LNG0 + x1 * STEP, 7)
    c, d = round(LAT0 + y0 * STEP, 7), round(LAT0 + y1 * STEP, 7)
    return {"type": "Polygon", "coordinates": [[[a, c], [b, c], [b, d], [a, d], [a, c]]]}


def feature(code, name, level, parent_code, geometry) -> dict:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "level": level, "parent_code": parent_code},
        "geometry": geometry,
    }


def small_city_features() -> list[dict]:
    f = [feature("990100", "测试市", "city", None, rect(0, 6))]
    f.append(feature("990101", "东区", "district", "990100", rect(0, 4)))
    f.append(feature("990102", "西区", "district", "990100", rect(4, 6)))
    for street, x0 in (("990101001", 0), ("990101002", 2), ("990102001", 4)):
        f.append(feature(street, f"街道{street[-4:]}", "street", street[:6], rect(x0, x0 + 2)))
        community = street + "001"
        f.append(feature(community, f"社区{community[-6:]}", "community", street, rect(x0, x0 + 2)))
        f.append(feature(community + "001", f"网格{community[-3:]}-1", "grid", community, rect(x0, x0 + 1)))
        f.append(feature(community + "002", f"网格{community[-3:]}-2", "grid", community, rect(x0 + 1, x0 + 2)))
    return f


def small_city() -> dict[str, Region]:
    regions_import(features=small_city_features())
    return {r.code: r for r in Region.objects.all()}


def grid_center(code: str) -> tuple[float, float]:
    """(lat, lng) of the middle of a small_city grid."""
    return _center(Region.objects.get(code=code, level=Level.GRID))


def _center(region: Region) -> tuple[float, float]:
    ring = region.boundary["coordinates"][0]
    lngs, lats = [p[0] for p in ring], [p[1] for p in ring]
    return (min(lats) + max(lats)) / 2, (min(lngs) + max(lngs)) / 2


_seq = count(1)


def make_department(region: Region, type: str = "环卫", code: str | None = None) -> Department:
    return department_create(code=code or f"dept-{next(_seq)}", name=f"{region.name}{type}", type=type, region=region)


def make_user(username: str | None = None, *roles: tuple) -> User:
    """make_user("w1", ("grid_worker", grid), ("handler", dept)) — each role is (role, region-or-department)."""
    user = User.objects.create_user(username=username or f"user{next(_seq)}", password="pw-for-tests-only")
    for role, target in roles:
        if isinstance(target, Department):
            role_assign(user=user, role=role, department=target)
        else:
            role_assign(user=user, role=role, region=target)
    return user


# --- The shared world (tests/events/conftest.py documents its members) ----------------------------------------------
# Built once per test database (tests/conftest.py: django_db_setup, and again after a test that flushed the database);
# each test reads it back with world_load() and changes it only inside its own rolled-back transaction.
WORLD_GRID = "990101001001001"
WORLD_CATEGORY = "E0101"
WORLD_DEPARTMENTS = {  # name → (region, type, code)
    "dept": ("990101001", "环卫", "s1-huanwei"),
    "dept_y": ("990101001", "市政", "s1-shizheng"),
    "dept_b": ("990101002", "环卫", "s2-huanwei"),
    "district_dept": ("990101", "水务", "d1-shuiwu"),
}
WORLD_USERS = {  # username → (role, region code or department name)
    "worker": (Role.GRID_WORKER, WORLD_GRID),
    "worker2": (Role.GRID_WORKER, "990101002001001"),
    "dispatcher": (Role.DISPATCHER, "990101001"),
    "dispatcher_b": (Role.DISPATCHER, "990101002"),
    "district_dispatcher": (Role.DISPATCHER, "990101"),
    "city_dispatcher": (Role.DISPATCHER, "990100"),
    "handler": (Role.HANDLER, "dept"),
    "handler_y": (Role.HANDLER, "dept_y"),
    "supervisor": (Role.SUPERVISOR, "990101"),
    "operator": (Role.OPERATOR, "990100"),
}


def world_exists() -> bool:
    return User.objects.filter(username__in=WORLD_USERS).count() == len(WORLD_USERS)


def world_build() -> None:
    """The small city, the categories (events/data/categories.csv), four departments and one user per role and place,
    through the services."""
    from events.services import categories_load

    regions = small_city()
    categories_load()
    departments = {name: make_department(regions[region], type=type_, code=code)
                   for name, (region, type_, code) in WORLD_DEPARTMENTS.items()}
    for username, (role, target) in WORLD_USERS.items():
        make_user(username, (role, departments[target] if target in departments else regions[target]))


def world_remove() -> None:
    """Empty the shared world's tables, for tests that build their own geography, staff or categories (inside the
    test's transaction: the world is back for the next test)."""
    from django.db import connection

    from events.models import Category

    with connection.cursor() as cursor:
        for model in (RoleAssignment, User, Department, Region, Category):  # (references first)
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
    geo_version_bump()  # the grid index of this process sees the regions gone


def world_load() -> SimpleNamespace:
    """Fresh objects of the shared world for one test (a test may change them: nothing is shared in memory)."""
    from events.models import Category

    regions = {r.code: r for r in Region.objects.all()}
    w = SimpleNamespace(regions=regions, grid=WORLD_GRID, category=Category.objects.get(code=WORLD_CATEGORY))
    by_code = {d.code: d for d in Department.objects.select_related("region").filter(
        code__in=[code for _region, _type, code in WORLD_DEPARTMENTS.values()])}
    for name, (_region, _type, code) in WORLD_DEPARTMENTS.items():
        setattr(w, name, by_code[code])
    by_username = {u.username: u for u in User.objects.filter(username__in=WORLD_USERS)}
    for username in WORLD_USERS:
        setattr(w, username, by_username[username])
    w.point = _center(regions[WORLD_GRID])
    return w
