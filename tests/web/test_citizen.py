"""The citizen page (/c/) without a browser: filing, the private link, look-up by number + phone, what a citizen may
see (and may not), the rating through case_act, the SMS code, rate limits and every bad input."""
import hashlib
import re

import pytest
from django.core.cache import cache
from django.test import Client, override_settings

from dispatch.models import OutboxMessage
from events.models import Case, CaseState, CitizenLink, InboundReport
from tests.events.conftest import act, photo

pytestmark = pytest.mark.django_db

PHONE = "13812345678"


@pytest.fixture(autouse=True)
def fresh_limits():
    cache.clear()
    yield
    cache.clear()


def citizen() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def report_fields(world, **overrides):
    lat, lng = world.point
    fields = {"lat": lat, "lng": lng, "address": "东门口", "category": "E0101", "description": "垃圾没人清",
              "phone": PHONE, "form_key": "k" * 20}
    fields.update(overrides)
    return fields


def file_report(world, client=None, **overrides):
    client = client or citizen()
    response = client.post("/c/report/", report_fields(world, **overrides))
    assert response.status_code == 302, response.content.decode()[:2000]
    token = re.match(r"^/c/t/([\w-]+)/\?new=1$", response["Location"]).group(1)
    return client, token, Case.objects.order_by("-id").first()


def to_verified(world, case):
    act(case, "accept", world.dispatcher)
    act(case, "dispatch", world.dispatcher, department=world.dept.code, note="内部备注：找老王")
    act(case, "sign", world.handler)
    act(case, "complete", world.handler, note="已清理", photos=[photo()])
    return act(case, "verify", world.worker, photos=[photo()])


def test_a_citizen_files_a_report_and_gets_a_private_link(world):
    client, token, case = file_report(world, photo=photo())
    assert case.channel == "web" and case.state == CaseState.REPORTED and case.category.code == "E0101"
    report = InboundReport.objects.get(case=case)
    assert report.citizen_phone == PHONE
    assert report.raw_payload == {"citizen_page": {"phone_confirmed": False}}  # no SMS here: kept unconfirmed
    link = CitizenLink.objects.get(case=case)
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in link.token_hash
    assert len(token) >= 32 and not link.phone_confirmed
    page = client.get(f"/c/t/{token}/?new=1")
    assert page.status_code == 200
    assert case.number in page.content.decode()
    assert "received, waiting to be accepted" in page.content.decode()


def test_a_report_without_a_point_goes_to_the_intake_center(world):
    _client, _token, case = file_report(world, lat="", lng="")
    assert case.unstructured and case.lat is None


def test_the_timeline_shows_no_staff_names_or_internal_notes(world):
    client, token, case = file_report(world)
    to_verified(world, case)
    html = client.get(f"/c/t/{token}/").content.decode()
    assert "Sent to the department that handles it" in html and "Checked on site: handled" in html
    for secret in ("找老王", "dispatcher", "handler", "worker", "已清理"):
        assert secret not in html
    assert "Rate the result" in html
    assert html.count('src="/c/photos/') == 2  # the handler's and the check's photos of the result


def test_a_rating_of_two_closes_the_case_and_flags_it_for_a_supervisor(world):
    client, token, case = file_report(world)
    to_verified(world, case)
    response = client.post(f"/c/t/{token}/", {"rating": "2", "comment": "还是很脏", "form_key": "r" * 20},
                           follow=True)
    assert "a supervisor will look at the case" in response.content.decode()
    case = Case.objects.get(pk=case.pk)
    assert case.state == CaseState.CLOSED and case.rating == 2 and case.reopen_review
    assert case.events.filter(kind="feedback", actor_kind="citizen").count() == 1
    again = client.post(f"/c/t/{token}/", {"rating": "5", "form_key": "s" * 20}, follow=True)
    assert "not waiting for your rating" in again.content.decode()
    assert Case.objects.get(pk=case.pk).rating == 2


@pytest.mark.parametrize("fields", [{"rating": "7"}, {"rating": ""}, {"rating": "x"}])
def test_a_bad_rating_is_refused_and_nothing_changes(world, fields):
    client, token, case = file_report(world)
    to_verified(world, case)
    response = client.post(f"/c/t/{token}/", {**fields, "form_key": "r" * 20})
    assert response.status_code == 400
    assert Case.objects.get(pk=case.pk).state == CaseState.VERIFIED


def test_another_citizen_cannot_see_a_case_by_changing_the_number_or_the_token(world):
    mine, token, case = file_report(world)
    _other_client, other_token, other = file_report(world, phone="13900001111", form_key="o" * 20)
    assert mine.get(f"/c/case/{case.number}/").status_code == 200
    assert mine.get(f"/c/case/{other.number}/").status_code == 404
    assert mine.get(f"/c/t/{token[:-1]}{'A' if token[-1] != 'A' else 'B'}/").status_code == 404
    stranger = citizen()
    assert stranger.get(f"/c/case/{case.number}/").status_code == 404
    assert stranger.get(f"/c/t/{other_token}x/").status_code == 404
    to_verified(world, other)
    other_photo = other.attachments.filter(kind="after").get()
    assert mine.get(f"/c/photos/{other_photo.pk}/").status_code == 404
    assert _other_client.get(f"/c/photos/{other_photo.pk}/").status_code == 200


def test_look_up_by_number_and_phone(world):
    _client, _token, case = file_report(world)
    visitor = citizen()
    wrong = visitor.post("/c/find/", {"number": case.number, "phone": "13900001111"})
    assert wrong.status_code == 400 and "No case matches" in wrong.content.decode()
    assert visitor.get(f"/c/case/{case.number}/").status_code == 404
    right = visitor.post("/c/find/", {"number": case.number, "phone": "+86 138 1234 5678"})
    assert right.status_code == 302 and right["Location"] == f"/c/case/{case.number}/"
    assert visitor.get(f"/c/case/{case.number}/").status_code == 200


def test_look_ups_are_limited_per_network(world):
    visitor = citizen()
    for _ in range(20):
        visitor.post("/c/find/", {"number": "1", "phone": PHONE})
    response = visitor.post("/c/find/", {"number": "1", "phone": PHONE})
    assert "Too many look-ups" in response.content.decode()


def test_reports_are_limited_per_phone(world):
    for n in range(5):
        file_report(world, form_key=f"key-{n:020d}")
    response = citizen().post("/c/report/", report_fields(world, form_key="z" * 20))
    assert response.status_code == 400 and "Too many reports" in response.content.decode()
    assert Case.objects.count() == 5


def test_the_same_form_sent_twice_files_one_case(world):
    client = citizen()
    file_report(world, client=client)
    file_report(world, client=client)
    assert Case.objects.count() == 1


@pytest.mark.parametrize("overrides, message", [
    ({"description": ""}, "This field is required"),
    ({"lat": "", "lng": "", "address": ""}, "Tell us where it is"),
    ({"phone": "12345"}, "11 digits"),
    ({"category": "Z9999"}, "Select a valid choice"),
    ({"lat": "1.0", "lng": "1.0"}, "outside the service area"),
    ({"lat": "95", "lng": "1.0"}, "less than or equal to 90"),
])
def test_bad_input_is_named_and_nothing_is_filed(world, overrides, message):
    response = citizen().post("/c/report/", report_fields(world, **overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Case.objects.count() == 0


def test_a_non_image_photo_is_refused(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = citizen().post("/c/report/", report_fields(world, photo=SimpleUploadedFile("a.jpg", b"not an image")))
    assert response.status_code == 400
    assert Case.objects.count() == 0


@override_settings(GRIDLOOP_SMS_API_BASE="http://sms.example")
def test_with_sms_the_phone_is_confirmed_by_a_code(world):
    client = citizen()
    refused = client.post("/c/report/", report_fields(world))
    assert refused.status_code == 400 and "Enter the code" in refused.content.decode()
    sent = client.post("/c/code/", {"phone": PHONE}, HTTP_ACCEPT="application/json")
    assert sent.status_code == 200 and sent.json()["sent"]
    message = OutboxMessage.objects.get(kind="citizen_code")
    assert message.channel == "sms" and message.recipient_address == PHONE
    code = re.search(r"\d{6}", message.body).group(0)
    again = client.post("/c/code/", {"phone": PHONE}, HTTP_ACCEPT="application/json")
    assert again.status_code == 429  # one code a minute per phone
    wrong = client.post("/c/report/", report_fields(world, code="000000" if code != "000000" else "111111"))
    assert wrong.status_code == 400 and "wrong or has expired" in wrong.content.decode()
    _client, _token, case = file_report(world, client=client, code=code)
    assert InboundReport.objects.get(case=case).raw_payload["citizen_page"]["phone_confirmed"] is True
    assert OutboxMessage.objects.filter(kind="citizen_link", recipient_address=PHONE).count() == 1
    mine = client.get("/c/mine/").content.decode()
    assert case.number in mine


def test_without_sms_a_code_cannot_be_asked_for(world):
    response = citizen().post("/c/code/", {"phone": PHONE}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and "not available" in response.json()["detail"]
    assert not OutboxMessage.objects.exists()


def test_the_elder_mode_link_from_the_official_account_menu(world):
    client = citizen()
    response = client.get("/c/?elder=1")
    assert response.cookies["gridloop_elder"].value == "1"
    assert 'class="citizen text-large elder"' in response.content.decode()
    assert 'class="citizen text-large elder"' in client.get("/c/report/").content.decode()
