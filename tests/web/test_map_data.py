"""The shared map's data: region boundaries of the person's area (simplified per zoom) and the console's cases on the
map — counts per area when zoomed out, markers close up — each within the person's area."""
import pytest

from tests.events.conftest import act, file_hotline

pytestmark = pytest.mark.django_db
WIDE = "119.0,29.0,121.0,31.0"


@pytest.fixture
def dispatcher(client, world):
    client.force_login(world.dispatcher)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_boundaries_of_my_street_by_zoom(dispatcher, world):
    grids = dispatcher.get("/geo/boundaries/?parent=990101001&zoom=16").json()
    assert [f["properties"]["code"] for f in grids["features"]] == ["990101001001001", "990101001001002"]
    assert grids["features"][0]["geometry"]["type"] == "Polygon"
    communities = dispatcher.get("/geo/boundaries/?parent=990101001&zoom=13").json()
    assert [f["properties"]["level"] for f in communities["features"]] == ["community"]
    response = dispatcher.get("/geo/boundaries/?parent=990101001&zoom=16")
    again = dispatcher.get("/geo/boundaries/?parent=990101001&zoom=16", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_boundaries_outside_my_area_or_bad_input(dispatcher, world):
    assert dispatcher.get("/geo/boundaries/?parent=990101002&zoom=14").status_code == 403
    missing = dispatcher.get("/geo/boundaries/?zoom=14")
    assert missing.status_code == 400 and "parent" in missing.json()["detail"]
    bad = dispatcher.get("/geo/boundaries/?parent=990101001&zoom=x")
    assert bad.status_code == 400 and "zoom" in bad.json()["detail"]
    assert dispatcher.get("/geo/boundaries/?parent=990101001&zoom=99").status_code == 400


def test_boundaries_need_sign_in(client, world):
    assert client.get("/geo/boundaries/?parent=990101001").status_code == 302


def test_console_map_counts_then_markers(dispatcher, world):
    first, second = file_hotline(world), file_hotline(world, description="又一个")
    areas = dispatcher.get(f"/console/map/?bbox={WIDE}&zoom=12").json()
    assert areas["mode"] == "areas" and areas["level"] == "street"
    assert [(a["code"], a["count"], a["green"]) for a in areas["areas"]] == [("990101001", 2, 2)]
    grids = dispatcher.get(f"/console/map/?bbox={WIDE}&zoom=15").json()
    assert [(a["code"], a["count"]) for a in grids["areas"]] == [(world.grid, 2)]
    markers = dispatcher.get(f"/console/map/?bbox={WIDE}&zoom=17").json()
    assert markers["mode"] == "markers" and not markers["truncated"]
    assert {m["number"] for m in markers["cases"]} == {first.number, second.number}
    assert {m["light"] for m in markers["cases"]} == {"green"}
    act(first, "reject", world.dispatcher, reason="重复")
    markers = dispatcher.get(f"/console/map/?bbox={WIDE}&zoom=17&bucket=new").json()
    assert [m["number"] for m in markers["cases"]] == [second.number]
    nowhere = dispatcher.get("/console/map/?bbox=0,0,1,1&zoom=17").json()
    assert nowhere["cases"] == []


def test_console_map_stays_in_my_area(client, world):
    file_hotline(world)
    client.force_login(world.dispatcher_b)
    assert client.get(f"/console/map/?bbox={WIDE}&zoom=17").json()["cases"] == []
    assert client.get(f"/console/map/?bbox={WIDE}&zoom=17&center=990101001").status_code == 403
    client.force_login(world.handler)
    assert client.get(f"/console/map/?bbox={WIDE}&zoom=17").status_code == 403


@pytest.mark.parametrize("query", ["bbox=1,2,3&zoom=17", "bbox=5,0,1,1&zoom=17", f"bbox={WIDE}&zoom=-1",
                                   f"bbox={WIDE}&zoom=17&urgency=very", f"bbox={WIDE}&zoom=17&region=abc"])
def test_console_map_bad_input_is_a_400(dispatcher, world, query):
    response = dispatcher.get(f"/console/map/?{query}")
    assert response.status_code == 400 and response.json()["detail"]
