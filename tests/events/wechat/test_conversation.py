"""The guided report, free text, queries, retries, expiry and restart survival."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from events.actors import citizen_key
from events.models import (
    Case,
    CaseState,
    Channel,
    CommandLevel,
    InboundReport,
    WeChatConversation,
    WeChatMessage,
    WeChatPhoto,
)
from events.wechat.services import wechat_sweep
from tests.conftest import client_for, english
from tests.events.conftest import act

from .conftest import Citizen, message_xml

pytestmark = pytest.mark.django_db


def report_step_by_step(citizen: Citizen, world, *, photos=("m-1", "m-2"), description="人行道上井盖丢了"):
    lat, lng = world.point
    assert "Step 1 of 3" in citizen.text("上报")
    assert "Step 2 of 3" in citizen.location(lat, lng, label="测试路 1 号")
    for index, media_id in enumerate(photos, 1):
        assert f"Photo {index} received" in citizen.image(media_id)
    assert "Step 3 of 3" in citizen.text("好了")
    return citizen.text(description)


def test_a_guided_report_files_a_located_case_with_the_citizen_and_queues_its_photos(world, citizen):
    reply = report_step_by_step(citizen, world)
    case = Case.objects.get()
    assert f"case {case.number}" in reply and f"查询 {case.number}" in reply
    assert (case.channel, case.state, case.unstructured) == (Channel.WECHAT, CaseState.REPORTED, False)
    assert case.grid.code == world.grid and case.level == CommandLevel.STREET and case.address == "测试路 1 号"
    assert case.description == "人行道上井盖丢了" and case.category is None
    assert case.citizen_key == citizen_key(openid=citizen.openid)
    report = InboundReport.objects.get(case=case)
    assert report.citizen_openid == citizen.openid and report.channel == "wechat"
    assert [m["media_id"] for m in report.raw_payload["wechat"]["media"]] == ["m-1", "m-2"]
    assert list(WeChatPhoto.objects.values_list("media_id", "state")) == [("m-1", "pending"), ("m-2", "pending")]
    assert not WeChatConversation.objects.exists()
    assert WeChatMessage.objects.filter(case=case).count() == 1


def test_the_menu_button_starts_a_report_and_safe_mode_works_throughout(world):
    citizen = Citizen("oWX-menu", safe=True)
    assert "Step 1 of 3" in citizen.click("REPORT")
    lat, lng = world.point
    citizen.location(lat, lng)
    assert "Step 3 of 3" in citizen.text("无")
    assert "filed as case" in citizen.text("路灯不亮")
    assert Case.objects.get().lat == lat


def test_text_at_the_photo_step_is_the_description(world, citizen):
    citizen.text("上报")
    citizen.location(*world.point)
    citizen.image("m-9")
    assert "filed as case" in citizen.text("垃圾桶满了，两天没人清")
    assert Case.objects.get().description == "垃圾桶满了，两天没人清"


def test_a_photo_or_a_location_outside_a_dialogue_starts_one(world, citizen):
    assert "Photo received" in citizen.image("m-first")
    assert WeChatConversation.objects.get().step == "location"
    assert "Step 2 of 3" in citizen.location(*world.point)
    citizen.text("好了")
    citizen.text("乱堆放")
    assert list(WeChatPhoto.objects.values_list("media_id", flat=True)) == ["m-first"]
    other = Citizen("oWX-other")
    assert "Step 2 of 3" in other.location(*world.point)


def test_a_place_in_words_naming_a_street_is_placed_in_that_street(world, citizen):
    citizen.text("上报")
    assert "Place noted" in citizen.text("街道1002 菜市场门口")
    citizen.text("无")
    citizen.text("占道经营")
    case = Case.objects.get()
    assert (case.region_code, case.street.code, case.unstructured, case.grid) == ("990101002", "990101002", False, None)
    assert "街道1002 菜市场门口" in case.description and case.address == "街道1002 菜市场门口"


def test_a_place_in_words_that_names_nothing_known_becomes_an_unstructured_report(world, citizen):
    citizen.text("上报")
    citizen.text("老电影院后面那条小巷")
    citizen.text("无")
    reply = citizen.text("污水外溢")
    case = Case.objects.get()
    assert "staff will confirm the place" in reply and case.number in reply
    assert case.unstructured and case.level == CommandLevel.CITY and case.region_code == "990100"
    assert case.street is None and case.district is None and case.lat is None


def test_free_text_outside_a_dialogue_is_filed_at_once_as_unstructured(world, citizen):
    reply = citizen.text("小区门口的路灯已经坏了一个星期了")
    case = Case.objects.get()
    assert case.unstructured and case.category is None and case.description == "小区门口的路灯已经坏了一个星期了"
    assert case.number in reply and "上报" in reply


def test_a_voice_message_is_used_by_its_recognition_or_filed_as_is(world, citizen):
    citizen.send("voice", MediaId="v-1", Format="amr", Recognition="我要上报")
    assert WeChatConversation.objects.get().step == "location"
    other = Citizen("oWX-voice")
    assert "filed as case" in other.send("voice", MediaId="v-2", Format="amr")
    report = InboundReport.objects.get()
    assert report.raw_payload["wechat"]["voice_media_id"] == "v-2" and "voice message" in report.description


def test_the_intake_center_comes_from_the_setting(world, citizen, settings):
    settings.GRIDLOOP_WECHAT_INTAKE_REGION = "990101"
    citizen.text("井盖坏了")
    case = Case.objects.get()
    assert (case.level, case.region_code, case.district.code) == (CommandLevel.DISTRICT, "990101", "990101")


def test_without_an_intake_center_the_message_is_kept_and_the_citizen_told(world, citizen, settings):
    settings.GRIDLOOP_WECHAT_INTAKE_REGION = "990101001001"  # a community: not a command center
    assert "could not be handled" in citizen.text("井盖坏了")
    assert not Case.objects.exists() and WeChatMessage.objects.get().payload["Content"] == "井盖坏了"


def test_a_location_outside_the_service_area_is_refused_and_asked_again(world, citizen):
    citizen.text("上报")
    assert "outside our service area" in citizen.location(10.0, 10.0)
    assert WeChatConversation.objects.get().step == "location" and not Case.objects.exists()


def test_cancel_drops_the_draft_and_starting_twice_keeps_it(world, citizen):
    citizen.text("上报")
    citizen.location(*world.point)
    assert "already reporting" in citizen.text("上报") and WeChatConversation.objects.get().step == "photos"
    assert "cancelled" in citizen.text("取消")
    assert not WeChatConversation.objects.exists() and not Case.objects.exists()
    assert "上报" in citizen.text("取消")  # nothing to cancel: the help


def test_more_than_nine_photos_are_kept_but_not_attached(world, citizen):
    citizen.text("上报")
    citizen.location(*world.point)
    for n in range(9):
        citizen.image(f"m-{n}")
    assert "At most 9 photos" in citizen.image("m-extra")
    citizen.text("好了")
    citizen.text("大量垃圾")
    assert WeChatPhoto.objects.count() == 9
    assert InboundReport.objects.get().raw_payload["wechat"]["extra_media"] == ["m-extra"]


# --- Retries ------------------------------------------------------------------------------------------------------------
def test_retries_of_a_message_file_exactly_one_report_and_get_the_same_reply(world, citizen):
    citizen.text("上报")
    citizen.location(*world.point)
    citizen.text("无")
    xml = message_xml(citizen.openid, "text", Content="井盖丢了")
    replies = {citizen.reply_of(citizen.send_xml(xml)) for _ in range(4)}  # the first delivery and 3 retries
    assert len(replies) == 1 and Case.objects.count() == 1 and InboundReport.objects.count() == 1
    assert WeChatMessage.objects.filter(payload__Content="井盖丢了").count() == 1


def test_retries_of_free_text_and_of_events_are_one(world, citizen):
    xml = message_xml(citizen.openid, "text", Content="路面塌陷")
    for _ in range(4):
        citizen.send_xml(xml)
    assert Case.objects.count() == 1
    click = message_xml(citizen.openid, "event", create_time=1_791_000_000, Event="CLICK", EventKey="REPORT")
    for _ in range(4):
        assert "Step 1 of 3" in citizen.reply_of(citizen.send_xml(click))
    assert WeChatMessage.objects.filter(msg_type="event").count() == 1


def test_the_same_msgid_in_safe_mode_and_plaintext_is_still_one_message(world):
    xml = message_xml("oWX-mixed", "text", msg_id=424242, Content="噪音扰民")
    Citizen("oWX-mixed", safe=True).send_xml(xml)
    Citizen("oWX-mixed").send_xml(xml)
    assert Case.objects.count() == 1


# --- Expiry and restarts ------------------------------------------------------------------------------------------------
def test_the_dialogue_lives_in_the_database_and_continues_after_a_restart(world, citizen):
    citizen.text("上报")
    citizen.location(*world.point)
    row = WeChatConversation.objects.get()
    assert row.step == "photos" and row.draft["lat"] == world.point[0]
    cache.clear()  # no process memory is involved: a new process finds the same row
    fresh = Citizen(citizen.openid)
    fresh.client = Client()
    assert "Step 3 of 3" in fresh.text("好了")
    assert "filed as case" in fresh.text("树倒了")


def test_an_expired_draft_is_filed_when_the_citizen_writes_again(world, citizen, settings):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        citizen.text("上报")
        citizen.location(*world.point)
        citizen.image("m-old")
        clock.shift(timedelta(minutes=settings.GRIDLOOP_WECHAT_CONVERSATION_MINUTES + 1))
        reply = citizen.text("我的")
    case = Case.objects.get()
    assert f"unfinished report was filed as case {case.number}" in reply and case.number in reply.split("\n")[-1]
    assert case.grid.code == world.grid and "no description" in case.description
    assert WeChatPhoto.objects.get().media_id == "m-old" and not WeChatConversation.objects.exists()


def test_the_sweep_files_expired_drafts_and_drops_empty_ones(world, citizen, settings):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        citizen.text("上报")
        citizen.location(*world.point)
        Citizen("oWX-empty").text("上报")  # started, nothing sent
        clock.shift(timedelta(minutes=settings.GRIDLOOP_WECHAT_CONVERSATION_MINUTES - 1))
        assert wechat_sweep()["filed"] == 0
        clock.shift(timedelta(minutes=2))
        assert wechat_sweep()["filed"] == 1
        assert wechat_sweep()["filed"] == 0
    assert Case.objects.count() == 1 and not WeChatConversation.objects.exists()


# --- Queries ------------------------------------------------------------------------------------------------------------
def test_query_answers_in_plain_words_only_for_ones_own_cases(world, citizen):
    report_step_by_step(citizen, world, photos=())
    case = Case.objects.get()
    assert citizen.text(f"查询 {case.number}") == f"Case {case.number}: received, waiting to be accepted"
    assert "No case" in Citizen("oWX-stranger").text(f"查询 {case.number}")
    assert "查询" in citizen.text("查询")
    act(case, "request_field_check", world.dispatcher)
    case = act(case, "accept", world.dispatcher, category="E0101")
    case = act(case, "dispatch", world.dispatcher, department=world.dept.code)
    assert world.dept.name in citizen.text(f"查询{case.number}")
    assert world.dept.name in citizen.click("QUERY")


def test_my_cases_lists_the_citizens_reports_newest_first(world, citizen):
    assert "not reported anything" in citizen.text("我的")
    citizen.text("第一件事：路灯坏了")
    citizen.text("第二件事：井盖丢了")
    numbers = list(Case.objects.order_by("-number").values_list("number", flat=True))
    lines = citizen.click("MY_CASES").split("\n")
    assert lines[0].startswith("Your reports") and [line.split(" ")[0] for line in lines[1:]] == numbers
    assert Citizen("oWX-someone").text("我的").startswith("You have not")


def test_a_rejected_case_says_why(world, citizen):
    citizen.text("不是城管的事")
    case = Case.objects.get()
    act(case, "reject", world.city_dispatcher, reason="不属于受理范围")
    assert "not accepted: 不属于受理范围" in citizen.text(f"查询 {case.number}")


# --- The dispatcher completes an unstructured report --------------------------------------------------------------------
def test_an_unstructured_report_is_accepted_only_with_a_location_inside_the_center(world, citizen):
    citizen.text("桥下积水很深")
    case = Case.objects.get()
    api = client_for(world.city_dispatcher)
    detail = api.get(f"/api/v1/cases/{case.number}/").json()
    assert detail["unstructured"] is True and detail["street"] is None and "accept" in detail["allowed_actions"]
    url = f"/api/v1/cases/{case.number}/actions/accept/"
    missing = api.post(url, {"category": "E0101"}, format="json")
    assert missing.status_code == 400 and "lat" in missing.json()["fields"]
    outside = api.post(url, {"category": "E0101", "lat": 10.0, "lng": 10.0}, format="json")
    assert outside.status_code == 422
    bad_region = api.post(url, {"category": "E0101", "region_code": "990101"}, format="json")
    assert bad_region.status_code == 400 and "region_code" in bad_region.json()["fields"]
    assert client_for(world.dispatcher).post(url, {"category": "E0101", "region_code": world.grid},
                                             format="json").status_code in (403, 404)
    lat, lng = world.point
    done = api.post(url, {"category": "E0101", "lat": lat, "lng": lng, "address": "桥洞下"}, format="json")
    assert done.status_code == 200, done.json()
    assert done.json()["state"] == "accepted"
    body = api.get(f"/api/v1/cases/{case.number}/").json()
    assert body["state"] == "accepted" and body["unstructured"] is False and body["grid"]["code"] == world.grid
    assert body["street"]["code"] == "990101001" and body["address"] == "桥洞下"
    accept_event = [e for e in body["timeline"] if e["kind"] == "accept"][0]
    assert accept_event["payload"]["location"]["region_code"] == world.grid


def test_a_district_center_cannot_place_a_report_in_another_district(world, citizen, settings):
    settings.GRIDLOOP_WECHAT_INTAKE_REGION = "990102"
    citizen.text("树枝挡路")
    case = Case.objects.get()
    west = __import__("tests.factories", fromlist=["make_user"]).make_user(
        "west_dispatcher", ("dispatcher", world.regions["990102"]))
    answer = english(client_for(west)).post(f"/api/v1/cases/{case.number}/actions/accept/",
                                            {"category": "E0101", "region_code": "990101001"}, format="json")
    assert answer.status_code == 400 and "outside the area" in answer.json()["detail"]
    answer = client_for(west).post(f"/api/v1/cases/{case.number}/actions/accept/",
                                   {"category": "E0101", "region_code": "990102001"}, format="json")
    assert answer.status_code == 200 and answer.json()["state"] == "accepted"
    assert client_for(west).get(f"/api/v1/cases/{case.number}/").json()["street"]["code"] == "990102001"


def test_only_citizen_channels_may_file_unstructured_reports(world):
    from config.errors import InvalidInput
    from events.actors import Actor
    from events.services import ReportInput, case_report

    for channel, region in (("patrol", "990100"), ("hotline", "990101001001")):
        with pytest.raises(InvalidInput):
            case_report(actor=Actor.staff(world.operator if channel == "hotline" else world.worker),
                        data=ReportInput(channel=channel, description="x", region_code=region, unstructured=True))


# --- A filing whose request died --------------------------------------------------------------------------------------
def _dies_once(monkeypatch):
    from events.wechat import conversation

    real, calls = conversation._report_file, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("worker killed while filing")
        return real(*args, **kwargs)

    monkeypatch.setattr(conversation, "_report_file", flaky)
    return calls


def test_a_retry_completes_a_filing_the_first_delivery_did_not_finish(world, citizen, monkeypatch):
    calls = _dies_once(monkeypatch)
    citizen.text("上报")
    citizen.location(*world.point)
    citizen.text("无")
    xml = message_xml(citizen.openid, "text", Content="消防栓漏水")
    assert "busy" in citizen.reply_of(citizen.send_xml(xml))  # the first delivery died after recording the message
    assert not Case.objects.exists() and not WeChatConversation.objects.exists()
    assert WeChatMessage.objects.get(payload__Content="消防栓漏水").filing["filings"][0]["draft"]["description"] == "消防栓漏水"
    reply = citizen.reply_of(citizen.send_xml(xml))  # WeChat's retry
    case = Case.objects.get()
    assert case.number in reply and case.description == "消防栓漏水" and len(calls) == 2
    assert citizen.reply_of(citizen.send_xml(xml)) == reply and Case.objects.count() == 1
    row = WeChatMessage.objects.get(payload__Content="消防栓漏水")
    assert row.filing == {} and row.case == case


def test_the_sweep_completes_a_filing_nobody_retried(world, citizen, monkeypatch):
    _dies_once(monkeypatch)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        assert "busy" in citizen.text("占道施工无围挡")
        clock.shift(timedelta(seconds=30))
        wechat_sweep()
        assert not Case.objects.exists()  # too fresh: its own request may still be at it
        clock.shift(timedelta(minutes=1))
        assert wechat_sweep()["filed"] == 1
    case = Case.objects.get()
    assert case.unstructured and WeChatMessage.objects.get().case == case
