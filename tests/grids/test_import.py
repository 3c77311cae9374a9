"""regions_import and manage.py import_regions: every bad input is refused with a message naming the feature and
the problem, and nothing at all is written (all-or-nothing), wherever the bad feature sits in the file."""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from grids.models import Region
from grids.selectors import current_geo_version, locate
from grids.services import RegionImportError, regions_import
from tests.factories import feature, rect, small_city_features
from tests.grids.geo_fixtures import collection, lat, lng, snapshot, write_geojson

pytestmark = pytest.mark.django_db

NEW_COMMUNITY = "990102001002"


def many_good_features() -> list[dict]:
    """The small city plus a new community with 120 unit grids: 136 features that import cleanly."""
    features = small_city_features()
    features.append(feature(NEW_COMMUNITY, "新社区", "community", "990102001", rect(4, 6, 1, 2)))
    for n in range(1, 121):
        x = 4 + (n - 1) % 12 / 6
        y = 1 + (n - 1) // 12 / 10
        features.append(
            feature(f"{NEW_COMMUNITY}{n:03d}", f"新网格{n}", "grid", NEW_COMMUNITY, rect(x, x + 1 / 6, y, y + 0.1))
        )
    return features


def bad_polygon(coordinates) -> dict:
    return {"type": "Polygon", "coordinates": coordinates}


P = lng  # shorthand for readable coordinates below
BAD_FEATURES = {
    "invalid polygon (hole outside its shell)": (
        feature("990102001002121", "坏网格", "grid", NEW_COMMUNITY, bad_polygon([
            [[P(4), lat(0)], [P(5), lat(0)], [P(5), lat(1)], [P(4), lat(1)], [P(4), lat(0)]],
            [[P(8), lat(0)], [P(8), lat(0.5)], [P(9), lat(0.5)], [P(8), lat(0)]],
        ])),
        ["(990102001002121)", "invalid polygon", "Hole lies outside shell"],
    ),
    "polygon with too few points": (
        feature("990102001002121", "坏网格", "grid", NEW_COMMUNITY, bad_polygon([
            [[P(4), lat(0)], [P(5), lat(0)], [P(4), lat(0)]],
        ])),
        ["(990102001002121)", "invalid polygon", "Too few points"],
    ),
    "self-intersecting bow-tie polygon": (
        feature("990102001002121", "坏网格", "grid", NEW_COMMUNITY, bad_polygon([
            [[P(4), lat(0)], [P(5), lat(1)], [P(5), lat(0)], [P(4), lat(1)], [P(4), lat(0)]],
        ])),
        ["(990102001002121)", "invalid polygon", "Self-intersection"],
    ),
    "Point geometry": (
        feature("990102001002121", "坏网格", "grid", NEW_COMMUNITY, {"type": "Point", "coordinates": [P(4), lat(0)]}),
        ["(990102001002121)", "geometry type must be Polygon or MultiPolygon, not 'Point'"],
    ),
    "missing geometry": (
        feature("990102001002121", "坏网格", "grid", NEW_COMMUNITY, None),
        ["(990102001002121)", "geometry must be a GeoJSON object"],
    ),
    "longitude out of WGS84 range": (
        feature("990102001002121", "坏网格", "grid", NEW_COMMUNITY, bad_polygon([
            [[180.5, 30], [181, 30], [181, 30.01], [180.5, 30.01], [180.5, 30]],
        ])),
        ["(990102001002121)", "outside WGS84"],
    ),
    "latitude and longitude swapped": (
        feature("990102001002121", "坏网格", "grid", NEW_COMMUNITY, bad_polygon([
            [[30, 120], [30.01, 120], [30.01, 120.01], [30, 120.01], [30, 120]],
        ])),
        ["(990102001002121)", "outside WGS84", "[lng, lat]"],
    ),
    "code that does not extend its parent's": (
        feature("990101001001121", "错码网格", "grid", NEW_COMMUNITY, rect(5, 6, 2, 3)),
        ["(990101001001121)", f"its parent's code {NEW_COMMUNITY} followed by 001–999"],
    ),
    "grid suffix 000": (
        feature("990102001002000", "零号网格", "grid", NEW_COMMUNITY, rect(5, 6, 2, 3)),
        ["(990102001002000)", "followed by 001–999"],
    ),
    "unknown parent": (
        feature("990102009001001", "孤儿网格", "grid", "990102009001", rect(5, 6, 2, 3)),
        ["(990102009001001)", "unknown parent_code 990102009001"],
    ),
    "grid directly under a street": (
        feature("990102001003001", "越级网格", "grid", "990102001", rect(5, 6, 2, 3)),
        ["(990102001003001)", "a grid must sit directly under a community, not under a street"],
    ),
    "community directly under a district": (
        feature("990102003001", "越级社区", "community", "990102", rect(5, 6, 2, 3)),
        ["(990102003001)", "a community must sit directly under a street, not under a district"],
    ),
    "unknown level": (
        feature("990102001002121", "村", "village", NEW_COMMUNITY, rect(5, 6, 2, 3)),
        ["(990102001002121)", "unknown level 'village'"],
    ),
    "missing name and level": (
        {"type": "Feature", "properties": {"code": "990102001002121"}, "geometry": rect(5, 6, 2, 3)},
        ["missing properties: name, level"],
    ),
    "no properties at all": (
        {"type": "Feature", "geometry": rect(5, 6, 2, 3)},
        ["missing properties: code, name, level"],
    ),
    "not a Feature": (
        {"type": "Polygon", "coordinates": rect(5, 6, 2, 3)["coordinates"]},
        ["not a GeoJSON Feature"],
    ),
}


def import_via(via: str, features: list, tmp_path) -> str:
    """Run the import through the service or the command; returns the command's output."""
    if via == "service":
        summary = regions_import(features=features)
        return f"regions: {summary.created} created, {summary.updated} updated"
    out = StringIO()
    call_command("import_regions", str(write_geojson(tmp_path / "regions.geojson", features)), stdout=out)
    return out.getvalue()


def refused_via(via: str, features: list, tmp_path) -> str:
    """Run an import that must be refused; returns the refusal message."""
    error = RegionImportError if via == "service" else CommandError
    with pytest.raises(error) as info:
        import_via(via, features, tmp_path)
    return info.value.message if via == "service" else str(info.value)


@pytest.fixture(params=["service", "command"])
def via(request):
    return request.param


@pytest.fixture(params=["empty database", "small city stored"])
def stored(request):
    if request.param == "small city stored":
        regions_import(features=small_city_features())
    return request.param


# --- Good imports ---------------------------------------------------------------------------------------------------
def test_a_good_file_imports_every_feature(via, tmp_path):
    output = import_via(via, many_good_features(), tmp_path)
    assert "regions: 136 created, 0 updated" in output
    assert Region.objects.count() == 136
    grid = Region.objects.get(code="990102001002120")
    assert (grid.level, grid.parent.code, grid.parent.parent.code) == ("grid", NEW_COMMUNITY, "990102001")


def test_parents_may_come_after_their_children_in_the_file(via, tmp_path):
    output = import_via(via, list(reversed(small_city_features())), tmp_path)
    assert "regions: 15 created, 0 updated" in output
    assert Region.objects.get(code="990101001001001").parent.code == "990101001001"
    assert Region.objects.get(code="990101").parent.code == "990100"


def test_children_may_be_imported_under_parents_already_stored(via, tmp_path):
    regions_import(features=small_city_features())
    extra = [feature("990101001001003", "追加网格", "grid", "990101001001", rect(0, 1, 1, 2))]
    assert "regions: 1 created, 0 updated" in import_via(via, extra, tmp_path)
    assert Region.objects.get(code="990101001001003").parent.code == "990101001001"


def test_reimport_updates_name_and_boundary_and_locate_follows_the_new_boundary(via, tmp_path):
    regions_import(features=small_city_features())
    point = (lat(0.5), lng(0.75))  # inside grid 001 (x 0–1)
    assert locate(*point).code == "990101001001001"
    assert locate(lat(0.5), lng(6.5)) is None

    features = small_city_features()
    for f in features:
        if f["properties"]["code"] == "990101001001001":
            f["properties"]["name"] = "改名网格"
            f["geometry"] = rect(0, 0.5)
        if f["properties"]["code"] == "990102001001002":
            f["geometry"] = rect(5, 7)
    version_before = current_geo_version()
    output = import_via(via, features, tmp_path)

    assert "regions: 0 created, 15 updated" in output
    assert Region.objects.count() == 15
    grid = Region.objects.get(code="990101001001001")
    assert grid.name == "改名网格"
    assert grid.boundary == rect(0, 0.5)
    assert current_geo_version() != version_before
    assert locate(*point) is None  # x 0.75 is no longer in grid 001, and grid 002 starts at x 1
    assert locate(lat(0.5), lng(0.25)).name == "改名网格"
    assert locate(lat(0.5), lng(6.5)).code == "990102001001002"


def test_reimport_moves_updated_at():
    with time_machine.travel(datetime(2025, 1, 1, tzinfo=UTC), tick=False):
        regions_import(features=small_city_features())
    with time_machine.travel(datetime(2025, 2, 1, tzinfo=UTC), tick=False):
        regions_import(features=small_city_features())
    assert Region.objects.get(code="990101001001001").updated_at == datetime(2025, 2, 1, tzinfo=UTC)


# --- Refused imports: all-or-nothing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(BAD_FEATURES))
def test_a_bad_feature_last_of_many_good_ones_refuses_the_whole_file(case, via, stored, tmp_path):
    bad, fragments = BAD_FEATURES[case]
    features = [*many_good_features(), bad]
    before, version_before = snapshot(), current_geo_version()

    message = refused_via(via, features, tmp_path)

    assert f"feature {len(features) - 1}" in message
    for fragment in fragments:
        assert fragment in message
    assert "nothing was written" in message
    assert snapshot() == before
    assert Region.objects.count() == len(before)
    assert current_geo_version() == version_before


@pytest.mark.parametrize("case", list(BAD_FEATURES))
def test_a_bad_feature_first_refuses_the_whole_file_too(case, via, tmp_path):
    bad, fragments = BAD_FEATURES[case]
    message = refused_via(via, [bad, *many_good_features()], tmp_path)
    assert "feature 0" in message
    for fragment in fragments:
        assert fragment in message
    assert Region.objects.count() == 0


def test_duplicate_codes_in_one_file_are_refused(via, stored, tmp_path):
    features = many_good_features()
    features.append(feature("990101001001002", "重复网格", "grid", "990101001001", rect(1, 2)))
    before = snapshot()
    message = refused_via(via, features, tmp_path)
    assert f"feature {len(features) - 1} (990101001001002): duplicate code, already used by feature 6" in message
    assert snapshot() == before


def test_every_problem_of_the_file_is_listed(via, tmp_path):
    features = small_city_features()
    features[5]["properties"]["level"] = "village"
    features[10]["geometry"] = {"type": "Point", "coordinates": [120, 30]}
    features.append(feature("990101001001009", "孤儿", "grid", "990101001009", rect(0, 1)))
    message = refused_via(via, features, tmp_path)
    assert "3 problem(s)" in message
    assert "feature 5 (990101001001001): unknown level 'village'" in message
    assert "feature 10 (990101002001002): geometry type must be Polygon or MultiPolygon" in message
    assert "feature 15 (990101001001009): unknown parent_code 990101001009" in message
    assert Region.objects.count() == 0


def test_children_of_a_refused_parent_are_refused_with_it(via, tmp_path):
    features = small_city_features()
    features[0]["geometry"] = {"type": "Point", "coordinates": [120, 30]}  # the city
    message = refused_via(via, features, tmp_path)
    assert "feature 0 (990100): geometry type" in message
    assert "unknown parent_code 990100" in message  # the districts lose their parent
    assert Region.objects.count() == 0


def test_an_existing_code_cannot_change_level(via, tmp_path):
    regions_import(features=small_city_features())
    before = snapshot()
    features = [f for f in many_good_features() if f["properties"]["code"] != "990101"]
    features.append(feature("990101", "升格市", "city", None, rect(0, 4)))
    message = refused_via(via, features, tmp_path)
    assert f"feature {len(features) - 1} (990101): a city code ends in '00'" in message
    assert "feature 2 (990101001): a street must sit directly under a district, not under a city" in message
    assert snapshot() == before


def test_an_existing_code_cannot_change_level_even_when_the_new_level_fits_the_code(via, tmp_path):
    regions_import(features=small_city_features())
    # Legacy data: 990200 stored as a district of 990100 (its code would make it a city) …
    Region.objects.create(code="990200", name="错级区", level="district", parent=Region.objects.get(code="990100"),
                          boundary=rect(6, 7))
    before = snapshot()
    features = [*many_good_features(), feature("990200", "错级区", "city", None, rect(6, 7))]
    message = refused_via(via, features, tmp_path)
    assert (
        f"feature {len(features) - 1} (990200): code already stored as a district under 990100; "
        "level and parent of an existing region cannot change"
    ) in message
    assert snapshot() == before


def test_an_existing_code_cannot_change_parent(via, tmp_path):
    regions_import(features=small_city_features())
    # A street stored under the wrong district (legacy data written without the import) …
    Region.objects.create(code="990101003", name="错挂街道", level="street", parent=Region.objects.get(code="990102"),
                          boundary=rect(0, 1))
    before = snapshot()
    # … cannot be moved by an import, even to the parent its code calls for.
    features = [*many_good_features(), feature("990101003", "错挂街道", "street", "990101", rect(0, 1))]
    message = refused_via(via, features, tmp_path)
    assert (
        f"feature {len(features) - 1} (990101003): code already stored as a street under 990102; "
        "level and parent of an existing region cannot change"
    ) in message
    assert snapshot() == before


def test_an_empty_feature_collection_is_refused(via, tmp_path):
    message = refused_via(via, [], tmp_path)
    assert "no features" in message
    assert Region.objects.count() == 0


# --- Files that are not GeoJSON FeatureCollections ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("code,name\n990100,测试市\n", ["not JSON", "line 1 column 1"]),
        ("", ["not JSON"]),
        ('{"type": "FeatureCollection", "features": [', ["not JSON"]),
        (json.dumps(small_city_features()), ["not a GeoJSON FeatureCollection", "JSON list"]),
        (json.dumps(small_city_features()[0]), ["not a GeoJSON FeatureCollection", "'Feature'"]),
        (json.dumps({"features": small_city_features()}), ["not a GeoJSON FeatureCollection", "None"]),
        ('"FeatureCollection"', ["not a GeoJSON FeatureCollection", "JSON str"]),
        (json.dumps({"type": "FeatureCollection"}), ['no "features" list']),
        (json.dumps({"type": "FeatureCollection", "features": {"a": 1}}), ['no "features" list']),
    ],
)
def test_a_file_that_is_not_a_geojson_feature_collection_is_refused(content, fragments, stored, tmp_path):
    path = tmp_path / "regions.geojson"
    path.write_text(content, encoding="utf-8")
    before = snapshot()
    with pytest.raises(CommandError) as info:
        call_command("import_regions", str(path))
    assert str(info.value).startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in str(info.value)
    assert snapshot() == before


def test_a_missing_file_is_refused_with_its_name(tmp_path):
    with pytest.raises(CommandError, match="no-such.geojson: cannot read the file"):
        call_command("import_regions", str(tmp_path / "no-such.geojson"))


def test_a_directory_is_refused_with_its_name(tmp_path):
    with pytest.raises(CommandError, match="cannot read the file"):
        call_command("import_regions", str(tmp_path))


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "gbk.geojson"
    path.write_bytes(json.dumps(collection(small_city_features()), ensure_ascii=False).encode("gbk"))
    with pytest.raises(CommandError, match="gbk.geojson: not UTF-8 text"):
        call_command("import_regions", str(path))
    assert Region.objects.count() == 0


def test_a_utf8_file_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "bom.geojson"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(collection(small_city_features()), ensure_ascii=False).encode())
    out = StringIO()
    call_command("import_regions", str(path), stdout=out)
    assert "regions: 15 created, 0 updated" in out.getvalue()
    assert Region.objects.get(code="990100").name == "测试市"


def test_a_name_of_only_spaces_counts_as_missing():
    features = small_city_features()
    features[-1]["properties"]["name"] = "   "
    with pytest.raises(RegionImportError, match="feature 14: missing properties: name"):
        regions_import(features=features)
