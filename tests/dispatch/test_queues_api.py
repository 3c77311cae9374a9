"""GET /api/v1/queues/{level}/: a command center's buckets, within the caller's centers and supervised area."""

import pytest

from dispatch.models import StageClock
from tests.conftest import client_for
from tests.events.conftest import act, file_hotline, file_patrol
from tests.factories import make_user

pytestmark = pytest.mark.django_db

BUCKETS = ["new", "awaiting_dispatch", "returned", "escalated_to_us", "overdue"]


def numbers(bucket: dict) -> list[str]:
    return [item["number"] for item in bucket["items"]]


def returned_case(world):
    case = act(file_patrol(world), "dispatch", world.dispatcher, department=world.dept.code)
    return act(case, "return", world.handler, reason="非本单位职责")


def overdue_case(world):
    case = file_patrol(world)
    assert StageClock.objects.filter(case=case, finished_at__isnull=True).update(light="red") == 1
    return case


def escalated_case(world):
    return act(file_patrol(world), "escalate", world.dispatcher, reason="超出街道权限")


def test_a_street_dispatcher_sees_each_bucket_of_their_center(world):
    new = file_hotline(world)
    waiting = file_patrol(world)
    returned = returned_case(world)
    overdue = overdue_case(world)
    response = client_for(world.dispatcher).get("/api/v1/queues/street/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["center"] == {"code": "990101001", "name": "街道1001", "level": "street"}
    buckets = body["buckets"]
    assert list(buckets) == BUCKETS
    assert numbers(buckets["new"]) == [new.number] and buckets["new"]["count"] == 1
    assert numbers(buckets["awaiting_dispatch"]) == [overdue.number, waiting.number]
    assert buckets["awaiting_dispatch"]["count"] == 2
    assert numbers(buckets["returned"]) == [returned.number] and buckets["returned"]["count"] == 1
    assert numbers(buckets["overdue"]) == [overdue.number] and buckets["overdue"]["count"] == 1
    assert buckets["overdue"]["available"] is True
    # a street center has nothing escalated to it
    assert buckets["escalated_to_us"] == {"count": 0, "items": [], "available": False}
    row = buckets["new"]["items"][0]
    assert row["state"] == "reported" and row["street"]["code"] == "990101001" and row["grid"]["code"] == world.grid


def test_a_finished_or_green_clock_is_not_overdue(world):
    case = file_patrol(world)
    StageClock.objects.filter(case=case).update(light="yellow")
    done = act(file_patrol(world), "dispatch", world.dispatcher, department=world.dept.code)
    StageClock.objects.filter(case=done, finished_at__isnull=False).update(light="red")
    body = client_for(world.dispatcher).get("/api/v1/queues/street/").json()
    assert body["buckets"]["overdue"]["count"] == 0


def test_an_escalated_case_leaves_the_street_queue_for_the_district_one(world):
    case = escalated_case(world)
    file_hotline(world)
    street = client_for(world.dispatcher).get("/api/v1/queues/street/").json()
    assert case.number not in numbers(street["buckets"]["awaiting_dispatch"])
    response = client_for(world.district_dispatcher).get("/api/v1/queues/district/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["center"]["code"] == "990101"
    assert numbers(body["buckets"]["escalated_to_us"]) == [case.number]
    assert body["buckets"]["escalated_to_us"]["available"] is True
    assert numbers(body["buckets"]["awaiting_dispatch"]) == [case.number]
    assert body["buckets"]["new"]["count"] == 0  # the new hotline report stays with its street
    city = client_for(world.city_dispatcher).get("/api/v1/queues/city/").json()
    assert all(city["buckets"][name]["count"] == 0 for name in BUCKETS)


def test_another_streets_dispatcher_does_not_see_street_a(world):
    file_hotline(world)
    file_patrol(world)
    client = client_for(world.dispatcher_b)
    body = client.get("/api/v1/queues/street/").json()
    assert body["center"]["code"] == "990101002"
    assert all(body["buckets"][name]["count"] == 0 for name in BUCKETS)
    response = client.get("/api/v1/queues/street/?center=990101001")
    assert response.status_code == 403
    assert response.json()["code"] == "no_command_center"
    assert "990101001" in response.json()["detail"]


def test_no_center_at_the_level_is_403(world):
    for user, level in ((world.worker, "street"), (world.handler, "street"), (world.dispatcher, "district"),
                        (world.city_dispatcher, "street")):
        response = client_for(user).get(f"/api/v1/queues/{level}/", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 403, (user, level)
        body = response.json()
        assert body["code"] == "no_command_center" and level in body["detail"]
    chinese = client_for(world.worker).get("/api/v1/queues/street/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert "街道级" in chinese["detail"] and "street" not in chinese["detail"]


def test_an_unknown_level_is_404(world):
    response = client_for(world.dispatcher).get("/api/v1/queues/county/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert "street, district and city" in response.json()["detail"]
    chinese = client_for(world.dispatcher).get("/api/v1/queues/county/")  # Chinese by default
    assert "没有 county 队列" in chinese.json()["detail"]


def test_anonymous_callers_are_refused(world):
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/queues/street/").status_code in (401, 403)


def test_a_supervisor_reads_the_centers_of_their_area(world):
    case = file_hotline(world)
    client = client_for(world.supervisor)  # supervisor of district 990101
    response = client.get("/api/v1/queues/street/")
    assert response.status_code == 400
    body = response.json()
    assert "center" in body["fields"] and "990101001" in body["detail"] and "990101002" in body["detail"]
    response = client.get("/api/v1/queues/street/?center=990101001")
    assert response.status_code == 200
    assert numbers(response.json()["buckets"]["new"]) == [case.number]
    assert client.get("/api/v1/queues/district/").json()["center"]["code"] == "990101"
    assert client.get("/api/v1/queues/street/?center=990102001").status_code == 403  # the other district
    assert client.get("/api/v1/queues/city/").status_code == 403  # a district supervisor does not cover the city


def test_a_dispatcher_of_several_centers_chooses_one(world):
    both = make_user("both", ("dispatcher", world.regions["990101001"]), ("dispatcher", world.regions["990101002"]))
    file_hotline(world)
    client = client_for(both)
    response = client.get("/api/v1/queues/street/")
    assert response.status_code == 400 and "center" in response.json()["fields"]
    assert client.get("/api/v1/queues/street/?center=990101001").json()["buckets"]["new"]["count"] == 1
    assert client.get("/api/v1/queues/street/?center=990101002").json()["buckets"]["new"]["count"] == 0


def test_an_admin_reads_any_center_by_code(world):
    admin = make_user("a", ("admin", None))
    file_hotline(world)
    client = client_for(admin)
    assert client.get("/api/v1/queues/street/?center=990101001").json()["buckets"]["new"]["count"] == 1
    assert client.get("/api/v1/queues/city/").json()["center"]["code"] == "990100"  # the only city
    assert client.get("/api/v1/queues/street/?center=990101").status_code == 403  # not a street


def test_paging_through_one_bucket(world):
    cases = [file_patrol(world) for _ in range(3)]
    file_hotline(world)
    client = client_for(world.dispatcher)
    first = client.get("/api/v1/queues/street/?bucket=awaiting_dispatch&page_size=2")
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["count"] == 3 and body["next"] and body["previous"] is None
    assert [row["number"] for row in body["results"]] == [cases[2].number, cases[1].number]
    assert body["results"][0]["street"]["code"] == "990101001"
    second = client.get("/api/v1/queues/street/?bucket=awaiting_dispatch&page_size=2&page=2").json()
    assert [row["number"] for row in second["results"]] == [cases[0].number]
    assert client.get("/api/v1/queues/street/?bucket=awaiting_dispatch&page_size=2&page=3").status_code == 404
    empty = client.get("/api/v1/queues/street/?bucket=escalated_to_us").json()
    assert empty["count"] == 0 and empty["results"] == []


def test_bad_query_parameters_name_the_field(world):
    client = client_for(world.dispatcher)
    for query, field in (("bucket=everything", "bucket"), ("bucket=new&page=0", "page"),
                         ("bucket=new&page_size=x", "page_size")):
        response = client.get(f"/api/v1/queues/street/?{query}")
        assert response.status_code == 400, query
        assert field in response.json()["fields"], query


def test_the_queue_costs_a_bounded_number_of_queries(world, django_assert_max_num_queries):
    for _ in range(3):
        file_hotline(world)
        file_patrol(world)
        returned_case(world)
        overdue_case(world)
    client = client_for(world.dispatcher)
    # roles (1) + per bucket one COUNT and one LIMIT (4 buckets apply at street level) + grid/street/district (3)
    with django_assert_max_num_queries(13):
        response = client.get("/api/v1/queues/street/")
    assert response.status_code == 200
    assert response.json()["buckets"]["awaiting_dispatch"]["count"] == 6
    escalated_case(world)
    with django_assert_max_num_queries(15):
        response = client_for(world.district_dispatcher).get("/api/v1/queues/district/")
    assert response.json()["buckets"]["escalated_to_us"]["count"] == 1
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/queues/street/?bucket=returned")
    assert response.json()["count"] == 3
