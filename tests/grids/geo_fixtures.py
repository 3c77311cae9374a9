"""Geometry builders for the grids tests, on the same 0.01° lattice as ``tests.factories.rect``.

``tree(grids)`` gives the features of a one-branch region tree (city 980100 → district 980101 → street 980101001
→ community 980101001001) whose upper levels cover the bounding box of the given unit grids, so a test can lay out
any arrangement of grids (2×2 blocks, holes, multipolygons, overlaps) and import it through the real service.
"""

import json
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape

from grids.models import LEVEL_ORDER, Region
from tests.factories import LAT0, LNG0, STEP, feature, rect

CITY, DISTRICT, STREET, COMMUNITY = "980100", "980101", "980101001", "980101001001"


def lng(x: float) -> float:
    return round(LNG0 + x * STEP, 7)


def lat(y: float) -> float:
    return round(LAT0 + y * STEP, 7)


def grid_code(n: int) -> str:
    return f"{COMMUNITY}{n:03d}"


def ring(x0, x1, y0, y1, reverse=False) -> list:
    points = [[lng(x0), lat(y0)], [lng(x1), lat(y0)], [lng(x1), lat(y1)], [lng(x0), lat(y1)], [lng(x0), lat(y0)]]
    return points[::-1] if reverse else points


def rect_with_hole(outer: tuple, hole: tuple) -> dict:
    """A Polygon: the rectangle ``outer`` (x0, x1, y0, y1) minus the rectangle ``hole``."""
    return {"type": "Polygon", "coordinates": [ring(*outer), ring(*hole, reverse=True)]}


def multi_rect(*rects: tuple) -> dict:
    """A MultiPolygon of rectangles (x0, x1, y0, y1) that must not touch one another."""
    return {"type": "MultiPolygon", "coordinates": [[ring(*r)] for r in rects]}


def bounding_rect(geometries: list[dict]) -> dict:
    minx, miny, maxx, maxy = shapely.union_all([shape(g) for g in geometries]).bounds
    return mapping(shapely.box(minx, miny, maxx, maxy))


def tree(grids: dict[str, dict], *, community_boundary: dict | None = None) -> list[dict]:
    """Features of city → district → street → community with the unit grids ``{code: geometry}`` below. The upper
    levels get the bounding box of the grids unless ``community_boundary`` is given (then they all use it)."""
    outer = community_boundary or bounding_rect(list(grids.values()))
    features = [
        feature(CITY, "几何市", "city", None, outer),
        feature(DISTRICT, "几何区", "district", CITY, outer),
        feature(STREET, "几何街道", "street", DISTRICT, outer),
        feature(COMMUNITY, "几何社区", "community", STREET, outer),
    ]
    features += [feature(code, f"网格{code[-3:]}", "grid", COMMUNITY, geometry) for code, geometry in grids.items()]
    return features


def two_by_two() -> dict[str, dict]:
    """Four unit squares around the corner (x=1, y=1): 001 south-west, 002 south-east, 003 north-west, 004
    north-east."""
    return {
        grid_code(1): rect(0, 1, 0, 1),
        grid_code(2): rect(1, 2, 0, 1),
        grid_code(3): rect(0, 1, 1, 2),
        grid_code(4): rect(1, 2, 1, 2),
    }


def collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def write_geojson(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps(collection(features), ensure_ascii=False), encoding="utf-8")
    return path


def snapshot() -> list[tuple]:
    """Every stored region as (code, name, level, parent code, boundary), for all-or-nothing and round-trip checks."""
    return list(
        Region.objects.order_by("code").values_list("code", "name", "level", "parent__code", "boundary")
    )


def delete_all_regions() -> None:
    """Delete every region, leaves first (parents are PROTECTed)."""
    for level in reversed(LEVEL_ORDER):
        Region.objects.filter(level=level).delete()
