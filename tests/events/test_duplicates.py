"""Duplicate detection: who counts as a candidate (category or class, radius, window, open), sensors joining an
open case, suggestions on intake and over the API (within scope), and merged reporters told when the main case
closes."""

import math
import random
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from dispatch.models import OutboxMessage
from events.actors import Actor
from events.duplicates import EARTH_RADIUS_M, distance_m, duplicate_candidates, nearby_lock_keys
from events.integrity import chain_verify
from events.models import Case, CaseState, Category, Channel
from events.services import ReportInput, case_report
from tests.conftest import client_for
from tests.events.conftest import act, file_hotline, photo

pytestmark = pytest.mark.django_db

M_PER_DEG_LAT = 111_195.0


def north(point, metres):
    lat, lng = point
    return lat + metres / M_PER_DEG_LAT, lng


def file_sensor(w, point, category, **overrides):
    lat, lng = point
    data = ReportInput(channel=Channel.SENSOR, description="积水 0.2 m", lat=lat, lng=lng, category=category,
                       urgency="urgent", raw_payload={"device": "wl-1"})
    for key, value in overrides.items():
        setattr(data, key, value)
    return case_report(actor=Actor.system("sensor:wl-1"), data=data)


def reported_payload(case):
    return case.events.get(seq=1).payload


def test_distance_is_the_great_circle_distance():
    assert distance_m(30.0, 120.0, 30.0, 120.0) == 0
    assert distance_m(30.0, 120.0, 30.001, 120.0) == pytest.approx(111.2, abs=0.2)
    assert distance_m(0.0, 120.0, 0.0, 120.001) == pytest.approx(111.2, abs=0.2)


def test_a_hotline_report_near_an_open_case_of_the_same_category_lists_it(world):
    first = file_hotline(world, category=world.category)
    second = file_hotline(world, category=world.category, lat=north(world.point, 60)[0])
    assert reported_payload(second)["possible_duplicates"] == [first.number]
    assert "possible_duplicates" not in reported_payload(first)
    assert Case.objects.count() == 2  # people's reports are only suggested, never merged by themselves


def test_candidates_come_nearest_first_and_same_category_before_same_class(world):
    same_class = Category.objects.filter(kind=world.category.kind, major_code=world.category.major_code) \
        .exclude(pk=world.category.pk).first()
    other_class = Category.objects.exclude(major_code=world.category.major_code).first()
    near_class = file_hotline(world, category=same_class, lat=north(world.point, 10)[0])
    far_same = file_hotline(world, category=world.category, lat=north(world.point, 80)[0])
    near_same = file_hotline(world, category=world.category, lat=north(world.point, 40)[0])
    file_hotline(world, category=other_class, lat=north(world.point, 5)[0])
    found = duplicate_candidates(lat=world.point[0], lng=world.point[1], category=world.category,
                                 now=timezone.now())
    assert [c.case.number for c in found] == [near_same.number, far_same.number, near_class.number]
    assert [c.same_category for c in found] == [True, True, False]
    assert found[0].distance_m == pytest.approx(40, abs=0.5)


def test_the_radius_is_the_categorys_own(world):
    file_hotline(world, category=world.category, lat=north(world.point, 250)[0])
    lat, lng = world.point
    assert duplicate_candidates(lat=lat, lng=lng, category=world.category, now=timezone.now()) == []
    world.category.duplicate_radius_m = 300
    world.category.save()
    assert len(duplicate_candidates(lat=lat, lng=lng, category=world.category, now=timezone.now())) == 1


def test_a_report_without_a_category_matches_any_category_within_the_default_radius(world, settings):
    settings.GRIDLOOP_DUPLICATE_RADIUS_M = 100
    near = file_hotline(world, category=world.category, lat=north(world.point, 90)[0])
    file_hotline(world, category=world.category, lat=north(world.point, 150)[0])
    lat, lng = world.point
    assert [c.case.number for c in duplicate_candidates(lat=lat, lng=lng, category=None, now=timezone.now())] == [
        near.number]


def test_cases_older_than_the_window_or_ended_are_not_candidates(world):
    with time_machine.travel(timezone.now() - timedelta(hours=world.category.duplicate_window_hours + 1)):
        file_hotline(world, category=world.category)
    ended = file_hotline(world, category=world.category)
    act(ended, "reject", world.dispatcher, reason="不属于城管问题")
    keeper = file_hotline(world, category=world.category)
    merged = file_hotline(world, category=world.category)
    act(merged, "merge", world.dispatcher, target=keeper.number)
    lat, lng = world.point
    found = duplicate_candidates(lat=lat, lng=lng, category=world.category, now=timezone.now())
    assert [c.case.number for c in found] == [keeper.number]


def test_a_report_without_a_point_has_no_candidates(world):
    assert duplicate_candidates(lat=None, lng=None, category=world.category, now=timezone.now()) == []


def test_a_sensor_report_joins_the_open_case_of_its_category_instead_of_opening_another(world):
    first = file_hotline(world, category=world.category)
    case, created = file_sensor(world, north(world.point, 30), world.category)
    assert created is False and case.pk == first.pk
    assert Case.objects.count() == 1
    assert list(case.reports.order_by("id").values_list("channel", flat=True)) == ["hotline", "sensor"]
    event = case.events.order_by("-seq").first()
    assert (event.kind, event.actor_kind, event.from_state, event.to_state) == (
        "report_added", "system", CaseState.REPORTED, CaseState.REPORTED)
    assert event.payload["distance_m"] == pytest.approx(30, abs=0.5)
    assert chain_verify(Case.objects.get(pk=case.pk)) is None


def test_a_sensor_report_with_photos_keeps_them_on_the_joined_case(world):
    first = file_hotline(world, category=world.category)
    case, _ = file_sensor(world, world.point, world.category, photos=[photo()])
    assert case.pk == first.pk
    event = case.events.order_by("-seq").first()
    assert list(case.attachments.values_list("event_seq", flat=True)) == [event.seq]
    assert event.payload["photos"] == list(case.attachments.values_list("id", flat=True))


def test_a_sensor_report_of_another_category_or_far_away_opens_its_own_case(world):
    other = Category.objects.exclude(major_code=world.category.major_code).first()
    file_hotline(world, category=world.category)
    _, created_other = file_sensor(world, world.point, other)
    _, created_far = file_sensor(world, north(world.point, 500), world.category)
    assert created_other and created_far
    assert Case.objects.count() == 3


def test_the_api_lists_candidates_within_the_callers_area(world):
    first = file_hotline(world, category=world.category)
    second = file_hotline(world, category=world.category, lat=north(world.point, 20)[0])
    response = client_for(world.dispatcher).get(f"/api/v1/cases/{second.number}/duplicates/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(row["number"], row["same_category"]) for row in body] == [(first.number, True)]
    assert body[0]["distance_m"] == pytest.approx(20, abs=0.5)
    assert body[0]["category"]["code"] == world.category.code
    # The neighbouring street's dispatcher does not see the case at all.
    assert client_for(world.dispatcher_b).get(f"/api/v1/cases/{second.number}/duplicates/").status_code == 404


def test_a_scope_filter_narrows_the_candidates_and_an_empty_one_finds_nothing(world):
    from django.db.models import Q

    by_operator = file_hotline(world, category=world.category)
    by_other = file_hotline(world, category=world.category, lat=north(world.point, 10)[0])
    Case.objects.filter(pk=by_other.pk).update(reporter=None)
    lat, lng = world.point
    search = lambda within: [c.number for c in duplicate_candidates(  # noqa: E731
        lat=lat, lng=lng, category=world.category, now=timezone.now(), within=within)]
    assert search(Q()) == [by_operator.number, by_other.number]  # (an administrator's scope: no condition)
    assert search(Q(reporter_id=by_operator.reporter_id)) == [by_operator.number]
    assert search(Q(region_code__startswith="nowhere") | Q(department_id__in=[-1])) == []
    assert search(Q(pk__in=[])) == []  # (a user without roles)


def test_merged_reporters_are_told_on_their_own_channel_when_the_main_case_closes(world):
    main = file_hotline(world, category=world.category)
    by_wechat = file_hotline(world, category=world.category, citizen_phone="", citizen_openid="o-wechat-1")
    by_phone = file_hotline(world, category=world.category, citizen_phone="13900001111")
    act(by_wechat, "merge", world.dispatcher, target=main.number)
    act(by_phone, "merge", world.dispatcher, target=main.number)
    case = act(main, "accept", world.dispatcher, category=world.category)
    case = act(case, "dispatch", world.dispatcher, department="s1-huanwei")
    case = act(case, "sign", world.handler)
    case = act(case, "complete", world.handler, note="已处理", photos=[photo()])
    case = act(case, "verify", world.worker, photos=[photo()])
    assert not OutboxMessage.objects.filter(kind="merged_closed").exists()
    case = act(case, "feedback", world.operator, rating=5)
    told = set(OutboxMessage.objects.filter(kind="merged_closed").values_list("channel", "recipient_address"))
    assert told == {("wechat", "o-wechat-1"), ("sms", "13900001111")}
    assert OutboxMessage.objects.get(kind="merged_closed", recipient_address="o-wechat-1").case_id == main.pk


def test_the_radius_is_between_1_and_1000_metres(world):
    world.category.duplicate_radius_m = 1001
    with pytest.raises(ValidationError) as error:
        world.category.full_clean()
    assert "duplicate_radius_m" in error.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        Category.objects.filter(pk=world.category.pk).update(duplicate_radius_m=0)


@pytest.mark.parametrize("radius", [1, 100, 1000])
def test_reports_within_the_radius_share_an_opening_lock_and_reports_far_apart_do_not(world, radius):
    """The keys sensors lock while they open a case (events.services): any two points within the category's radius
    share one, whatever the latitude and the direction; points eight radii apart share none."""
    world.category.duplicate_radius_m = radius
    rng = random.Random(radius)
    checked = 0
    for _ in range(3000):
        lat, lng = rng.uniform(-70, 70), rng.uniform(-179, 179)
        metres, bearing = rng.uniform(0, radius), rng.uniform(0, 2 * math.pi)
        step = metres / EARTH_RADIUS_M
        other = (lat + math.degrees(step * math.cos(bearing)),
                 lng + math.degrees(step * math.sin(bearing)) / math.cos(math.radians(lat)))
        if distance_m(lat, lng, *other) > radius:
            continue
        checked += 1
        keys = set(nearby_lock_keys(lat=lat, lng=lng, category=world.category))
        assert len(keys) <= 4
        assert keys & set(nearby_lock_keys(lat=other[0], lng=other[1], category=world.category)), (lat, lng, other)
        far = math.degrees(8 * radius / EARTH_RADIUS_M)
        assert not keys & set(nearby_lock_keys(lat=lat + far, lng=lng, category=world.category))
        assert not keys & set(nearby_lock_keys(lat=lat, lng=lng + far / math.cos(math.radians(lat)),
                                               category=world.category))
    assert checked > 2500


def test_opening_locks_are_per_category(world):
    lat, lng = world.point
    other = Category.objects.exclude(pk=world.category.pk).first()
    assert not set(nearby_lock_keys(lat=lat, lng=lng, category=world.category)) & set(
        nearby_lock_keys(lat=lat, lng=lng, category=other))


def test_the_timeline_lists_only_the_possible_duplicates_the_reader_may_see(world):
    """Two cases 20 m apart across the street boundary (lng 120.02): street B's dispatcher reads B's case without
    the number of street A's case, as /duplicates/ leaves it out; the city dispatcher sees both."""
    lat = world.point[0]
    in_a = file_hotline(world, category=world.category, lat=lat, lng=120.0199)
    in_b = file_hotline(world, category=world.category, lat=lat, lng=120.0201)
    assert reported_payload(in_b)["possible_duplicates"] == [in_a.number]  # stored as found
    def first_event(user, path):
        body = client_for(user).get(path).json()
        return (body["timeline"] if isinstance(body, dict) else body)[0]

    for path in (f"/api/v1/cases/{in_b.number}/", f"/api/v1/cases/{in_b.number}/events/"):
        assert first_event(world.dispatcher_b, path)["payload"]["possible_duplicates"] == [], path
        assert first_event(world.city_dispatcher, path)["payload"]["possible_duplicates"] == [in_a.number], path
    assert reported_payload(in_b)["possible_duplicates"] == [in_a.number]  # the log itself is untouched
