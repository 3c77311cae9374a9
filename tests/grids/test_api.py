"""The grids API: token login, regions (list, tree, detail, GeoJSON), locate, departments and /me — always within
the caller's area scope, with errors in the {"detail", "code", "fields"} envelope."""

import pytest

from grids.models import Role
from tests.conftest import client_for
from tests.factories import grid_center, make_department, make_user

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-only"  # tests.factories.make_user


def codes(items):
    return [item["code"] for item in items]


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.fixture
def dispatcher(city):
    """A dispatcher of street 990101001 (东区, grids 990101001001001 and …002)."""
    return make_user("disp", (Role.DISPATCHER, city["990101001"]))


@pytest.fixture
def admin(city):
    return make_user("admin", (Role.ADMIN, None))


# --- Authentication -------------------------------------------------------------------------------------------------
PROTECTED = [
    "/api/v1/regions/",
    "/api/v1/regions/tree/",
    "/api/v1/regions/990100/",
    "/api/v1/regions/990100/geojson/",
    "/api/v1/grids/locate/?lat=30.005&lng=120.005",
    "/api/v1/departments/",
    "/api/v1/departments/any/",
    "/api/v1/me/",
]


@pytest.mark.parametrize("url", PROTECTED)
def test_every_endpoint_answers_401_without_credentials(city, api, url):
    response = api.get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    assert response.json()["code"] == "not_authenticated"


def test_a_token_from_the_login_endpoint_authenticates_requests(city, api, dispatcher):
    response = api.post("/api/v1/auth/token/", {"username": "disp", "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "disp"


def test_each_device_gets_its_own_token_and_signing_in_again_on_one_replaces_it(city, api, dispatcher):
    def sign_in(device):
        return api.post("/api/v1/auth/token/", {"username": "disp", "password": PASSWORD, "device": device},
                        format="json").json()["token"]

    phone, laptop = sign_in("phone"), sign_in("laptop")
    assert phone != laptop
    phone_again = sign_in("phone")
    assert phone_again != phone
    for token, status in ((phone, 401), (laptop, 200), (phone_again, 200)):
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert api.get("/api/v1/me/").status_code == status


def test_a_wrong_password_is_a_400_with_a_message(city, api, dispatcher):
    response = api.post("/api/v1/auth/token/", {"username": "disp", "password": "wrong"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"]
    assert "token" not in body


def test_a_login_without_a_password_names_the_password_field(city, api, dispatcher):
    response = api.post("/api/v1/auth/token/", {"username": "disp"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["fields"]


def test_a_bad_token_is_a_401(city, api):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token", HTTP_ACCEPT_LANGUAGE="en")
    response = api.get("/api/v1/me/")
    assert response.status_code == 401 and response.json()["detail"] == "Invalid token."


def test_the_token_of_a_deactivated_user_is_a_401(city, api, dispatcher):
    token = api.post("/api/v1/auth/token/", {"username": "disp", "password": PASSWORD}, format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}", HTTP_ACCEPT_LANGUAGE="en")
    assert api.get("/api/v1/me/").status_code == 200
    dispatcher.is_active = False
    dispatcher.save(update_fields=["is_active"])
    response = api.get("/api/v1/me/")
    assert response.status_code == 401 and response.json()["detail"] == "User inactive or deleted."


# --- Locate ---------------------------------------------------------------------------------------------------------
def locate(client, **params):
    return client.get("/api/v1/grids/locate/", params)


def test_locate_at_a_grid_center_returns_that_grid_and_its_ancestors(city, dispatcher):
    lat, lng = grid_center("990101002001002")
    response = locate(client_for(dispatcher), lat=lat, lng=lng)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["grid"] == {"code": "990101002001002", "name": "网格001-2"}
    assert body["community"]["code"] == "990101002001"
    assert body["street"]["code"] == "990101002"
    assert body["district"] == {"code": "990101", "name": "东区"}
    assert body["city"] == {"code": "990100", "name": "测试市"}


def test_locate_says_whether_the_grid_is_in_the_callers_scope(city, dispatcher):
    client = client_for(dispatcher)
    assert locate(client, lat=30.005, lng=120.005).json()["in_your_scope"] is True
    assert locate(client, lat=30.005, lng=120.035).json()["in_your_scope"] is False


def test_any_staff_user_may_locate_even_without_roles(city):
    response = locate(client_for(make_user("nobody")), lat=30.005, lng=120.045)
    assert response.status_code == 200
    assert response.json()["grid"]["code"] == "990102001001001"
    assert response.json()["in_your_scope"] is False


@pytest.mark.parametrize(
    ("lng", "expected"),
    [(120.01, "990101001001001"), (120.02, "990101001001002"), (120.04, "990101002001002")],
)
def test_a_point_on_a_border_goes_to_the_grid_with_the_smaller_code(city, dispatcher, lng, expected):
    response = locate(client_for(dispatcher), lat=30.005, lng=lng)
    assert response.json()["grid"]["code"] == expected


def test_a_point_outside_every_grid_is_a_404_outside_service_area(city, dispatcher):
    response = locate(client_for(dispatcher), lat=31.0, lng=121.0)
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "outside_service_area"
    assert body["detail"]


def test_locate_without_lat_is_a_400_naming_lat(city, dispatcher):
    response = locate(client_for(dispatcher), lng=120.005)
    assert response.status_code == 400
    body = response.json()
    assert list(body["fields"]) == ["lat"]
    assert "lat" in body["detail"]


@pytest.mark.parametrize("value", ["abc", "", "nan", "inf", "1e999"])
def test_a_non_numeric_lng_is_a_400_naming_lng(city, dispatcher, value):
    response = locate(client_for(dispatcher), lat=30.005, lng=value)
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["lng"]


@pytest.mark.parametrize(("field", "lat", "lng"), [("lat", 90.5, 120.0), ("lat", -91, 120.0),
                                                    ("lng", 30.0, 180.1), ("lng", 30.0, -181)])
def test_coordinates_out_of_range_are_a_400_naming_the_field(city, dispatcher, field, lat, lng):
    response = locate(client_for(dispatcher), lat=lat, lng=lng)
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]


# --- Region list ----------------------------------------------------------------------------------------------------
def test_a_street_dispatcher_lists_their_street_and_the_regions_above_not_the_other_streets(city, dispatcher):
    items = results(client_for(dispatcher).get("/api/v1/regions/"))
    assert codes(items) == [
        "990100", "990101", "990101001", "990101001001", "990101001001001", "990101001001002",
    ]
    assert items[0] == {"code": "990100", "name": "测试市", "level": "city", "parent_code": None}
    assert items[2]["parent_code"] == "990101"
    assert "boundary" not in items[0]


def test_an_admin_lists_every_region_and_the_list_is_paginated(city, admin):
    body = client_for(admin).get("/api/v1/regions/", {"page_size": 5}).json()
    assert body["count"] == len(city)
    assert len(body["results"]) == 5
    assert body["next"]


def test_a_user_without_roles_sees_no_regions(city):
    assert results(client_for(make_user("nobody")).get("/api/v1/regions/")) == []


def test_regions_filter_by_level_parent_and_text(city, admin):
    client = client_for(admin)
    assert codes(results(client.get("/api/v1/regions/", {"level": "street"}))) == [
        "990101001", "990101002", "990102001",
    ]
    assert codes(results(client.get("/api/v1/regions/", {"parent": "990101"}))) == ["990101001", "990101002"]
    assert codes(results(client.get("/api/v1/regions/", {"q": "西区"}))) == ["990102"]
    assert codes(results(client.get("/api/v1/regions/", {"q": "990102001001"}))) == [
        "990102001001", "990102001001001", "990102001001002",
    ]


def test_region_filters_stay_within_scope(city, dispatcher):
    client = client_for(dispatcher)
    assert codes(results(client.get("/api/v1/regions/", {"level": "street"}))) == ["990101001"]
    assert results(client.get("/api/v1/regions/", {"parent": "990101002"})) == []


def test_an_unknown_level_filter_is_a_400_naming_level(city, admin):
    response = client_for(admin).get("/api/v1/regions/", {"level": "planet"})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["level"]


# --- Region detail and GeoJSON --------------------------------------------------------------------------------------
def test_region_detail_has_ancestors_children_in_scope_and_the_boundary(city):
    worker = make_user("w", (Role.GRID_WORKER, city["990101001001001"]))
    response = client_for(worker).get("/api/v1/regions/990101001001/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["parent_code"] == "990101001"
    assert body["ancestors"] == [
        {"code": "990100", "name": "测试市", "level": "city"},
        {"code": "990101", "name": "东区", "level": "district"},
        {"code": "990101001", "name": "街道1001", "level": "street"},
    ]
    assert codes(body["children"]) == ["990101001001001"]  # not the grid the worker does not patrol
    assert body["boundary"]["type"] == "Polygon"


def test_another_streets_region_is_a_404_like_an_unknown_code(city, dispatcher):
    client = client_for(dispatcher)
    other = client.get("/api/v1/regions/990101002/")
    unknown = client.get("/api/v1/regions/123456789/")
    assert other.status_code == unknown.status_code == 404
    assert other.json() == unknown.json()
    assert client.get("/api/v1/regions/990101002001001/geojson/").status_code == 404


def test_region_geojson_is_a_feature(city, dispatcher):
    response = client_for(dispatcher).get("/api/v1/regions/990101001001002/geojson/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "Feature"
    assert body["properties"] == {
        "code": "990101001001002", "name": "网格001-2", "level": "grid", "parent_code": "990101001001",
    }
    assert body["geometry"]["type"] == "Polygon"


def test_region_geojson_is_plain_json_when_asked(city, dispatcher):
    response = client_for(dispatcher).get("/api/v1/regions/990101001/geojson/", HTTP_ACCEPT="application/json")
    assert response["Content-Type"].startswith("application/json")


# --- Region tree ----------------------------------------------------------------------------------------------------
def tree(client, **params):
    return client.get("/api/v1/regions/tree/", params)


def test_the_default_tree_starts_at_the_top_visible_region_three_levels_deep(city, dispatcher):
    response = tree(client_for(dispatcher))
    assert response.status_code == 200, response.content
    [city_node] = response.json()
    assert (city_node["code"], city_node["level"]) == ("990100", "city")
    [district] = city_node["children"]
    assert district["code"] == "990101"
    [street] = district["children"]
    assert street == {"code": "990101001", "name": "街道1001", "level": "street", "children": None}


def test_an_admin_tree_has_every_district_and_street(city, admin):
    [city_node] = tree(client_for(admin)).json()
    assert codes(city_node["children"]) == ["990101", "990102"]
    assert codes(city_node["children"][0]["children"]) == ["990101001", "990101002"]


def test_a_tree_five_levels_deep_reaches_the_grids(city, dispatcher):
    [city_node] = tree(client_for(dispatcher), depth=5).json()
    community = city_node["children"][0]["children"][0]["children"][0]
    assert codes(community["children"]) == ["990101001001001", "990101001001002"]
    assert community["children"][0]["children"] == []


def test_a_tree_from_a_given_root(city, admin):
    [street] = tree(client_for(admin), root="990101002", depth=2).json()
    assert street["code"] == "990101002"
    [community] = street["children"]
    assert community["code"] == "990101002001"
    assert community["children"] is None


def test_a_tree_of_depth_one_is_the_root_alone(city, admin):
    assert tree(client_for(admin), root="990101", depth=1).json() == [
        {"code": "990101", "name": "东区", "level": "district", "children": None}
    ]


def test_a_tree_root_outside_scope_is_a_404_like_an_unknown_root(city, dispatcher):
    client = client_for(dispatcher)
    outside = tree(client, root="990102")
    unknown = tree(client, root="999999")
    assert outside.status_code == unknown.status_code == 404
    assert outside.json() == unknown.json()


@pytest.mark.parametrize("depth", ["0", "6", "deep", "-1"])
def test_a_bad_tree_depth_is_a_400_naming_depth(city, dispatcher, depth):
    response = tree(client_for(dispatcher), depth=depth)
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["depth"]


def test_a_user_without_roles_has_an_empty_tree(city):
    assert tree(client_for(make_user("nobody"))).json() == []


# --- Departments ----------------------------------------------------------------------------------------------------
@pytest.fixture
def departments(city):
    return {
        "s1": make_department(city["990101001"], code="s1"),
        "s2": make_department(city["990101002"], code="s2"),
        "d1": make_department(city["990101"], type="水务", code="d1"),
        "west": make_department(city["990102"], type="水务", code="west"),
        "c1": make_department(city["990100"], type="电力", code="c1"),
    }


def test_a_street_dispatcher_lists_departments_of_their_street_and_above(departments, dispatcher):
    assert codes(results(client_for(dispatcher).get("/api/v1/departments/"))) == ["c1", "d1", "s1"]


def test_a_handler_lists_only_their_own_department(city, departments):
    handler = make_user("h", (Role.HANDLER, departments["s2"]))
    items = results(client_for(handler).get("/api/v1/departments/"))
    assert codes(items) == ["s2"]
    assert items[0].pop("type_label")  # in the active language
    assert items[0] == {
        "code": "s2", "name": "街道1002环卫", "type": "环卫", "level": "street",
        "region": {"code": "990101002", "name": "街道1002", "level": "street"}, "active": True,
    }


def test_an_admin_lists_every_department(departments, admin):
    assert codes(results(client_for(admin).get("/api/v1/departments/"))) == sorted(departments)


def test_a_user_without_roles_lists_no_departments(departments):
    assert results(client_for(make_user("nobody")).get("/api/v1/departments/")) == []


def test_departments_filter_by_type_level_and_region(departments, admin):
    client = client_for(admin)
    assert codes(results(client.get("/api/v1/departments/", {"type": "水务"}))) == ["d1", "west"]
    assert codes(results(client.get("/api/v1/departments/", {"level": "street"}))) == ["s1", "s2"]
    assert codes(results(client.get("/api/v1/departments/", {"region": "990101"}))) == ["d1"]
    assert codes(results(client.get("/api/v1/departments/", {"active": "true", "level": "city"}))) == ["c1"]


def test_a_bad_department_filter_is_a_400_naming_it(departments, admin):
    response = client_for(admin).get("/api/v1/departments/", {"level": "grid"})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["level"]


def test_a_department_outside_scope_is_a_404(departments, dispatcher):
    client = client_for(dispatcher)
    assert client.get("/api/v1/departments/d1/").json()["code"] == "d1"
    assert client.get("/api/v1/departments/s2/").status_code == 404
    assert client.get("/api/v1/departments/west/").status_code == 404
    assert client.get("/api/v1/departments/nope/").status_code == 404


# --- Me -------------------------------------------------------------------------------------------------------------
def test_me_lists_every_role_and_the_combined_scope(city, departments):
    user = make_user(
        "multi",
        (Role.GRID_WORKER, city["990101001001002"]),
        (Role.GRID_WORKER, city["990101001001001"]),
        (Role.DISPATCHER, city["990101002"]),
        (Role.HANDLER, departments["west"]),
    )
    user.display_name = "张三"
    user.save()
    response = client_for(user).get("/api/v1/me/")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "multi"
    assert body["display_name"] == "张三"
    assert body["is_admin"] is False
    roles = sorted(body["roles"], key=lambda r: (r["role"], (r["region"] or r["department"])["code"]))
    assert [(r["role"], (r["region"] or r["department"])["code"]) for r in roles] == [
        ("dispatcher", "990101002"),
        ("grid_worker", "990101001001001"),
        ("grid_worker", "990101001001002"),
        ("handler", "west"),
    ]
    assert roles[0]["region"] == {"code": "990101002", "name": "街道1002", "level": "street"}
    assert roles[0]["department"] is None
    assert roles[3]["department"] == {"code": "west", "name": "西区水务"}
    assert roles[3]["region"] is None
    assert all(r["role_label"] for r in roles)
    assert body["scope"] == {
        "grid_codes": ["990101001001001", "990101001001002"],
        "region_prefixes": ["990101001001001", "990101001001002", "990101002", "990102"],
        "department_codes": ["west"],
        "command_center_codes": ["990101002"],
    }


def test_me_for_an_admin_has_scope_everywhere(admin):
    body = client_for(admin).get("/api/v1/me/").json()
    assert body["is_admin"] is True
    assert body["scope"]["region_prefixes"] is None
    [role] = body["roles"]
    assert role.pop("role_label")
    assert role == {"role": "admin", "region": None, "department": None}
