"""立案 by hand per category (Category.manual_accept): grid workers' reports of such a category wait for a dispatcher
(受理员) instead of being accepted on filing; the other categories keep the auto-accept rule."""

import pytest

from dispatch.models import StageClock
from events.models import CaseState, Category
from tests.conftest import client_for
from tests.events.conftest import act, file_patrol, photo

pytestmark = pytest.mark.django_db


def test_a_patrol_report_of_a_manual_accept_category_waits_for_the_dispatcher(world):
    Category.objects.filter(code="E0101").update(manual_accept=True)
    world.category.refresh_from_db()
    case = file_patrol(world)
    assert case.state == CaseState.REPORTED
    assert [e.kind for e in case.events.order_by("seq")] == ["reported"]
    assert StageClock.objects.get(case=case, finished_at__isnull=True).stage == "accept"
    case = act(case, "accept", world.dispatcher)
    assert case.state == CaseState.ACCEPTED and case.events.get(kind="accept").actor_kind == "user"
    # another category: accepted on filing by rule, as before
    other = file_patrol(world, category=Category.objects.get(code="E0102"))
    assert other.state == CaseState.ACCEPTED
    assert other.events.get(kind="accept").actor_ref == "rule:auto_accept_patrol"


def test_over_http_the_report_waits_and_the_category_says_so(world):
    Category.objects.filter(code="E0101").update(manual_accept=True)
    lat, lng = world.point
    response = client_for(world.worker).post("/api/v1/cases/", {
        "channel": "patrol", "description": "疑似违章搭建", "lat": lat, "lng": lng, "category": "E0101",
        "photos": [photo()]}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["state"] == "reported"
    detail = client_for(world.dispatcher).get(f"/api/v1/cases/{response.json()['number']}/").json()
    assert "accept" in detail["allowed_actions"]
    categories = {c["code"]: c for c in client_for(world.worker).get("/api/v1/categories/").json()}
    assert (categories["E0101"]["manual_accept"], categories["E0102"]["manual_accept"]) == (True, False)
