"""The command console's pages and fragments with Django's client: buckets and their counts, the worklist sorted by
time to breach, filters (bad ones reported, not a 500), the detail with everything it shows, actions through
case_act with refusals in place, bulk with per-case results, the contact view logged, saved filters — and the area
scope on every one of them (a case outside the area is the 403 page)."""
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from dispatch.models import RoutingRule, StageClock
from events.models import Case, ContactView
from tests.events.conftest import act, file_hotline, file_patrol
from web.models import SavedFilter

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def dispatcher(client, world):
    client.force_login(world.dispatcher)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def numbers(response) -> list[str]:
    return [row.case.number for row in response.context["rows"]]


def test_console_page_shows_buckets_list_map_and_empty_detail(dispatcher, world):
    new = file_hotline(world)
    patrol = file_patrol(world)  # accepted on filing: awaiting dispatch
    response = dispatcher.get("/console/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="worklist"' in page and 'id="console-map"' in page and 'id="detail"' in page
    assert 'data-map-parent="990101001"' in page and "/static/web/console.js" in page
    counts = {b["name"]: b["count"] for b in response.context["buckets"]}
    assert counts == {"all": 2, "new": 1, "awaiting_dispatch": 1, "returned": 0, "due_soon": 0, "overdue": 0}
    assert set(numbers(response)) == {new.number, patrol.number}
    assert "<script>" not in page and " style=" not in page and " onclick=" not in page


def test_worklist_sorted_by_time_to_breach_paused_last_and_any_column(dispatcher, world):
    first, second, third = file_hotline(world), file_hotline(world), file_hotline(world)
    now = timezone.now()
    StageClock.objects.filter(case=first, finished_at=None).update(deadline=now + timedelta(hours=5))
    StageClock.objects.filter(case=second, finished_at=None).update(deadline=now - timedelta(hours=1), light="red")
    StageClock.objects.filter(case=third, finished_at=None).update(deadline=now - timedelta(hours=9),
                                                                   paused_at=now - timedelta(hours=10))
    response = dispatcher.get("/console/")
    assert numbers(response) == [second.number, first.number, third.number]
    words = {row.case.number: (row.light, row.time_left) for row in response.context["rows"]}
    assert words[second.number][0] == "red" and "overdue" in words[second.number][1]
    assert words[first.number][0] == "green" and "left" in words[first.number][1]
    assert words[third.number][0] == "paused" and "paused" in words[third.number][1]
    assert numbers(dispatcher.get("/console/?sort=-number")) == sorted(numbers(response), reverse=True)
    assert numbers(dispatcher.get("/console/?bucket=overdue")) == [second.number]
    assert dispatcher.get("/console/").context["buckets"][-1]["count"] == 1  # overdue


def test_worklist_fragment_for_htmx_and_filters(dispatcher, world):
    hotline = file_hotline(world, description="井盖丢失")
    file_patrol(world)
    fragment = dispatcher.get("/console/?q=井盖", HTTP_HX_TARGET="worklist", **HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()
    assert numbers(fragment) == [hotline.number]
    assert numbers(dispatcher.get("/console/?channel=patrol")) != [hotline.number]
    assert numbers(dispatcher.get(f"/console/?region={world.grid}&state=reported")) == [hotline.number]
    assert numbers(dispatcher.get("/console/?major=E01")) == numbers(dispatcher.get("/console/?category=E0101"))


@pytest.mark.parametrize("query", ["urgency=loud", "region=abc", "created_from=yesterday", "major=X1",
                                   "created_from=2026-12-09&created_to=2026-12-01", "sort=colour", "page=0"])
def test_bad_filters_are_reported_not_a_500(dispatcher, world, query):
    response = dispatcher.get(f"/console/?{query}")
    assert response.status_code == 200
    assert response.context["form"].errors


def test_detail_shows_timeline_clocks_route_actions_and_reporter_masked(dispatcher, world):
    RoutingRule.objects.create(category=world.category, region=world.regions["990101001"], department=world.dept)
    case = file_hotline(world, category=world.category)
    act(case, "accept", world.dispatcher)
    response = dispatcher.get(f"/console/case/{case.number}/", HTTP_HX_TARGET="detail", **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert "<html" not in page
    assert "138****1234" in page and "13812341234" not in page
    assert [f.name for f in response.context["forms"]] == response.context["allowed"]
    dispatch_form = next(f for f in response.context["forms"] if f.name == "dispatch")
    assert [i.name for i in dispatch_form.inputs] == ["department"]
    assert dispatch_form.inputs[0].value == world.dept.code  # the routing suggestion, preselected
    assert response.context["suggestion"].reason in page
    assert [e.what for e in response.context["timeline"]][:2] == ["reported the problem", "accepted the case (立案)"]
    assert response.context["clocks"] and 'id="detail-points"' in page
    full = dispatcher.get(f"/console/case/{case.number}/")
    assert full.status_code == 200 and 'id="worklist"' in full.content.decode()


def test_case_outside_my_area_is_a_403_page_everywhere(client, world):
    case = file_hotline(world)
    client.force_login(world.dispatcher_b)
    for response in (client.get(f"/console/case/{case.number}/"),
                     client.get(f"/console/case/{case.number}/", HTTP_HX_TARGET="detail", **HTMX),
                     client.post(f"/console/case/{case.number}/act/accept/"),
                     client.post(f"/console/case/{case.number}/contact/"),
                     client.get("/console/case/209901010000001/")):
        assert response.status_code == 403
        assert "text/html" in response["Content-Type"] and case.description not in response.content.decode()
    client.post("/console/bulk/", {"action": "accept", "case": [case.number]})
    assert Case.objects.get(pk=case.pk).state == "reported"


def test_accepting_a_report_without_category_asks_for_one(dispatcher, world):
    case = file_hotline(world)
    detail = dispatcher.get(f"/console/case/{case.number}/", HTTP_HX_TARGET="detail", **HTMX)
    accept = next(f for f in detail.context["forms"] if f.name == "accept")
    assert [i.name for i in accept.inputs] == ["category"] and accept.inputs[0].choices
    refused = dispatcher.post(f"/console/case/{case.number}/act/accept/", {"category": ""}, **HTMX)
    assert refused.status_code == 400 and "category" in refused.content.decode()
    done = dispatcher.post(f"/console/case/{case.number}/act/accept/", {"category": "E0101"}, **HTMX)
    assert done.status_code == 200 and Case.objects.get(pk=case.pk).category.code == "E0101"


def test_action_through_case_act_and_the_refusal_in_place(dispatcher, world):
    case = file_hotline(world, category=world.category)
    done = dispatcher.post(f"/console/case/{case.number}/act/accept/", **HTMX)
    assert done.status_code == 200 and "caseActed" in done["HX-Trigger"]
    assert Case.objects.get(pk=case.pk).state == "accepted"
    missing = dispatcher.post(f"/console/case/{case.number}/act/dispatch/", {"department": ""}, **HTMX)
    assert missing.status_code == 400 and "department" in missing.content.decode()
    wrong = dispatcher.post(f"/console/case/{case.number}/act/reject/", {"reason": "重复"}, **HTMX)
    assert wrong.status_code == 409
    assert "cannot reject" in wrong.content.decode() and 'role="alert"' in wrong.content.decode()
    unknown_dept = dispatcher.post(f"/console/case/{case.number}/act/dispatch/", {"department": "nope"}, **HTMX)
    assert unknown_dept.status_code in (400, 404, 422) and Case.objects.get(pk=case.pk).state == "accepted"
    assert dispatcher.post(f"/console/case/{case.number}/act/fly/").status_code == 404
    plain = dispatcher.post(f"/console/case/{case.number}/act/dispatch/", {"department": world.dept.code})
    assert plain.status_code == 302 and Case.objects.get(pk=case.pk).state == "dispatched"


def test_bulk_dispatch_reports_each_case(dispatcher, world):
    ready = [file_patrol(world), file_patrol(world)]
    new = file_hotline(world)  # not accepted yet: dispatch is refused
    response = dispatcher.post("/console/bulk/", {"action": "dispatch", "department": world.dept.code,
                                                  "case": [c.number for c in ready] + [new.number]}, **HTMX)
    assert response.status_code == 200
    results = {number: ok for number, ok, _message in response.context["results"]}
    assert results == {ready[0].number: True, ready[1].number: True, new.number: False}
    assert "cannot dispatch" in response.content.decode()
    assert set(Case.objects.filter(pk__in=[c.pk for c in ready]).values_list("state", flat=True)) == {"dispatched"}
    assert Case.objects.get(pk=new.pk).state == "reported"
    assert dispatcher.post("/console/bulk/", {"action": "dispatch", "case": [new.number]}, **HTMX).status_code == 400
    assert dispatcher.post("/console/bulk/", {"action": "explode", "case": [new.number]}, **HTMX).status_code == 400
    assert dispatcher.post("/console/bulk/", {"action": "accept"}, **HTMX).status_code == 400


def test_show_contact_is_logged(dispatcher, world):
    case = file_hotline(world)
    response = dispatcher.post(f"/console/case/{case.number}/contact/", **HTMX)
    assert response.status_code == 200 and "13812341234" in response.content.decode()
    assert ContactView.objects.filter(case=case, user=world.dispatcher).count() == 1


def test_merge_into_a_duplicate(dispatcher, world):
    keep, repeat = file_hotline(world, category=world.category), file_hotline(world, category=world.category)
    act(keep, "accept", world.dispatcher)
    detail = dispatcher.get(f"/console/case/{repeat.number}/", HTTP_HX_TARGET="detail", **HTMX)
    assert [d.case.number for d in detail.context["duplicates"]] == [keep.number]
    assert f'name="target" value="{keep.number}"' in detail.content.decode()
    response = dispatcher.post(f"/console/case/{repeat.number}/act/merge/", {"target": keep.number}, **HTMX)
    assert response.status_code == 200
    repeat = Case.objects.get(pk=repeat.pk)
    assert repeat.state == "merged" and repeat.merged_into_id == keep.pk


def test_saved_filters(dispatcher, world):
    response = dispatcher.post("/console/filters/", {"name": "逾期", "query": "bucket=overdue&channel=hotline"})
    assert response.status_code == 302 and response["Location"] == "/console/?bucket=overdue&channel=hotline"
    saved = SavedFilter.objects.get(user=world.dispatcher)
    assert saved.query == "bucket=overdue&channel=hotline"
    dispatcher.post("/console/filters/", {"name": "逾期", "query": "bucket=new"})
    assert SavedFilter.objects.get(user=world.dispatcher).query == "bucket=new"
    page = dispatcher.get("/console/").content.decode()
    assert "/console/?bucket=new" in page and "逾期" in page
    assert dispatcher.post("/console/filters/", {"name": " ", "query": "x=1"}).status_code == 302
    assert SavedFilter.objects.count() == 1
    other = SavedFilter.objects.create(user=world.dispatcher_b, name="b", query="", created_at=timezone.now())
    dispatcher.post(f"/console/filters/{other.pk}/delete/")
    assert SavedFilter.objects.filter(pk=other.pk).exists()
    dispatcher.post(f"/console/filters/{saved.pk}/delete/")
    assert not SavedFilter.objects.filter(pk=saved.pk).exists()


def test_forms_need_csrf(world):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.dispatcher)
    case = file_hotline(world)
    assert client.post(f"/console/case/{case.number}/act/accept/").status_code == 403
    assert Case.objects.get(pk=case.pk).state == "reported"


def test_times_move_with_the_clock(dispatcher, world):
    case = file_hotline(world)
    with time_machine.travel(timezone.now() + timedelta(days=5)):
        row = dispatcher.get("/console/").context["rows"][0]
    assert row.case.number == case.number and "overdue" in row.time_left


def test_the_polled_worklist_fragment_revalidates_with_an_etag(dispatcher, world):
    file_hotline(world)
    headers = {"HTTP_HX_TARGET": "worklist", **HTMX}
    first = dispatcher.get("/console/", **headers)
    assert first.status_code == 200 and first["ETag"]
    assert dispatcher.get("/console/", HTTP_IF_NONE_MATCH=first["ETag"], **headers).status_code == 304
    file_hotline(world, description="新的一件")
    assert dispatcher.get("/console/", HTTP_IF_NONE_MATCH=first["ETag"], **headers).status_code == 200
