"""manage.py export_regions and check_regions (with the selectors grid_overlaps and regions_outside_parent)."""

import json
import math
import time
from io import StringIO

import numpy as np
import pytest
import shapely
from django.core.management import CommandError, call_command

from grids import geo
from grids.models import Region
from grids.selectors import grid_overlaps, overlap_pairs, regions_outside_parent
from grids.services import regions_import
from tests.factories import feature, rect, small_city_features
from tests.grids.geo_fixtures import (
    COMMUNITY,
    delete_all_regions,
    grid_code,
    multi_rect,
    rect_with_hole,
    snapshot,
    tree,
    two_by_two,
)

pytestmark = pytest.mark.django_db

M_PER_DEG = 111_320


def m2(d_lng: float, d_lat: float, at_lat: float) -> float:
    """Equirectangular m² of a d_lng° × d_lat° rectangle at latitude at_lat."""
    return d_lng * M_PER_DEG * d_lat * M_PER_DEG * math.cos(math.radians(at_lat))


def export(*args) -> str:
    out = StringIO()
    call_command("export_regions", *args, stdout=out)
    return out.getvalue()


def check(*args) -> str:
    out = StringIO()
    call_command("check_regions", *args, stdout=out)
    return out.getvalue()


def check_refused(*args) -> tuple[str, str]:
    out = StringIO()
    with pytest.raises(CommandError) as info:
        call_command("check_regions", *args, stdout=out)
    return out.getvalue(), str(info.value)


def richer_city_features() -> list[dict]:
    """The small city plus a grid with a hole, a MultiPolygon grid, and a name with quotes and emoji."""
    features = small_city_features()
    features.append(feature("990102001002", "社区 \"双\" ‘引号’ 🏙", "community", "990102001", rect(4, 6, 1, 3)))
    features.append(feature("990102001002001", "环形网格", "grid", "990102001002", rect_with_hole((4, 6, 1, 3), (4.5, 5.5, 1.5, 2.5))))
    features.append(feature("990102001002002", "飞地网格", "grid", "990102001002", multi_rect((4.6, 5, 1.6, 2), (5.1, 5.4, 2.1, 2.4))))
    return features


# --- Export -------------------------------------------------------------------------------------------------------------
def test_export_then_import_into_an_empty_database_round_trips_exactly(tmp_path):
    regions_import(features=richer_city_features())
    before = snapshot()
    path = tmp_path / "regions.geojson"

    call_command("export_regions", "-o", str(path), stdout=StringIO())
    text = path.read_text(encoding="utf-8")
    assert "测试市" in text and "🏙" in text and "\\u" not in text  # UTF-8, not ASCII escapes
    data = json.loads(text)
    assert data["type"] == "FeatureCollection"
    assert [f["properties"]["code"] for f in data["features"]] == sorted(code for code, *_ in before)

    delete_all_regions()
    assert Region.objects.count() == 0
    out = StringIO()
    call_command("import_regions", str(path), stdout=out)
    assert f"regions: {len(before)} created, 0 updated" in out.getvalue()

    assert snapshot() == before
    path2 = tmp_path / "again.geojson"
    call_command("export_regions", "-o", str(path2), stdout=StringIO())
    assert path2.read_bytes() == path.read_bytes()


def test_export_to_stdout_is_the_same_as_to_a_file(city, tmp_path):
    path = tmp_path / "out.geojson"
    out = StringIO()
    call_command("export_regions", "--output", str(path), stdout=out)
    assert "regions: 15 exported to" in out.getvalue()
    assert export() == path.read_text(encoding="utf-8")


def test_each_exported_feature_carries_code_name_level_parent_and_boundary(city):
    features = {f["properties"]["code"]: f for f in json.loads(export())["features"]}
    assert features["990100"] == feature("990100", "测试市", "city", None, rect(0, 6))
    assert features["990101001001002"] == feature(
        "990101001001002", "网格001-2", "grid", "990101001001", rect(1, 2)
    )


def test_export_root_limits_to_the_subtree_root_included(city):
    codes = [f["properties"]["code"] for f in json.loads(export("--root", "990101"))["features"]]
    assert codes == sorted(c for c in city if c.startswith("990101"))
    assert codes[0] == "990101" and "990102" not in codes and "990100" not in codes


def test_export_root_of_a_city_includes_its_districts(city):
    assert len(json.loads(export("--root", "990100"))["features"]) == 15


def test_export_root_and_level_combine(city):
    data = json.loads(export("--root", "990101001", "--level", "grid"))
    assert [f["properties"]["code"] for f in data["features"]] == ["990101001001001", "990101001001002"]
    grids = json.loads(export("--level", "grid"))["features"]
    assert len(grids) == 6 and {f["properties"]["level"] for f in grids} == {"grid"}


def test_a_subtree_export_reimports_under_its_stored_parent(city, tmp_path):
    path = tmp_path / "street.geojson"
    call_command("export_regions", "--root", "990101002", "-o", str(path), stdout=StringIO())
    out = StringIO()
    call_command("import_regions", str(path), stdout=out)
    assert "regions: 0 created, 4 updated" in out.getvalue()


def test_export_of_an_unknown_root_is_refused(city):
    with pytest.raises(CommandError, match="unknown region code '990199' for --root"):
        export("--root", "990199")


def test_export_of_an_unknown_level_is_refused(city):
    with pytest.raises(CommandError, match="invalid choice: 'village'"):
        export("--level", "village")


def test_export_of_an_empty_database_is_an_empty_collection(db):
    assert json.loads(export()) == {"type": "FeatureCollection", "features": []}


# --- Check: overlaps ----------------------------------------------------------------------------------------------------
def test_check_passes_on_the_small_city(city):
    output = check()
    assert "no overlaps" in output
    assert "6 unit grids and 15 regions checked" in output
    assert grid_overlaps() == []
    assert regions_outside_parent() == []


def test_grids_that_only_share_borders_and_corners_do_not_overlap():
    regions_import(features=tree(two_by_two()))
    assert grid_overlaps(tolerance_m2=0) == []
    assert regions_outside_parent(tolerance_m2=0) == []
    assert "no overlaps" in check("--tolerance", "0")


def test_a_grid_filling_another_grids_hole_does_not_overlap_it():
    grids = {grid_code(1): rect(1, 2, 1, 2), grid_code(2): rect_with_hole((0, 3, 0, 3), (1, 2, 1, 2))}
    regions_import(features=tree(grids))
    assert grid_overlaps(tolerance_m2=0) == []


def test_check_finds_two_grids_overlapping_and_measures_the_overlap_in_m2():
    # 001 spans x 0–2, 002 spans x 1.5–3.5 (y 0–1): they share a 0.005° × 0.01° strip around lat 30.005.
    regions_import(features=tree({grid_code(1): rect(0, 2), grid_code(2): rect(1.5, 3.5), grid_code(3): rect(3.5, 5)}))
    expected = m2(0.005, 0.01, 30.005)  # ≈ 536,600 m²

    [(a, b, area)] = grid_overlaps()
    assert (a, b) == (grid_code(1), grid_code(2))
    assert area == pytest.approx(expected, rel=1e-3)
    assert area == pytest.approx(536_600, rel=1e-2)

    output, error = check_refused()
    assert f"overlap: grids {grid_code(1)} and {grid_code(2)} overlap by {expected:,.0f}" in output
    assert "1 overlapping grid pair(s), 0 region(s) outside their parent" in error


def test_a_grid_inside_another_grid_overlaps_by_its_whole_area():
    regions_import(features=tree({grid_code(1): rect(0, 3, 0, 3), grid_code(2): rect(1, 2, 1, 2)}))
    [(a, b, area)] = grid_overlaps()
    assert (a, b) == (grid_code(1), grid_code(2))
    assert area == pytest.approx(m2(0.01, 0.01, 30.015), rel=1e-3)


def test_an_overlap_within_the_tolerance_is_ignored():
    # A sliver 1e-6° wide (≈ 0.1 m) along 1 km: about 107 m².
    regions_import(features=tree({grid_code(1): rect(0, 1.0001), grid_code(2): rect(1, 2)}))
    [(_, _, area)] = grid_overlaps()
    assert area == pytest.approx(m2(1e-6, 0.01, 30.005), rel=1e-2)
    assert grid_overlaps(tolerance_m2=200) == []
    assert "no overlaps" in check("--tolerance", "200")
    output, _ = check_refused("--tolerance", "50")
    assert "overlap: grids" in output


def test_overlaps_are_listed_once_per_pair_in_code_order():
    grids = {grid_code(3): rect(0, 2), grid_code(1): rect(1, 3), grid_code(2): rect(2.5, 4)}
    regions_import(features=tree(grids))
    assert [(a, b) for a, b, _ in grid_overlaps()] == [(grid_code(1), grid_code(2)), (grid_code(1), grid_code(3))]


def test_only_unit_grids_are_checked_for_overlaps(city):
    # Street 990101001 now overlaps its sibling 990101002 (x 2–4), still inside their district (x 0–4).
    Region.objects.filter(code="990101001").update(boundary=rect(0, 3))
    assert grid_overlaps() == []
    assert regions_outside_parent() == []
    assert "no overlaps" in check()


def test_a_negative_tolerance_is_refused(city):
    with pytest.raises(CommandError, match="--tolerance must be"):
        check("--tolerance", "-1")


# --- Check: regions outside their parent ------------------------------------------------------------------------------
def test_check_finds_a_child_sticking_out_of_its_parent():
    # The community (and everything above) is x 0–2; grid 002 reaches to x 2.5.
    grids = {grid_code(1): rect(0, 1), grid_code(2): rect(1, 2.5)}
    regions_import(features=tree(grids, community_boundary=rect(0, 2)))
    expected = m2(0.005, 0.01, 30.005)

    [(child, parent, area)] = regions_outside_parent()
    assert (child, parent) == (grid_code(2), COMMUNITY)
    assert area == pytest.approx(expected, rel=1e-3)
    assert grid_overlaps() == []

    output, error = check_refused()
    assert f"outside parent: {grid_code(2)} sticks out of {COMMUNITY} by {expected:,.0f}" in output
    assert "0 overlapping grid pair(s), 1 region(s) outside their parent" in error


def test_every_level_is_checked_against_its_parent(city):
    Region.objects.filter(code="990102").update(boundary=rect(4, 5.5))  # the district no longer covers x 5.5–6
    found = {(child, parent) for child, parent, _ in regions_outside_parent()}
    assert found == {("990102001", "990102")}
    Region.objects.filter(code="990100").update(boundary=rect(0.5, 6))
    found = {(child, parent) for child, parent, _ in regions_outside_parent()}
    assert found == {("990101", "990100"), ("990102001", "990102")}


def test_a_child_exactly_on_its_parents_edge_is_inside(city):
    assert regions_outside_parent(tolerance_m2=0) == []


def test_check_reports_overlaps_and_overhangs_together(city):
    Region.objects.filter(code="990101001001002").update(boundary=rect(0.5, 2.5))
    output, error = check_refused()
    assert "overlap: grids 990101001001001 and 990101001001002" in output
    assert "overlap: grids 990101001001002 and 990101002001001" in output
    assert "outside parent: 990101001001002 sticks out of 990101001001" in output
    assert "2 overlapping grid pair(s), 1 region(s) outside their parent" in error


def test_a_stored_boundary_that_no_longer_parses_is_reported_with_its_code(city):
    Region.objects.filter(code="990101001001002").update(boundary={"type": "Point", "coordinates": [120, 30]})
    _, error = check_refused()
    assert "990101001001002" in error and "Point" in error


# --- Scale --------------------------------------------------------------------------------------------------------------
def test_overlap_pairs_handles_a_40000_grid_tiling_quickly():
    n, dx, dy = 200, 0.00104, 0.0009
    x0 = np.round(120.1 + np.arange(n) * dx, 7)
    y0 = np.round(30.2 - np.arange(n) * dy, 7)
    xs, ys = np.meshgrid(x0, y0)
    boxes = shapely.box(xs.ravel(), ys.ravel() - dy, xs.ravel() + dx, ys.ravel())
    boxes = shapely.set_precision(boxes, 1e-7)
    assert len(boxes) == 40_000
    started = time.process_time()  # (CPU time: a machine shared with other work does not fail it)
    assert overlap_pairs(boxes) == []
    boxes[12_345] = shapely.box(*shapely.buffer(boxes[12_345], dx / 4).bounds)
    found = overlap_pairs(boxes)
    assert time.process_time() - started < 20
    assert len(found) == 8 and all(12_345 in (i, j) for i, j, _ in found)


def test_overlap_pairs_agrees_with_a_brute_force_check_on_random_rectangles():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 1, 60), rng.uniform(0, 1, 60)
    w, h = rng.uniform(0.01, 0.2, 60), rng.uniform(0.01, 0.2, 60)
    boxes = shapely.box(120 + x / 100, 30 + y / 100, 120 + (x + w) / 100, 30 + (y + h) / 100)
    geometries = [geo.parse_boundary(shapely.geometry.mapping(b)) for b in boxes]
    brute = []
    for i in range(len(geometries)):
        for j in range(i + 1, len(geometries)):
            inter = geometries[i].intersection(geometries[j])
            area = inter.area * M_PER_DEG**2 * math.cos(math.radians(inter.centroid.y)) if not inter.is_empty else 0
            if area > 1.0:
                brute.append((i, j, area))
    found = overlap_pairs(geometries)
    assert [(i, j) for i, j, _ in found] == [(i, j) for i, j, _ in brute]
    assert [a for *_, a in found] == pytest.approx([a for *_, a in brute])
    assert len(found) > 5
