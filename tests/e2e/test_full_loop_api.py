"""The closed loop through the HTTP API only, as clients use it: token auth, JSON and multipart, case numbers.

Each loop ends by checking the final state, the closing reason, the counters, and that every case's hash chain is
intact (``manage.py verify_events``).
"""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from tests.events import conftest as events_conftest
from tests.events.conftest import photo

pytestmark = pytest.mark.django_db
world = events_conftest.world  # the small city with one user per role (tests/events/conftest.py)

PASSWORD = "pw-for-tests-only"
NO_COUNTS = {"returns": 0, "reworks": 0, "extensions": 0, "extension_pending": False, "reopens": 0,
             "escalations": 0, "suspensions": 0}


class Api:
    """One token-authenticated client per user, obtained through POST /api/v1/auth/token/."""

    def __init__(self):
        self._clients: dict[str, APIClient] = {}

    def __call__(self, username: str) -> APIClient:
        if username not in self._clients:
            response = APIClient().post("/api/v1/auth/token/", {"username": username, "password": PASSWORD},
                                        format="json")
            assert response.status_code == 200, response.content
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
            self._clients[username] = client
        return self._clients[username]

    def act(self, username: str, number: str, action: str, *, fmt: str = "json", **inputs) -> dict:
        """Take the action; the whole case afterwards (the answer is the compact case document: the rest is read
        as the actor, or as the supervisor when the case left the actor's sight), with the actor's allowed actions."""
        response = self(username).post(f"/api/v1/cases/{number}/actions/{action}/", inputs, format=fmt)
        assert response.status_code == 200, (action, response.content)
        answer = response.json()
        seen = self(username).get(f"/api/v1/cases/{number}/")
        whole = seen.json() if seen.status_code == 200 else self.case("supervisor", number)
        assert whole["state"] == answer["state"] and whole["level"] == answer["level"], (answer, whole["state"])
        return {**whole, **answer}

    def case(self, username: str, number: str) -> dict:
        response = self(username).get(f"/api/v1/cases/{number}/")
        assert response.status_code == 200, response.content
        return response.json()


@pytest.fixture
def http(world):
    return Api()


def report_hotline(http, world, **extra) -> str:
    lat, lng = world.point
    response = http("operator").post("/api/v1/cases/", {
        "channel": "hotline", "description": "路灯不亮", "lat": lat, "lng": lng, "citizen_name": "张三",
        "citizen_phone": "13812341234", **extra,
    }, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["state"] == "reported"
    return response.json()["number"]


def to_handling(http, number, department="s1-huanwei", handler="handler") -> dict:
    http.act("dispatcher", number, "accept", category="E0102")
    http.act("dispatcher", number, "dispatch", department=department)
    return http.act(handler, number, "sign")


def to_closed(http, number, rating=5) -> dict:
    """handling → complete → verify → feedback."""
    http.act("handler", number, "complete", fmt="multipart", note="已修复", photos=[photo()])
    http.act("worker", number, "verify", fmt="multipart", photos=[photo("check.png", "PNG")])
    return http.act("operator", number, "feedback", rating=rating, comment="谢谢")


def kinds(body) -> list[str]:
    return [event["kind"] for event in body["timeline"]]


def assert_chains_intact():
    out = io.StringIO()
    call_command("verify_events", stdout=out)
    assert "chain(s) intact" in out.getvalue(), out.getvalue()


def test_the_full_loop_from_a_hotline_call_to_the_callers_rating(http, world):
    number = report_hotline(http, world)
    assert http.act("dispatcher", number, "accept", category="E0102")["state"] == "accepted"
    assert http.act("dispatcher", number, "dispatch", department="s1-huanwei")["state"] == "dispatched"
    assert http.act("handler", number, "sign")["state"] == "handling"
    body = http.act("handler", number, "complete", fmt="multipart", note="已修复", photos=[photo()])
    assert body["state"] == "handled"
    body = http.act("worker", number, "verify", fmt="multipart", photos=[photo("check.png", "PNG")])
    assert body["state"] == "verified" and body["verified_at"]
    body = http.act("operator", number, "feedback", rating=5, comment="满意")
    assert body["state"] == "closed" and body["close_reason"] == "resolved" and body["closed_at"]
    assert body["rating"] == 5 and body["rating_comment"] == "满意"
    assert body["counters"] == NO_COUNTS
    assert kinds(body) == ["reported", "accept", "dispatch", "sign", "complete", "verify", "feedback"]
    assert sorted(p["kind"] for p in body["photos"]) == ["after", "check"]
    assert body["allowed_actions"] == []
    listed = http("dispatcher").get("/api/v1/cases/?status=closed").json()["results"]
    assert [row["number"] for row in listed] == [number]
    assert_chains_intact()


def test_a_patrol_report_runs_the_loop_and_a_dispatcher_closes_it(http, world):
    lat, lng = world.point
    response = http("worker").post("/api/v1/cases/", {
        "channel": "patrol", "description": "垃圾堆放", "lat": lat, "lng": lng, "category": "E0102",
        "photos": [photo()],
    }, format="multipart")
    assert response.status_code == 201 and response.json()["state"] == "accepted"
    number = response.json()["number"]
    http.act("dispatcher", number, "dispatch", department="s1-huanwei")
    http.act("handler", number, "sign")
    http.act("handler", number, "complete", fmt="multipart", note="已清理", photos=[photo()])
    http.act("worker", number, "verify", fmt="multipart", photos=[photo()])
    body = http.act("dispatcher", number, "close")
    assert body["state"] == "closed" and body["close_reason"] == "resolved" and body["rating"] is None
    assert body["counters"] == NO_COUNTS
    assert [row["number"] for row in http("worker").get("/api/v1/my/cases/").json()["results"]] == [number]
    assert_chains_intact()


def test_a_case_returned_by_the_wrong_department_is_dispatched_again(http, world):
    number = report_hotline(http, world)
    to_handling(http, number, department="s1-shizheng", handler="handler_y")
    body = http.act("handler_y", number, "return", reason="非本单位职责")
    assert body["state"] == "accepted" and body["department"] is None
    http.act("dispatcher", number, "dispatch", department="s1-huanwei")
    http.act("handler", number, "sign")
    body = to_closed(http, number)
    assert body["state"] == "closed" and body["close_reason"] == "resolved"
    assert body["counters"] == {**NO_COUNTS, "returns": 1}
    assert body["department"]["code"] == "s1-huanwei"
    assert kinds(body).count("dispatch") == 2
    assert_chains_intact()


def test_a_case_failing_the_check_is_reworked(http, world):
    number = report_hotline(http, world)
    to_handling(http, number)
    http.act("handler", number, "complete", fmt="multipart", note="已修复", photos=[photo()])
    body = http.act("worker", number, "rework", reason="灯仍不亮")
    assert body["state"] == "handling" and body["counters"]["reworks"] == 1
    body = to_closed(http, number)
    assert body["state"] == "closed" and body["close_reason"] == "resolved"
    assert body["counters"] == {**NO_COUNTS, "reworks": 1}
    assert_chains_intact()


def test_an_extension_is_requested_approved_then_another_denied(http, world):
    number = report_hotline(http, world)
    to_handling(http, number)
    body = http.act("handler", number, "request_extension", reason="等待配件")
    assert body["counters"]["extension_pending"] is True
    assert "approve_extension" in http.case("dispatcher", number)["allowed_actions"]
    body = http.act("dispatcher", number, "approve_extension")
    assert body["state"] == "handling" and body["counters"]["extensions"] == 1
    http.act("handler", number, "request_extension", reason="仍在等待")
    body = http.act("dispatcher", number, "deny_extension", reason="请尽快处理")
    assert body["counters"]["extension_pending"] is False and body["counters"]["extensions"] == 1
    body = to_closed(http, number)
    assert body["state"] == "closed" and body["close_reason"] == "resolved"
    assert body["counters"] == {**NO_COUNTS, "extensions": 1}
    assert_chains_intact()


def test_a_suspended_case_resumes_and_closes(http, world):
    number = report_hotline(http, world)
    to_handling(http, number)
    until = (timezone.localdate() + timedelta(days=30)).isoformat()
    body = http.act("dispatcher", number, "suspend", reason="待汛期结束", until=until)
    assert body["state"] == "suspended" and body["suspended_until"].startswith(until)
    body = http.act("dispatcher", number, "resume")
    assert body["state"] == "handling" and body["suspended_until"] is None
    body = to_closed(http, number)
    assert body["state"] == "closed" and body["close_reason"] == "resolved"
    assert body["counters"] == {**NO_COUNTS, "suspensions": 1}
    assert_chains_intact()


def test_a_duplicate_report_is_merged_into_the_first(http, world):
    first = report_hotline(http, world)
    second = report_hotline(http, world, citizen_phone="13900001111")
    body = http.act("dispatcher", second, "merge", target=first)
    assert body["state"] == "merged" and body["close_reason"] == "duplicate" and body["merged_into"] == first
    assert body["counters"] == NO_COUNTS
    target = http.case("dispatcher", first)
    assert target["state"] == "reported" and kinds(target) == ["reported", "merged_in"]
    assert target["timeline"][-1]["payload"] == {"case": second}
    assert_chains_intact()


def test_a_report_that_is_not_a_city_matter_is_rejected(http, world):
    number = report_hotline(http, world)
    body = http.act("dispatcher", number, "reject", reason="不属于城市管理范围")
    assert body["state"] == "rejected" and body["close_reason"] == "rejected" and body["closed_at"]
    assert body["counters"] == NO_COUNTS and body["allowed_actions"] == []
    assert body["timeline"][-1]["payload"] == {"reason": "不属于城市管理范围"}
    assert_chains_intact()


def test_a_supervisor_cancels_a_case_in_handling(http, world):
    number = report_hotline(http, world)
    to_handling(http, number)
    body = http.act("supervisor", number, "cancel", reason="重复录入")
    assert body["state"] == "cancelled" and body["close_reason"] == "cancelled"
    assert body["counters"] == NO_COUNTS
    response = http("handler").post(f"/api/v1/cases/{number}/actions/complete/", {"note": "x"}, format="json")
    assert response.status_code == 409 and response.json()["allowed_actions"] == []
    assert_chains_intact()


def test_a_dissatisfied_caller_gets_the_case_reopened_and_handled_again(http, world):
    number = report_hotline(http, world)
    to_handling(http, number)
    body = to_closed(http, number, rating=2)
    assert body["state"] == "closed" and body["rating"] == 2
    assert "reopen" in http.case("supervisor", number)["allowed_actions"]
    body = http.act("supervisor", number, "reopen", reason="市民不满意")
    assert body["state"] == "handling" and body["close_reason"] == "" and body["rating"] is None
    assert body["counters"] == {**NO_COUNTS, "reopens": 1}
    assert body["timeline"][-1]["payload"]["previous_rating"] == 2
    body = to_closed(http, number, rating=5)
    assert body["state"] == "closed" and body["close_reason"] == "resolved" and body["rating"] == 5
    assert body["counters"] == {**NO_COUNTS, "reopens": 1}
    assert_chains_intact()


def test_a_request_without_a_token_is_refused(http, world):
    number = report_hotline(http, world)
    assert APIClient().get(f"/api/v1/cases/{number}/").status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert bad.post(f"/api/v1/cases/{number}/actions/accept/", {}, format="json").status_code == 401
