"""Point → unit grid: grids.selectors.locate (through the stored regions) and geo.GridIndex (directly).

Border rule: a point on a boundary shared by several grids belongs to the one with the smallest code."""

import numpy as np
import pytest
import shapely

from grids import geo
from grids.selectors import grid_index, grid_index_build, locate
from grids.services import regions_import
from tests.factories import feature, rect, small_city_features
from tests.grids.geo_fixtures import grid_code, lat, lng, multi_rect, rect_with_hole, tree, two_by_two

pytestmark = pytest.mark.django_db


def build_index(grids: dict[str, dict]) -> geo.GridIndex:
    entries = [geo.GridEntry(i, code, f"网格{code[-3:]}", ()) for i, code in enumerate(grids)]
    return geo.GridIndex(entries, [geo.parse_boundary(g) for g in grids.values()])


def code_at(index: geo.GridIndex, y: float, x: float) -> str | None:
    entry = index.locate(lat(y), lng(x))
    return entry.code if entry else None


def codes_many(index: geo.GridIndex, points: list[tuple[float, float]]) -> list[str | None]:
    result = index.locate_many([lat(y) for y, _ in points], [lng(x) for _, x in points])
    return [index.entries[i].code if i >= 0 else None for i in result]


@pytest.fixture
def square():
    """The 2×2 block of unit squares around the corner (x=1, y=1), imported and as a bare index."""
    regions_import(features=tree(two_by_two()))
    return build_index(two_by_two())


# --- Inside, borders, corners ---------------------------------------------------------------------------------------
def test_a_point_inside_a_grid_resolves_to_it_with_its_ancestors(city):
    entry = locate(lat(0.5), lng(2.5))
    assert entry.code == "990101002001001"
    assert entry.region_id == city["990101002001001"].id
    assert entry.ancestors == (
        ("city", "990100", "测试市"), ("district", "990101", "东区"), ("street", "990101002", "街道1002"),
        ("community", "990101002001", "社区002001"),
    )


def test_a_point_on_the_border_between_two_grids_goes_to_the_smaller_code(city):
    # x=1 separates 990101001001001 (x 0–1) and 990101001001002 (x 1–2); x=2 separates two streets.
    assert locate(lat(0.5), lng(1)).code == "990101001001001"
    assert locate(lat(0.5), lng(2)).code == "990101001001002"
    assert locate(lat(0.5), lng(4)).code == "990101002001002"  # district border: 990101… < 990102…


def test_the_border_rule_is_the_same_for_locate_and_locate_many_whatever_the_insertion_order():
    grids = two_by_two()
    for order in (list(grids), list(reversed(grids)), [grid_code(3), grid_code(1), grid_code(4), grid_code(2)]):
        index = build_index({code: grids[code] for code in order})
        points = [(0.5, 1), (1, 0.5), (1.5, 1), (1, 1.5), (1, 1)]
        expected = [grid_code(1), grid_code(1), grid_code(3), grid_code(2), grid_code(1)]
        assert [code_at(index, y, x) for y, x in points] == expected
        assert codes_many(index, points) == expected


def test_a_corner_shared_by_four_grids_goes_to_the_smallest_code(square):
    assert code_at(square, 1, 1) == grid_code(1)
    assert codes_many(square, [(1, 1)] * 3) == [grid_code(1)] * 3
    assert locate(lat(1), lng(1)).code == grid_code(1)


def test_a_corner_shared_by_the_three_larger_codes_goes_to_the_smallest_of_them(square):
    grids = two_by_two()
    del grids[grid_code(1)]
    index = build_index(grids)
    assert code_at(index, 1, 1) == grid_code(2)
    assert codes_many(index, [(1, 1)]) == [grid_code(2)]
    assert code_at(index, 0.5, 0.5) is None  # where 001 was


def test_each_quarter_of_the_block_resolves_to_its_own_grid(square):
    for (y, x), n in {(0.5, 0.5): 1, (0.5, 1.5): 2, (1.5, 0.5): 3, (1.5, 1.5): 4}.items():
        assert code_at(square, y, x) == grid_code(n)
        assert locate(lat(y), lng(x)).code == grid_code(n)


def test_a_point_on_the_outer_boundary_is_inside(city):
    assert locate(lat(0.5), lng(0)).code == "990101001001001"  # west edge
    assert locate(lat(1), lng(5.5)).code == "990102001001002"  # north edge
    assert locate(lat(0), lng(6)).code == "990102001001002"  # south-east corner


def test_a_point_just_outside_is_nowhere(city):
    assert locate(lat(0.5), lng(0) - 1e-7) is None
    assert locate(lat(1) + 1e-7, lng(5.5)) is None
    assert locate(lat(0) - 1e-7, lng(6) + 1e-7) is None


@pytest.mark.parametrize(("latitude", "longitude"), [(0, 0), (39.9, 116.4), (-30, -120), (90, 180), (-90, -180)])
def test_a_point_far_outside_is_nowhere(city, latitude, longitude):
    assert locate(latitude, longitude) is None


def test_locate_with_no_grids_stored_is_nowhere(db):
    assert locate(30.005, 120.005) is None
    assert len(grid_index()) == 0


# --- Holes and multipolygons ------------------------------------------------------------------------------------------
def test_a_point_in_the_hole_of_a_polygon_is_not_in_that_grid():
    regions_import(features=tree({grid_code(1): rect_with_hole((0, 3, 0, 3), (1, 2, 1, 2))}))
    assert locate(lat(1.5), lng(1.5)) is None
    assert locate(lat(0.5), lng(0.5)).code == grid_code(1)
    assert locate(lat(1.5), lng(1)).code == grid_code(1)  # the hole's rim belongs to the polygon


def test_a_grid_filling_the_hole_gets_the_hole_and_the_rim_goes_by_the_border_rule():
    grids = {grid_code(1): rect(1, 2, 1, 2), grid_code(2): rect_with_hole((0, 3, 0, 3), (1, 2, 1, 2))}
    regions_import(features=tree(grids))
    assert locate(lat(1.5), lng(1.5)).code == grid_code(1)
    assert locate(lat(0.5), lng(2.5)).code == grid_code(2)
    assert locate(lat(1.5), lng(2)).code == grid_code(1)  # rim shared by both: smaller code
    index = build_index(dict(reversed(grids.items())))
    assert code_at(index, 1.5, 2) == grid_code(1)
    assert codes_many(index, [(1.5, 2), (1.5, 1.5), (2.5, 0.5)]) == [grid_code(1), grid_code(1), grid_code(2)]


def test_every_part_of_a_multipolygon_grid_belongs_to_it():
    grids = {grid_code(1): multi_rect((0, 1, 0, 1), (2, 3, 0, 1)), grid_code(2): rect(1, 2, 1, 2)}
    regions_import(features=tree(grids))
    assert locate(lat(0.5), lng(0.5)).code == grid_code(1)
    assert locate(lat(0.5), lng(2.5)).code == grid_code(1)
    assert locate(lat(0.5), lng(1.5)) is None  # the gap between the parts
    assert locate(lat(1.5), lng(1.5)).code == grid_code(2)
    assert locate(lat(1), lng(2)).code == grid_code(1)  # corner of a part touching the other grid's corner


# --- Bulk locate --------------------------------------------------------------------------------------------------------
def test_locate_many_returns_minus_one_for_points_outside(square):
    result = square.locate_many([lat(0.5), lat(5), lat(1.5), 0.0], [lng(0.5), lng(5), lng(1.5), 0.0])
    assert result.tolist()[1] == -1 and result.tolist()[3] == -1
    assert [square.entries[i].code for i in result[[0, 2]]] == [grid_code(1), grid_code(4)]


def test_locate_many_on_no_points_is_empty(square):
    assert square.locate_many([], []).tolist() == []


def test_locate_many_agrees_with_locate_point_by_point(city):
    index = grid_index()
    rng = np.random.default_rng(20240601)
    # Random points over and around the city, plus as many snapped onto the lattice's lines and corners, where the
    # border rule decides.
    xs, ys = rng.uniform(-0.5, 6.5, 400), rng.uniform(-0.5, 1.5, 400)
    snapped_x, snapped_y = np.round(rng.uniform(-1, 7, 200)), rng.uniform(-0.2, 1.2, 200)
    corner_x, corner_y = np.round(rng.uniform(-1, 7, 100)), np.round(rng.uniform(-1, 2, 100))
    xs, ys = np.concatenate([xs, snapped_x, corner_x]), np.concatenate([ys, snapped_y, corner_y])
    lats, lngs = [lat(y) for y in ys], [lng(x) for x in xs]

    bulk = index.locate_many(lats, lngs)

    assert len(bulk) == len(lats)
    for la, ln, found in zip(lats, lngs, bulk, strict=True):
        one = index.locate(la, ln)
        via_selector = locate(la, ln)
        if found == -1:
            assert one is None and via_selector is None, (la, ln)
        else:
            assert one == index.entries[found] == via_selector, (la, ln)
    assert (bulk == -1).sum() > 0 and (bulk >= 0).sum() > 0


def test_locate_many_matches_a_brute_force_border_rule(city):
    index = grid_index()
    rng = np.random.default_rng(7)
    xs, ys = np.round(rng.uniform(-0.5, 6.5, 300) * 2) / 2, np.round(rng.uniform(-0.5, 1.5, 300) * 2) / 2
    lats, lngs = [lat(y) for y in ys], [lng(x) for x in xs]
    expected = []
    for la, ln in zip(lats, lngs, strict=True):
        point = shapely.Point(ln, la)
        hits = [entry.code for entry, g in zip(index.entries, index.geometries, strict=True) if g.intersects(point)]
        expected.append(min(hits) if hits else None)
    assert [index.entries[i].code if i >= 0 else None for i in index.locate_many(lats, lngs)] == expected


# --- Rebuilds -----------------------------------------------------------------------------------------------------------
def test_the_index_is_rebuilt_after_an_import_changes_boundaries(city):
    first = grid_index()
    assert locate(lat(0.5), lng(0.75)).code == "990101001001001"
    features = small_city_features()
    for f in features:
        if f["properties"]["code"] == "990101001001002":
            f["geometry"] = rect(0.5, 2)  # now overlaps 001's east half; 001 keeps the smaller code there
        if f["properties"]["code"] == "990101001001001":
            f["geometry"] = rect(0, 0.25)
    regions_import(features=features)

    assert grid_index() is not first
    assert locate(lat(0.5), lng(0.75)).code == "990101001001002"
    assert locate(lat(0.5), lng(0.1)).code == "990101001001001"
    assert locate(lat(0.5), lng(0.4)) is None


def test_the_index_is_reused_while_nothing_changes(city):
    first = grid_index()
    locate(lat(0.5), lng(0.5))
    assert grid_index() is first


def test_a_new_grid_is_found_after_it_is_imported(city):
    assert locate(lat(1.5), lng(0.5)) is None
    regions_import(features=[feature("990101001001003", "新网格", "grid", "990101001001", rect(0, 1, 1, 2))])
    assert locate(lat(1.5), lng(0.5)).code == "990101001001003"
    assert grid_index_build().entries[2].code == "990101001001003"
