"""Geometry: GeoJSON validation and the point → unit grid index.

Pure code (no ORM) so it can be tested and benchmarked on its own. ``GridIndex`` holds every unit grid's polygon in
a shapely STRtree and answers single and bulk lookups; ``grids.selectors.locate`` keeps one per process and rebuilds
it when ``GeoVersion`` moves.

Border rule: a point on the boundary shared by several grids belongs to the grid with the smallest code — the
same answer in every process and on every run.
"""

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.validation import explain_validity

LAT_RANGE = (-90.0, 90.0)
LNG_RANGE = (-180.0, 180.0)


class GeometryError(ValueError):
    """A boundary that is not a valid WGS84 Polygon/MultiPolygon; the message says why."""


def parse_boundary(geojson) -> shapely.Geometry:
    """Turn a GeoJSON geometry dict into a valid shapely (Multi)Polygon or raise GeometryError saying why not."""
    if not isinstance(geojson, dict) or "type" not in geojson:
        raise GeometryError("geometry must be a GeoJSON object with a 'type'")
    if geojson["type"] not in ("Polygon", "MultiPolygon"):
        raise GeometryError(f"geometry type must be Polygon or MultiPolygon, not {geojson['type']!r}")
    try:
        geom = shape(geojson)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise GeometryError(f"malformed coordinates: {exc}") from exc
    if geom.is_empty:
        raise GeometryError("geometry is empty")
    minx, miny, maxx, maxy = geom.bounds
    if not (LNG_RANGE[0] <= minx and maxx <= LNG_RANGE[1] and LAT_RANGE[0] <= miny and maxy <= LAT_RANGE[1]):
        raise GeometryError("coordinates are outside WGS84 longitude/latitude ranges (expected [lng, lat])")
    if not geom.is_valid:
        raise GeometryError(f"invalid polygon: {explain_validity(geom)}")
    if geom.area <= 0:
        raise GeometryError("polygon has no area")
    return geom


def valid_coordinates(lat, lng) -> bool:
    return LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LNG_RANGE[0] <= lng <= LNG_RANGE[1]


@dataclass(frozen=True, slots=True)
class GridEntry:
    """What a locate answer carries for one unit grid: its id, code and name, and its ancestors top-down."""

    region_id: int
    code: str
    name: str
    ancestors: tuple[tuple[str, str, str], ...]  # (level, code, name), city first
    ancestor_ids: tuple[int, ...] = ()  # the ancestors' region ids, in the same order


class GridIndex:
    """An STRtree over unit grid polygons. Build once, query many times; immutable after construction."""

    def __init__(self, entries: list[GridEntry], geometries: list[shapely.Geometry], version: int = 0):
        if len(entries) != len(geometries):
            raise ValueError("entries and geometries must have the same length")
        # Sort by code so that "smallest index among the hits" is "smallest code": the border rule.
        order = sorted(range(len(entries)), key=lambda i: entries[i].code)
        self.entries = [entries[i] for i in order]
        self.geometries = np.array([geometries[i] for i in order], dtype=object)
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)
        self.version = version

    def __len__(self):
        return len(self.entries)

    def locate(self, lat: float, lng: float) -> GridEntry | None:
        hits = self.tree.query(shapely.Point(lng, lat), predicate="intersects").tolist()
        return self.entries[min(hits)] if hits else None

    def locate_many(self, lats, lngs) -> np.ndarray:
        """Bulk locate: returns an array of entry indices (−1 where the point is outside every grid)."""
        points = shapely.points(np.asarray(lngs, dtype=float), np.asarray(lats, dtype=float))
        point_idx, grid_idx = self.tree.query(points, predicate="intersects")
        nowhere = np.iinfo(np.int64).max
        result = np.full(len(points), nowhere, dtype=np.int64)
        np.minimum.at(result, point_idx, grid_idx)  # border rule: the smallest code wins
        result[result == nowhere] = -1
        return result
