"""Reads for regions, departments and scopes.

Scope in one call: ``region_scope_q(user, field=...)`` gives a Q object that limits any queryset whose rows carry a
region code (a case's grid code, a report's street code …) to what the user may see; ``departments_of(user)`` and
``command_centers_of(user)`` answer "where may this user act as handler / dispatcher".
"""

import threading
import time
from dataclasses import dataclass
from typing import cast, overload

from django.conf import settings
from django.db.models import Q, QuerySet

from . import geo
from .models import ApiToken, Department, GeoVersion, Level, Region, Role, RoleAssignment, User

# --- Locate -------------------------------------------------------------------------------------------------------------
_index_lock = threading.Lock()
_index: geo.GridIndex | None = None
_index_checked_at = float("-inf")


def current_geo_version() -> int:
    return GeoVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def grid_index_build(version: int | None = None) -> geo.GridIndex:
    """Build the locate index from the stored unit grids (one query for grids, one for their ancestors)."""
    version = current_geo_version() if version is None else version
    upper = {
        row[0]: row[1:]
        for row in Region.objects.exclude(level=Level.GRID).values_list("id", "level", "code", "name", "parent_id")
    }
    entries: list[geo.GridEntry] = []
    geometries: list = []
    for region_id, code, name, boundary, parent_id in Region.objects.filter(level=Level.GRID).values_list(
        "id", "code", "name", "boundary", "parent_id"
    ).iterator(chunk_size=5000):
        chain, ids = [], []
        while parent_id is not None:
            level, p_code, p_name, parent_id_next = upper[parent_id]
            chain.append((level, p_code, p_name))
            ids.append(parent_id)
            parent_id = parent_id_next
        entries.append(geo.GridEntry(region_id, code, name, tuple(reversed(chain)), tuple(reversed(ids))))
        geometries.append(geo.parse_boundary(boundary))
    return geo.GridIndex(entries, geometries, version=version)


def grid_index() -> geo.GridIndex:
    """This process's locate index, rebuilt when another process (or this one) changed boundaries."""
    global _index, _index_checked_at
    now = time.monotonic()
    if _index is not None and now - _index_checked_at < settings.GRIDLOOP_GRID_INDEX_CHECK_SECONDS:
        return _index
    version = current_geo_version()
    with _index_lock:
        if _index is None or _index.version != version:
            _index = grid_index_build(version)
        _index_checked_at = now
    return _index


def grid_index_invalidate() -> None:
    """Make the next lookup in this process re-check the geometry version."""
    global _index_checked_at
    _index_checked_at = float("-inf")


def locate(lat: float, lng: float) -> geo.GridEntry | None:
    """The unit grid containing the point (border rule: smallest code), or None outside the service area."""
    return grid_index().locate(lat, lng)


# --- Region tree --------------------------------------------------------------------------------------------------------
def ancestor_codes(code: str) -> list[str]:
    """Codes of the ancestors of a region code, city first (derived from the code rules, no query)."""
    codes = []
    if len(code) >= 6:
        codes.append(code[:4] + "00")
        if code[4:6] != "00":
            codes.append(code[:6])
    codes += [code[:n] for n in (9, 12) if len(code) > n]
    return [c for c in codes if c != code]


def region_ancestors(region: Region) -> QuerySet[Region]:
    return Region.objects.filter(code__in=ancestor_codes(region.code)).order_by("code")


def region_subtree(region: Region) -> QuerySet[Region]:
    return Region.objects.filter(code__startswith=region.subtree_prefix)


# --- Scope --------------------------------------------------------------------------------------------------------------
# A process-wide copy of users' role assignments, keyed by user id, valid while the user's ``roles_version`` (which
# triggers move on with every change, migration grids 0002) is the one it was read under. The token or session
# read at the start of a request brings the user's current version, so a role taken away is seen by the next
# request; a request saves the roles query (~1 ms). Bounded: emptied when it reaches ROLES_CACHE_USERS users.
ROLES_CACHE_USERS = 5_000
_roles_cache: dict[int, tuple[int, list[RoleAssignment]]] = {}


def roles_of(user: User) -> list[RoleAssignment]:
    """The user's role assignments (kept on the user object for the request, and across requests until they
    change). Treat them as read-only: other requests share them."""
    if not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_gridloop_roles", None)
    if cached is None:
        version = user.roles_version  # read (with the user) before the roles: the copy is never older than it
        hit = _roles_cache.get(user.pk)
        if hit is not None and hit[0] == version:
            cached = hit[1]
        else:
            cached = list(RoleAssignment.objects.filter(user=user).select_related("region", "department__region")
                          .defer("region__boundary", "department__region__boundary"))
            if len(_roles_cache) >= ROLES_CACHE_USERS:
                _roles_cache.clear()
            _roles_cache[user.pk] = (version, cached)
        user._gridloop_roles = cached
    return cached


def roles_forget(user: User) -> None:
    """After changing the user's roles in this process: read them again (the user object's version too)."""
    user.__dict__.pop("_gridloop_roles", None)
    user.roles_version = User.objects.filter(pk=user.pk).values_list("roles_version", flat=True).first() or 0


def is_admin(user: User) -> bool:
    return bool(getattr(user, "is_superuser", False)) or any(r.role == Role.ADMIN for r in roles_of(user))


@overload
def scope_prefixes(user: User) -> set[str] | None: ...
@overload
def scope_prefixes(user: User, roles: tuple[str, ...]) -> set[str]: ...
@overload
def scope_prefixes(user: User, roles: tuple[str, ...] | None = None) -> set[str] | None: ...
def scope_prefixes(user: User, roles: tuple[str, ...] | None = None) -> set[str] | None:
    """Region code prefixes the user's roles cover; None means everywhere (admin, when roles is not given)."""
    if roles is None and is_admin(user):
        return None
    prefixes = set()
    for assignment in roles_of(user):
        if roles is not None and assignment.role not in roles:
            continue
        if assignment.region is not None:
            prefixes.add(assignment.region.subtree_prefix)
        elif assignment.department is not None:
            prefixes.add(assignment.department.region.subtree_prefix)
    return prefixes


def region_scope_q(user: User, *, field: str = "code", roles: tuple[str, ...] | None = None) -> Q:
    """A Q limiting rows whose ``field`` holds a region code to the user's area scope."""
    prefixes = scope_prefixes(user, roles)
    if prefixes is None:
        return Q()
    if not prefixes:
        return Q(pk__in=[])
    q = Q()
    for prefix in sorted(prefixes):
        q |= Q(**{f"{field}__startswith": prefix})
    return q


def covers(user: User, code: str, *, roles: tuple[str, ...] | None = None) -> bool:
    """Whether the user's scope (optionally: through one of ``roles``) covers the region ``code``."""
    prefixes = scope_prefixes(user, roles)
    return prefixes is None or any(code.startswith(p) for p in prefixes)


def regions_visible_to(user: User) -> QuerySet[Region]:
    """Regions in the user's scope, plus the ancestors of its roots (so a worker sees the names above their grids)."""
    prefixes = scope_prefixes(user)
    if prefixes is None:
        return Region.objects.all()
    above = {code for prefix in prefixes for code in ancestor_codes(prefix)}
    return Region.objects.filter(region_scope_q(user) | Q(code__in=above))


def grids_visible_to(user: User) -> QuerySet[Region]:
    return Region.objects.filter(region_scope_q(user), level=Level.GRID)


def departments_of(user: User) -> list[Department]:
    """Departments the user handles cases for (handler role)."""
    return [a.department for a in roles_of(user) if a.role == Role.HANDLER and a.department is not None]


def command_centers_of(user: User) -> list[Region]:
    """Regions whose command center (指挥中心) the user dispatches for."""
    return [a.region for a in roles_of(user) if a.role == Role.DISPATCHER and a.region is not None]


def departments_visible_to(user: User) -> QuerySet[Department]:
    """Handlers: their own departments. Others: departments serving their area — inside their subtree, or at a
    higher level whose jurisdiction contains it (a street dispatcher sees the district's water department)."""
    prefixes = scope_prefixes(user)
    if prefixes is None:
        return Department.objects.select_related("region")
    q = Q(pk__in=[d.pk for d in departments_of(user)])
    region_roles = (Role.GRID_WORKER, Role.OPERATOR, Role.DISPATCHER, Role.SUPERVISOR)
    for prefix in scope_prefixes(user, region_roles):
        q |= Q(region__code__startswith=prefix) | Q(region__code__in=ancestor_codes(prefix))
    return Department.objects.filter(q).select_related("region")


@dataclass(frozen=True)
class Scope:
    """What ``GET /api/v1/me/`` reports."""

    roles: list[RoleAssignment]
    is_admin: bool
    grid_codes: list[str]
    region_prefixes: list[str] | None
    department_codes: list[str]
    command_center_codes: list[str]


def scope_of(user: User) -> Scope:
    prefixes = scope_prefixes(user)
    return Scope(
        roles=roles_of(user),
        is_admin=is_admin(user),
        grid_codes=sorted(cast(Region, a.region).code for a in roles_of(user) if a.role == Role.GRID_WORKER),
        region_prefixes=None if prefixes is None else sorted(prefixes),
        department_codes=sorted(d.code for d in departments_of(user)),
        command_center_codes=sorted(r.code for r in command_centers_of(user)),
    )


# --- Geometry checks ----------------------------------------------------------------------------------------------------
# (Imported here rather than at the top so this section stays an append-only addition to the module.)
import numpy as np  # noqa: E402
import shapely  # noqa: E402

# Equirectangular approximation: 1° of latitude ≈ 111,320 m, 1° of longitude ≈ 111,320 · cos(latitude) m. Within a
# city (a few tens of km) the error is far below what a geometry check needs.
METERS_PER_DEGREE = 111_320.0


def _m2_per_deg2(lat):
    """m² in one degree² at latitude ``lat`` (scalar or array)."""
    return METERS_PER_DEGREE * METERS_PER_DEGREE * np.cos(np.radians(lat))


def _object_array(items) -> np.ndarray:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _parse_all(rows) -> tuple[list, np.ndarray]:
    """(keys, geometries) for rows of (key…, code, boundary); a stored boundary that no longer parses is an error
    naming its region."""
    keys, geometries = [], []
    for *key, code, boundary in rows:
        try:
            geometries.append(geo.parse_boundary(boundary))
        except geo.GeometryError as exc:
            raise geo.GeometryError(f"region {code}: {exc}") from exc
        keys.append((*key, code))
    return keys, _object_array(geometries)


def _pairwise(operation, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``operation(a, b)`` element-wise; if GEOS gives up on a nearly degenerate pair, retry that batch one pair at a
    time on a 1e-9° grid (≈ 0.1 mm) so one awkward pair cannot sink the whole check."""
    try:
        return operation(a, b)
    except shapely.errors.GEOSException:
        return _object_array([operation(x, y, grid_size=1e-9) for x, y in zip(a, b, strict=True)])


def _area_m2(geometries: np.ndarray) -> np.ndarray:
    """Area in m² of WGS84 geometries, each converted at the latitude of its own centroid."""
    if not len(geometries):
        return np.zeros(0)
    lat = shapely.get_y(shapely.centroid(geometries))
    return np.nan_to_num(shapely.area(geometries) * _m2_per_deg2(lat))


def overlap_pairs(geometries: np.ndarray, tolerance_m2: float = 1.0) -> list[tuple[int, int, float]]:
    """Pairs (i, j, m²), i < j, of geometries whose interiors overlap by more than ``tolerance_m2``.

    One vectorised STRtree query finds every intersecting pair; pairs that only touch (shared edge or corner) are
    dropped before any intersection is computed, so a clean tiling costs one query and one ``touches`` pass.
    """
    geometries = _object_array(list(geometries))
    if len(geometries) < 2:
        return []
    shapely.prepare(geometries)
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    interiors_meet = ~shapely.touches(geometries[left], geometries[right])
    left, right = left[interiors_meet], right[interiors_meet]
    areas = _area_m2(_pairwise(shapely.intersection, geometries[left], geometries[right]))
    over = areas > tolerance_m2
    left, right, areas = left[over], right[over], areas[over]
    order = np.lexsort((right, left))
    return [(int(left[k]), int(right[k]), float(areas[k])) for k in order]


def outside_areas(children: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Area in m² of each child outside its parent (element-wise; 0 where the parent covers the child)."""
    children, parents = _object_array(list(children)), _object_array(list(parents))
    result = np.zeros(len(children))
    if not len(children):
        return result
    shapely.prepare(parents)
    sticking = np.flatnonzero(~shapely.covers(parents, children))
    if len(sticking):
        result[sticking] = _area_m2(_pairwise(shapely.difference, children[sticking], parents[sticking]))
    return result


def _stored_geometries(**filters) -> tuple[list[tuple[int, int | None, str, str]], np.ndarray]:
    """[(id, parent id, level, code)] and the parsed boundaries of the stored regions, ordered by code."""
    rows = Region.objects.filter(**filters).order_by("code").values_list("id", "parent_id", "level", "code", "boundary")
    return _parse_all(rows.iterator(chunk_size=5000))


def _grid_overlaps(keys, geometries, tolerance_m2) -> list[tuple[str, str, float]]:
    grids = np.array([i for i, key in enumerate(keys) if key[2] == Level.GRID], dtype=np.int64)
    return [
        (keys[grids[i]][3], keys[grids[j]][3], area)
        for i, j, area in overlap_pairs(geometries[grids], tolerance_m2)
    ]


def _outside_parent(keys, geometries, tolerance_m2) -> list[tuple[str, str, float]]:
    position = {key[0]: i for i, key in enumerate(keys)}
    pairs = [(i, position[key[1]]) for i, key in enumerate(keys) if key[1] in position]
    if not pairs:
        return []
    child_idx, parent_idx = (np.array(column, dtype=np.int64) for column in zip(*pairs, strict=True))
    areas = outside_areas(geometries[child_idx], geometries[parent_idx])
    return [
        (keys[c][3], keys[p][3], float(area))
        for c, p, area in zip(child_idx, parent_idx, areas, strict=True)
        if area > tolerance_m2
    ]


def grid_overlaps(tolerance_m2: float = 1.0) -> list[tuple[str, str, float]]:
    """Pairs of unit grids (smaller code first) whose areas overlap by more than ``tolerance_m2`` m², with the
    overlap in m², ordered by code. Grids that only share a border or a corner do not overlap."""
    return _grid_overlaps(*_stored_geometries(level=Level.GRID), tolerance_m2)


def regions_outside_parent(tolerance_m2: float = 1.0) -> list[tuple[str, str, float]]:
    """(child code, parent code, m² outside) for every region whose boundary sticks out of its parent's by more
    than ``tolerance_m2``, ordered by child code."""
    return _outside_parent(*_stored_geometries(), tolerance_m2)


def region_geometry_problems(tolerance_m2: float = 1.0) -> tuple[list, list]:
    """``(grid_overlaps(t), regions_outside_parent(t))`` reading and parsing every boundary only once."""
    keys, geometries = _stored_geometries()
    return _grid_overlaps(keys, geometries, tolerance_m2), _outside_parent(keys, geometries, tolerance_m2)


def grids_patrolled_by(user: User) -> list[Region]:
    """The unit grids a grid worker patrols (with their boundaries, for the field app's maps), by code."""
    ids = [a.region_id for a in roles_of(user) if a.role == Role.GRID_WORKER and a.region_id]
    return list(Region.objects.filter(pk__in=ids).only("code", "name", "boundary").order_by("code")) if ids else []

# --- Place search (the hotline desk): districts, streets, communities and grids by name or code, in the user's area ----
def regions_search(user: User, text: str, *, roles: tuple[str, ...] | None = None, limit: int = 10
                   ) -> list[Region]:
    """Districts, streets, communities and unit grids whose name contains ``text`` (or whose code starts with it),
    inside the user's area through ``roles``, by code (a region before the regions inside it). Boundaries are not
    read."""
    text = (text or "").strip()
    if not text:
        return []
    found = (Region.objects.defer("boundary").filter(region_scope_q(user, roles=roles))
             .filter(level__in=(Level.DISTRICT, Level.STREET, Level.COMMUNITY, Level.GRID))
             .filter(Q(name__icontains=text) | Q(code__startswith=text)).order_by("code"))
    return list(found[:limit])


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    """The user's live API tokens (one per device), most recently used first."""
    from django.utils import timezone

    return ApiToken.objects.filter(user=user, expires_at__gt=timezone.now()).order_by("-last_used_at")


# --- Map boundaries (the pages' maps: web/static/web/map.js) ---------------------------------------------------------
from .models import LEVEL_ORDER  # noqa: E402

# Which level a map draws at a zoom: whole streets when zoomed out, communities in between, unit grids close up.
BOUNDARY_LEVEL_BY_ZOOM = ((13, Level.STREET), (15, Level.COMMUNITY), (99, Level.GRID))
_boundaries_cache: dict[tuple, dict] = {}
BOUNDARIES_CACHE_SIZE = 512


def boundary_level(parent: Region, zoom: int) -> str:
    """The level of the regions drawn inside ``parent`` at ``zoom``: never above the parent's children."""
    below = LEVEL_ORDER.index(Level(parent.level)) + 1
    if below >= len(LEVEL_ORDER):
        return parent.level
    for up_to, level in BOUNDARY_LEVEL_BY_ZOOM:
        if zoom < up_to:
            return LEVEL_ORDER[max(below, LEVEL_ORDER.index(level))]
    return Level.GRID


def _simplify_tolerance(zoom: int) -> float:
    """Degrees in about one screen pixel at ``zoom`` (256-pixel tiles): detail below it is not drawn anyway."""
    return 360.0 / (256 * 2 ** max(0, min(zoom, 20)))


def boundaries_geojson(*, parent: Region, zoom: int) -> dict:
    """A GeoJSON FeatureCollection of the regions inside ``parent`` at the level for ``zoom`` (the parent itself when
    it is a unit grid), each simplified to about a pixel at that zoom and rounded to 6 decimals (~0.1 m); properties
    ``code``, ``name``, ``level``. Cached per process until the boundaries change (``GeoVersion``)."""
    from shapely.geometry import mapping, shape

    zoom = max(0, min(int(zoom), 20))
    level = boundary_level(parent, zoom)
    key = (current_geo_version(), parent.code, level, zoom)
    cached = _boundaries_cache.get(key)
    if cached is not None:
        return cached
    rows: list[Region] | QuerySet[Region]
    if level == parent.level:
        rows = [parent]
    else:
        rows = Region.objects.filter(level=level, code__startswith=parent.subtree_prefix).only(
            "code", "name", "level", "boundary").order_by("code")
    tolerance = _simplify_tolerance(zoom)
    features = []
    for region in rows:
        geometry = shape(region.boundary).simplify(tolerance, preserve_topology=True)
        geometry = shapely.set_precision(geometry, 1e-6)
        features.append({"type": "Feature", "geometry": mapping(geometry),
                         "properties": {"code": region.code, "name": region.name, "level": region.level}})
    collection = {"type": "FeatureCollection", "features": features,
                  "properties": {"parent": parent.code, "level": level, "zoom": zoom}}
    if len(_boundaries_cache) >= BOUNDARIES_CACHE_SIZE:
        _boundaries_cache.clear()
    _boundaries_cache[key] = collection
    return collection


def region_in_scope(user: User, code: str) -> Region | None:
    """The region ``code`` when it lies inside the user's area scope (or is one of its ancestors), else None."""
    region = Region.objects.filter(code=code).defer("boundary").first()
    if region is None:
        return None
    prefixes = scope_prefixes(user)
    if prefixes is None or any(region.code.startswith(p) for p in prefixes):
        return region
    return None


def scope_root(user: User) -> Region | None:
    """The widest region of the user's area (where a map of their area starts): their first root by code."""
    prefixes = scope_prefixes(user)
    if prefixes is None:
        return Region.objects.filter(level=Level.CITY).defer("boundary").order_by("code").first()
    places = [a.region or (a.department.region if a.department else None) for a in roles_of(user)]
    found = sorted((p for p in places if p is not None), key=lambda p: (len(p.subtree_prefix), p.code))
    return found[0] if found else None
