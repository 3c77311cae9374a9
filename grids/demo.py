"""A deterministic fictional city (示范市, code 990100) for demos, tests and benchmarks.

``demo_city_build(districts=3, streets=4, communities=5, grids=10, seed=1)`` makes, through the real services:

* the region tree: one city, ``districts`` districts, ``streets`` streets per district, ``communities`` communities
  per street and ``grids`` unit grids per community (``regions_import``, one call). Boundaries are rectangles that
  tile each parent exactly: a parent's children sit in an r×c block (r×c = child count, the factorisation closest to
  square), numbered west→east, north→south; every edge is computed once from the parent's edges and rounded to 7
  decimals, the outermost children reuse the parent's own edge, so neighbours share identical coordinates. A unit
  grid is about 100 m × 100 m (0.00104° × 0.0009° near 30.2°N 120.1°E).
* departments covering every responsible department type of the categories (``department_create``): per street the
  street office (街道办事处), 城管执法中队 and 环卫所; per district 市政, 水务, 园林, 环卫, 城管执法, 交警, 住建 and 应急;
  at city level 电力, 通信, 燃气, 热力, 公安 and 交通;
* staff with their roles: ``admin`` (superuser), ``city_dispatcher``, ``city_supervisor``, ``hotline_operator``;
  ``dNN_dispatcher`` and ``dNN_supervisor`` per district; ``dNNsNN_dispatcher`` per street; ``dNNsNNcNN_worker`` per
  community (grid worker of all its grids); ``h_<department code>`` per department (handler). All share one password:
  ``$GRIDLOOP_DEMO_PASSWORD`` or ``gridloop-demo``.

Names come from seeded syllable pools (``random.Random(seed)``): the same seed always gives the same city.

It refuses to run when regions exist, and under ``GRIDLOOP_PRODUCTION=1`` (it makes an ``admin`` with a published
password). ``reset=True`` first deletes ALL role assignments, users (superusers included), departments and regions —
the whole geography and staff — in the same transaction. Categories, cases and their history belong to the apps
above this one: ``dispatch.demo`` loads the categories, builds the history and clears it on reset.
"""

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import product
from math import isqrt

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Count, ProtectedError, RestrictedError

from config.errors import InvalidInput

from .models import LEVEL_ORDER, Department, DepartmentType, Level, Region, Role, RoleAssignment, User
from .services import department_create, regions_import, role_assign

CITY_CODE = "990100"  # fictional province 99
CITY_NAME = "示范市"
DEFAULT_PASSWORD = "gridloop-demo"
PASSWORD_ENV = "GRIDLOOP_DEMO_PASSWORD"

# North-west corner of the city and the size of one unit grid (≈ 100 m × 100 m at 30.2°N).
WEST, NORTH = 120.1, 30.2
GRID_DLNG, GRID_DLAT = 0.00104, 0.0009
DECIMALS = 7

LIMITS = {"districts": 99, "streets": 999, "communities": 999, "grids": 999}

# ASCII slugs for department codes: f"{region.code}-{slug}".
TYPE_SLUG = {
    DepartmentType.STREET_OFFICE: "street-office",
    DepartmentType.SANITATION: "sanitation",
    DepartmentType.MUNICIPAL: "municipal",
    DepartmentType.ENFORCEMENT: "enforcement",
    DepartmentType.LANDSCAPING: "landscaping",
    DepartmentType.WATER: "water",
    DepartmentType.POWER: "power",
    DepartmentType.TELECOM: "telecom",
    DepartmentType.GAS: "gas",
    DepartmentType.HEATING: "heating",
    DepartmentType.EMERGENCY: "emergency",
    DepartmentType.POLICE: "police",
    DepartmentType.TRAFFIC_POLICE: "traffic-police",
    DepartmentType.TRANSPORT: "transport",
    DepartmentType.HOUSING: "housing",
    DepartmentType.PLANNING: "planning",
    DepartmentType.ECOLOGY: "ecology",
    DepartmentType.MARKET: "market",
}
# (type, name suffix appended to the region's name) per level.
STREET_DEPARTMENTS = [
    (DepartmentType.STREET_OFFICE, "办事处"),
    (DepartmentType.ENFORCEMENT, "城管执法中队"),
    (DepartmentType.SANITATION, "环卫所"),
]
DISTRICT_DEPARTMENTS = [
    (DepartmentType.MUNICIPAL, "市政工程管理处"),
    (DepartmentType.WATER, "水务局"),
    (DepartmentType.LANDSCAPING, "园林绿化局"),
    (DepartmentType.SANITATION, "环境卫生管理中心"),
    (DepartmentType.ENFORCEMENT, "城管执法大队"),
    (DepartmentType.TRAFFIC_POLICE, "交警大队"),
    (DepartmentType.HOUSING, "住房和城乡建设局"),
    (DepartmentType.EMERGENCY, "应急管理局"),
]
CITY_DEPARTMENTS = [
    (DepartmentType.POWER, "供电公司"),
    (DepartmentType.TELECOM, "通信管线联合办公室"),
    (DepartmentType.GAS, "燃气集团"),
    (DepartmentType.HEATING, "热力集团"),
    (DepartmentType.POLICE, "公安局"),
    (DepartmentType.TRANSPORT, "交通运输局"),
]

# Syllable pools: a name is first + second + suffix; siblings never share a name.
_DISTRICT_POOL = ("东西南北上中新青金云龙凤江滨湖山松桂兰梅安平宁和春明清碧翠锦玉石",
                  "湖山江河城阳林桥塘溪浦港湾园岭峰泉州坪洲川口")
_STREET_POOL = ("桂梅兰竹菊松柏枫桃李杏荷柳槐樱茶枣橘桑杨梧榆莲棠樟杉桐楠榕柑杞芦苇蒲菱芷蕙藕栗榴桦椿棕",
                "花林园溪桥苑塘坊巷湾亭港坞洲滩岸堤渡埠浜弄里村庄湖山泾汇墩畔")
_COMMUNITY_POOL = ("青白红黄绿紫金银玉石朝夕晨曦星月日光明华丰嘉盛隆兴福康宁泰和顺祥瑞新安乐永长德仁恒裕文",
                   "石泉岩坡岭苑里庄门台亭楼阁轩院府堂井坊桥湾塘田园溪居舍庐坞")


def _pool(pool: tuple[str, str]) -> list[str]:
    first, second = pool
    return sorted({a + b for a, b in product(first, second) if a != b})


DISTRICT_NAMES, STREET_NAMES, COMMUNITY_NAMES = _pool(_DISTRICT_POOL), _pool(_STREET_POOL), _pool(_COMMUNITY_POOL)
if (len(DISTRICT_NAMES) < LIMITS["districts"] or len(STREET_NAMES) < LIMITS["streets"]
        or len(COMMUNITY_NAMES) < LIMITS["communities"]):
    raise ImportError("grids.demo: a name pool is smaller than the largest sibling count allowed")


@dataclass
class DemoCity:
    """What ``demo_city_build`` made. ``logins`` are (username, password, role description) of every user;
    ``main_logins`` the few worth printing (admin, city roles, first district, first street, a worker, its handlers)."""

    seed: int
    city_code: str
    city_name: str
    bbox: tuple[float, float, float, float]  # west, south, east, north
    regions: dict[str, int]  # per level
    departments: int
    users: int
    role_assignments: int
    password: str
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    main_logins: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def grids(self) -> int:
        return self.regions.get(Level.GRID, 0)


# --- Geometry ------------------------------------------------------------------------------------------------------
def block_shape(n: int, child_w: int, child_h: int) -> tuple[int, int]:
    """(rows, cols) with rows × cols == n, the factorisation closest to square, oriented so that the parent block
    (cols × child_w wide, rows × child_h high, in unit grids) is as square as possible (ties: wider)."""
    small = max(d for d in range(1, isqrt(n) + 1) if n % d == 0)
    large = n // small

    def squareness(rows, cols):
        w, h = cols * child_w, rows * child_h
        return max(w, h) / min(w, h)

    return min([(small, large), (large, small)], key=lambda rc: (squareness(*rc), -rc[1]))


def split(rect: tuple[float, float, float, float], rows: int, cols: int) -> list[tuple[float, float, float, float]]:
    """Children rectangles (west, south, east, north) of ``rect`` in reading order (west→east, north→south).

    Interior edges are computed once per line and rounded; the outer ones are the parent's own values, so children
    tile the parent with shared, bit-identical coordinates."""
    west, south, east, north = rect
    xs = [west] + [round(west + (east - west) * k / cols, DECIMALS) for k in range(1, cols)] + [east]
    ys = [north] + [round(north - (north - south) * k / rows, DECIMALS) for k in range(1, rows)] + [south]
    return [(xs[j], ys[i + 1], xs[j + 1], ys[i]) for i in range(rows) for j in range(cols)]


def polygon(rect: tuple[float, float, float, float]) -> dict:
    west, south, east, north = rect
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]  # counter-clockwise
    return {"type": "Polygon", "coordinates": [ring]}


def _feature(code: str, name: str, level: str, parent_code: str | None, rect) -> dict:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "level": level, "parent_code": parent_code},
        "geometry": polygon(rect),
    }


# --- Plan (pure: no database) --------------------------------------------------------------------------------------
@dataclass
class _Node:
    code: str
    name: str
    level: str
    rect: tuple[float, float, float, float]
    tag: str  # username stem: d01, d01s02, d01s02c03
    children: list["_Node"] = field(default_factory=list)


def validate_sizes(*, districts, streets, communities, grids) -> None:
    """Raise InvalidInput naming the option (``--districts`` …) when a size is not a whole number in range."""
    for option, value in (("districts", districts), ("streets", streets), ("communities", communities),
                          ("grids", grids)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= LIMITS[option]:
            raise InvalidInput(f"--{option} must be a whole number from 1 to {LIMITS[option]}, got {value!r}",
                               field=option)


def city_plan(*, districts: int, streets: int, communities: int, grids: int, seed: int) -> _Node:
    """The region tree with names and rectangles, all from ``random.Random(seed)``."""
    validate_sizes(districts=districts, streets=streets, communities=communities, grids=grids)
    rng = random.Random(seed)
    # Block shapes bottom-up (in unit grids) so that every level stays close to square.
    grid_rc = block_shape(grids, 1, 1)
    community_wh = (grid_rc[1], grid_rc[0])
    community_rc = block_shape(communities, *community_wh)
    street_wh = (community_rc[1] * community_wh[0], community_rc[0] * community_wh[1])
    street_rc = block_shape(streets, *street_wh)
    district_wh = (street_rc[1] * street_wh[0], street_rc[0] * street_wh[1])
    district_rc = block_shape(districts, *district_wh)
    city_wh = (district_rc[1] * district_wh[0], district_rc[0] * district_wh[1])
    city_rect = (WEST, round(NORTH - city_wh[1] * GRID_DLAT, DECIMALS),
                 round(WEST + city_wh[0] * GRID_DLNG, DECIMALS), NORTH)

    city = _Node(CITY_CODE, CITY_NAME, Level.CITY, city_rect, "city")
    district_names = rng.sample(DISTRICT_NAMES, districts)
    for d, d_rect in enumerate(split(city_rect, *district_rc), start=1):
        district = _Node(f"{CITY_CODE[:4]}{d:02d}", district_names[d - 1] + "区", Level.DISTRICT, d_rect, f"d{d:02d}")
        city.children.append(district)
        street_names = rng.sample(STREET_NAMES, streets)
        for s, s_rect in enumerate(split(d_rect, *street_rc), start=1):
            street = _Node(f"{district.code}{s:03d}", street_names[s - 1] + "街道", Level.STREET, s_rect,
                           f"{district.tag}s{s:02d}")
            district.children.append(street)
            community_names = rng.sample(COMMUNITY_NAMES, communities)
            for c, c_rect in enumerate(split(s_rect, *community_rc), start=1):
                community = _Node(f"{street.code}{c:03d}", community_names[c - 1] + "社区", Level.COMMUNITY, c_rect,
                                  f"{street.tag}c{c:02d}")
                street.children.append(community)
                width = max(2, len(str(grids)))
                for g, g_rect in enumerate(split(c_rect, *grid_rc), start=1):
                    community.children.append(
                        _Node(f"{community.code}{g:03d}", f"{community.name}第{g:0{width}d}网格", Level.GRID, g_rect, "")
                    )
    return city


def plan_features(city: _Node) -> list[dict]:
    """GeoJSON features of the whole tree, parents before children."""
    features = []
    stack = [(city, None)]
    while stack:
        node, parent_code = stack.pop()
        features.append(_feature(node.code, node.name, node.level, parent_code, node.rect))
        stack.extend((child, node.code) for child in reversed(node.children))
    features.sort(key=lambda f: LEVEL_ORDER.index(f["properties"]["level"]))  # stable: code order within a level
    return features


# --- Build ---------------------------------------------------------------------------------------------------------
def demo_refuse_in_production() -> None:
    """Raise InvalidInput under GRIDLOOP_PRODUCTION=1: the demo makes ``admin`` with a published password and its
    reset deletes every user and region."""
    if getattr(settings, "PRODUCTION", False):
        raise InvalidInput(
            "the demo city is not built with GRIDLOOP_PRODUCTION=1: it creates the login admin / "
            f"{DEFAULT_PASSWORD} (or $GRIDLOOP_DEMO_PASSWORD) and --reset deletes every user and region",
            field="GRIDLOOP_PRODUCTION",
        )


def demo_reset() -> None:
    """Delete every role assignment, user, department and region (the whole geography and staff). Categories stay.
    Regions go bottom-up because a region protects its children."""
    try:
        with transaction.atomic():
            RoleAssignment.objects.all().delete()
            User.objects.all().delete()
            Department.objects.all().delete()
            for level in reversed(LEVEL_ORDER):
                Region.objects.filter(level=level).delete()
    except (ProtectedError, RestrictedError) as exc:
        kinds = sorted({type(obj)._meta.verbose_name_plural for obj in list(exc.args[1])[:50]})
        raise InvalidInput(
            f"--reset cannot delete the existing regions, departments and users: other records refer to them "
            f"({', '.join(map(str, kinds))})", field="reset",
        ) from exc


def demo_city_build(
    *,
    districts: int = 3,
    streets: int = 4,
    communities: int = 5,
    grids: int = 10,
    seed: int = 1,
    reset: bool = False,
    password: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> DemoCity:
    """Build the demo city (see the module docstring). All-or-nothing, in one transaction.

    Raises InvalidInput naming the option for bad sizes, and when regions exist and ``reset`` is false."""
    started = time.perf_counter()
    say = progress or (lambda message: None)
    demo_refuse_in_production()
    validate_sizes(districts=districts, streets=streets, communities=communities, grids=grids)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidInput(f"--seed must be a whole number, got {seed!r}", field="seed")
    password = password or os.environ.get(PASSWORD_ENV) or DEFAULT_PASSWORD

    plan = city_plan(districts=districts, streets=streets, communities=communities, grids=grids, seed=seed)
    features = plan_features(plan)
    with transaction.atomic():
        if Region.objects.exists():
            if not reset:
                raise InvalidInput(
                    "regions already exist; pass --reset to delete ALL regions, departments and users "
                    "(geography and staff) and build the demo city again", field="reset",
                )
            say("reset: deleting role assignments, users, departments and regions")
            demo_reset()

        say(f"regions: importing {len(features)} features")
        regions_import(features=features)
        del features

        upper = {r.code: r for r in Region.objects.exclude(level=Level.GRID)}
        grid_ids: dict[str, list[int]] = {}
        for region_id, code in Region.objects.filter(level=Level.GRID).values_list("id", "code").order_by("code"):
            grid_ids.setdefault(code[:12], []).append(region_id)

        say("departments")
        departments: list[Department] = []  # in plan order
        city_region = upper[plan.code]
        street_departments: dict[str, list[Department]] = {}

        def make(region: Region, type_: str, suffix: str) -> Department:
            department = department_create(code=f"{region.code}-{TYPE_SLUG[type_]}", name=region.name + suffix,
                                           type=type_, region=region)
            departments.append(department)
            return department

        for district in plan.children:
            for street in district.children:
                street_departments[street.code] = [make(upper[street.code], t, s) for t, s in STREET_DEPARTMENTS]
            for type_, suffix in DISTRICT_DEPARTMENTS:
                make(upper[district.code], type_, suffix)
        for type_, suffix in CITY_DEPARTMENTS:
            make(city_region, type_, suffix)

        say("staff")
        # (username, display name, description, [(role, region, department)])
        staff: list[tuple[str, str, str, list]] = [
            ("admin", "系统管理员", "admin (superuser)", [(Role.ADMIN, None, None)]),
            ("city_dispatcher", f"{CITY_NAME}指挥中心派遣员", f"dispatcher · {CITY_NAME} {CITY_CODE}",
             [(Role.DISPATCHER, city_region, None)]),
            ("city_supervisor", f"{CITY_NAME}督办员", f"supervisor · {CITY_NAME} {CITY_CODE}",
             [(Role.SUPERVISOR, city_region, None)]),
            ("hotline_operator", f"{CITY_NAME}12345坐席", f"operator · {CITY_NAME} {CITY_CODE}",
             [(Role.OPERATOR, city_region, None)]),
        ]
        workers: list[tuple[str, str, str, list[int]]] = []
        for district in plan.children:
            region = upper[district.code]
            staff.append((f"{district.tag}_dispatcher", f"{region.name}派遣员",
                          f"dispatcher · {region.name} {region.code}", [(Role.DISPATCHER, region, None)]))
            staff.append((f"{district.tag}_supervisor", f"{region.name}督办员",
                          f"supervisor · {region.name} {region.code}", [(Role.SUPERVISOR, region, None)]))
            for street in district.children:
                region = upper[street.code]
                staff.append((f"{street.tag}_dispatcher", f"{region.name}派遣员",
                              f"dispatcher · {region.name} {region.code}", [(Role.DISPATCHER, region, None)]))
                for community in street.children:
                    ids = grid_ids[community.code]
                    workers.append((f"{community.tag}_worker", f"{community.name}网格员",
                                    f"grid worker · {community.name} {community.code} ({len(ids)} grids)", ids))
        for department in departments:
            staff.append((f"h_{department.code}", f"{department.name}处置员",
                          f"handler · {department.name} ({department.type})", [(Role.HANDLER, None, department)]))

        password_hash = make_password(password)  # once: hashing per user would take minutes at scale
        users = [
            User(username=username, display_name=display[:50], password=password_hash,
                 is_staff=username == "admin", is_superuser=username == "admin")
            for username, display, _, _ in staff + workers
        ]
        users = User.objects.bulk_create(users, batch_size=1000)
        if users and users[0].pk is None:  # backends that do not return ids from bulk inserts
            ids = dict(User.objects.filter(username__in=[u.username for u in users]).values_list("username", "id"))
            for user in users:
                user.pk = ids[user.username]
        by_name = {user.username: user for user in users}

        say("roles")
        for username, _, _, roles in staff:
            for role, region, department in roles:
                role_assign(user=by_name[username], role=role, region=region, department=department)
        # Grid workers: one row per grid, bulk-created. role_assign's shape rule (a grid_worker → a unit grid) holds
        # by construction: the ids come from the grid-level query above.
        RoleAssignment.objects.bulk_create(
            (RoleAssignment(user_id=by_name[username].pk, role=Role.GRID_WORKER, region_id=region_id)
             for username, _, _, ids in workers for region_id in ids),
            batch_size=2000,
        )

        logins = [(username, password, description) for username, _, description, _ in staff + workers]
        first_district = plan.children[0]
        first_street = first_district.children[0]
        main = ["admin", "city_dispatcher", "city_supervisor", "hotline_operator",
                f"{first_district.tag}_dispatcher", f"{first_district.tag}_supervisor",
                f"{first_street.tag}_dispatcher", f"{first_street.children[0].tag}_worker"]
        main += [f"h_{d.code}" for d in street_departments[first_street.code]]
        by_login = {login[0]: login for login in logins}
        main_logins = [by_login[username] for username in main]
        regions = dict.fromkeys(map(str, LEVEL_ORDER), 0)
        regions.update(Region.objects.values_list("level").annotate(n=Count("id")).values_list("level", "n"))
        result = DemoCity(
            seed=seed, city_code=CITY_CODE, city_name=CITY_NAME, bbox=plan.rect,
            regions=regions,
            departments=Department.objects.count(), users=User.objects.count(),
            role_assignments=RoleAssignment.objects.count(),
            password=password, logins=logins, main_logins=main_logins,
        )
    result.seconds = time.perf_counter() - started
    return result
