"""What actions and reports need: every required input missing names its field (400), bad values are refused, and
nothing is written in either case. Then intake (case_report): place, photos, roles, idempotency, EXIF."""

import io
from contextlib import nullcontext
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from config.errors import InvalidInput, PermissionDenied, Unprocessable
from events.actors import Actor
from events.models import Attachment, Case, CaseEvent, CaseState, Category, Channel, InboundReport
from events.services import ReportInput, case_act, case_report
from events.workflow import ACTIONS
from grids.models import Department, Role
from tests.events.conftest import act, file_patrol, photo
from tests.events.states import (
    ROLE_FOR_ACTION,
    actor_for,
    assert_untouched,
    drive,
    needs,
    snapshot,
    valid_inputs,
)
from tests.factories import grid_center, make_user

pytestmark = pytest.mark.django_db




def _refused_input(world, action: str, field: str, *, then=None, **changes):
    """Take ``action`` with valid inputs changed by ``changes`` (None: left out); expect a 400 naming ``field``
    and nothing written. ``then`` runs after the case is ready, before the action."""
    case = drive(world, ACTIONS[action].sources[0], **needs(action))
    if then is not None:
        then()
    inputs = valid_inputs(world, action)
    for key, value in changes.items():
        if value is None:
            inputs.pop(key, None)
        else:
            inputs[key] = value
    before = snapshot(case)
    later = timezone.now() + timedelta(hours=settings.GRIDLOOP_FEEDBACK_WINDOW_HOURS + 1)
    clock = time_machine.travel(later, tick=False) if action == "close" else nullcontext()
    with clock, pytest.raises(InvalidInput) as refused:
        case_act(case=case.number, action=action, actor=actor_for(world, ROLE_FOR_ACTION[action]), inputs=inputs)
    assert refused.value.field == field, refused.value.message
    assert_untouched(case, before)
    return refused.value


# --- Required inputs of every action ------------------------------------------------------------------------------
REQUIRED = [(action, field, how) for action, spec in ACTIONS.items() for field in spec.requires
            for how in ("absent", "blank")]


def test_the_required_inputs_are_the_documented_ones():
    required = {action: set(spec.requires) for action, spec in ACTIONS.items() if spec.requires}
    assert required == {
        "field_check": {"result"}, "reject": {"reason"}, "merge": {"target"}, "dispatch": {"department"},
        "return": {"reason"}, "request_extension": {"reason"}, "deny_extension": {"reason"},
        "suspend": {"reason", "until"}, "complete": {"note", "photos"}, "verify": {"photos"},
        "rework": {"reason"}, "feedback": {"rating"}, "reopen": {"reason"}, "escalate": {"reason"},
        "urge": {"note"}, "supervise": {"note", "type", "reply_due"}, "cancel": {"reason"},
    }


@pytest.mark.parametrize(("action", "field", "how"), REQUIRED, ids=[f"{a}-{f}-{h}" for a, f, h in REQUIRED])
def test_a_missing_required_input_is_named(world, action, field, how):
    blank = [] if field == "photos" else "   "
    error = _refused_input(world, action, field, **{field: None if how == "absent" else blank})
    assert field in error.message


# --- Bad values ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("department", ["no-such-department", "inactive", "s2-huanwei"])
def test_dispatch_to_an_unknown_inactive_or_foreign_department_is_refused(world, department):
    if department == "inactive":
        Department.objects.filter(pk=world.dept.pk).update(active=False)
        department = world.dept.code
    _refused_input(world, "dispatch", "department", department=department)


@pytest.mark.parametrize("rating", [0, 6, -1, "x", "2.5", 2.5, True, float("inf"), float("nan"), [], {"stars": 3}])
def test_feedback_rating_must_be_a_whole_number_from_1_to_5(world, rating):
    _refused_input(world, "feedback", "rating", rating=rating)


@pytest.mark.parametrize("rating", [1, 5, "3", 4.0])
def test_feedback_ratings_that_are_whole_numbers_are_taken(world, rating):
    case = drive(world, "verified")
    case = act(case, "feedback", world.operator, rating=rating)
    assert case.rating == int(rating)


@pytest.mark.parametrize("until", ["past", "past-date", "too-far", "too-far-date", "in two weeks", "2026-02-30",
                                   "2026-13-01", "2026-01-01T25:00:00"])
def test_suspend_until_must_be_a_date_in_the_coming_year(world, until):
    now = timezone.now()
    until = {
        "past": now - timedelta(minutes=1),
        "past-date": (timezone.localdate() - timedelta(days=1)).isoformat(),
        "too-far": now + timedelta(days=400),
        "too-far-date": (timezone.localdate() + timedelta(days=400)).isoformat(),
    }.get(until, until)
    _refused_input(world, "suspend", "until", until=until)


def test_merge_into_a_case_that_does_not_exist_is_refused(world):
    _refused_input(world, "merge", "target", target="2099010199999")


@pytest.mark.parametrize("result", ["maybe", "requested", "CONFIRMED"])
def test_field_check_result_is_confirmed_or_not_found(world, result):
    _refused_input(world, "field_check", "result", result=result)


def test_a_confirmed_field_check_needs_a_photo_but_not_found_does_not(world):
    _refused_input(world, "field_check", "photos", result="confirmed", photos=None)
    case = drive(world, "reported", field_check=True)
    case = act(case, "field_check", world.worker, result="not_found")
    assert case.field_check_status == "not_found" and case.attachments.count() == 0


@pytest.mark.usefixtures("in_english")
def test_accepting_a_report_without_a_category_needs_one(world):
    error = _refused_input(world, "accept", "category", category=None)
    assert "category" in error.message
    Category.objects.filter(pk=world.category.pk).update(active=False)
    _refused_input(world, "accept", "category", category=Category.objects.get(pk=world.category.pk))


def test_accept_refuses_an_unknown_urgency(world):
    _refused_input(world, "accept", "urgency", urgency="very")


@pytest.mark.parametrize("bad", ["gif", "text", "too_many", "too_big"])
@pytest.mark.parametrize("action", ["complete", "verify"])
def test_photos_of_an_action_are_checked_and_none_stored_when_refused(world, settings, action, bad):
    def small_limit():
        settings.GRIDLOOP_PHOTO_MAX_BYTES = 100

    photos = {
        "gif": [photo(), photo("p.gif", fmt="GIF")],
        "text": [SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")],
        "too_many": [photo(f"{n}.jpg") for n in range(10)],
        "too_big": [photo()],
    }[bad]
    _refused_input(world, action, "photos", photos=photos, then=small_limit if bad == "too_big" else None)


# --- Intake -------------------------------------------------------------------------------------------------------
def _report(world, user=None, **fields) -> tuple[Case, bool]:
    """A patrol report by world.worker at the middle of their grid, changed by ``fields``."""
    lat, lng = world.point
    data = ReportInput(channel=Channel.PATROL, description="垃圾堆放", lat=lat, lng=lng, category=world.category,
                       photos=[photo()])
    for key, value in fields.items():
        setattr(data, key, value)
    return case_report(actor=Actor.staff(user or world.worker), data=data)


def _nothing_stored(media_root):
    assert (Case.objects.count(), InboundReport.objects.count(), CaseEvent.objects.count(),
            Attachment.objects.count()) == (0, 0, 0, 0)
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))


INTAKE_REFUSED = {
    "empty description": ({"description": "  \n "}, InvalidInput, "description"),
    "description too long": ({"description": "x" * 4001}, InvalidInput, "description"),
    "lat without lng": ({"lng": None}, InvalidInput, "lng"),
    "lng without lat": ({"lat": None}, InvalidInput, "lat"),
    "lat out of range": ({"lat": 95.0}, InvalidInput, "lat"),
    "lng out of range": ({"lng": 200.0}, InvalidInput, "lng"),
    "outside the service area": ({"lat": 31.0, "lng": 121.0}, Unprocessable, "lat"),
    "no location": ({"lat": None, "lng": None}, InvalidInput, "lat"),
    "unknown region code": ({"lat": None, "lng": None, "region_code": "990199"}, InvalidInput, "region_code"),
    "district region code": ({"lat": None, "lng": None, "region_code": "990101"}, InvalidInput, "region_code"),
    "patrol without category": ({"category": None}, InvalidInput, "category"),
    "patrol without photo": ({"photos": []}, InvalidInput, "photos"),
    "ten photos": ({"photos": "ten"}, InvalidInput, "photos"),
    "a GIF photo": ({"photos": "gif"}, InvalidInput, "photos"),
    "a text file named x.jpg": ({"photos": "text"}, InvalidInput, "photos"),
    "a photo over the limit": ({"photos": "big"}, InvalidInput, "photos"),
    "self-handled without before photos": (
        {"self_handled": True, "photos": [], "after_photos": "one"}, InvalidInput, "before_photos"),
    "self-handled without after photos": (
        {"self_handled": True, "photos": [], "before_photos": "one"}, InvalidInput, "after_photos"),
    "self-handled on the hotline": ({"self_handled": True, "channel": Channel.HOTLINE, "user": "operator",
                                     "before_photos": "one", "after_photos": "one"}, InvalidInput, "self_handled"),
    "unknown urgency": ({"urgency": "asap"}, InvalidInput, "urgency"),
    "idempotency key too long": ({"idempotency_key": "k" * 101}, InvalidInput, "idempotency_key"),
    "hotline by an operator elsewhere": ({"channel": Channel.HOTLINE, "user": "operator_west"}, PermissionDenied,
                                         None),
    "patrol by a dispatcher": ({"user": "dispatcher"}, PermissionDenied, None),
    "patrol by a handler": ({"user": "handler"}, PermissionDenied, None),
}


@pytest.mark.parametrize("name", list(INTAKE_REFUSED))
def test_a_bad_report_is_refused_and_nothing_is_stored(world, settings, name):
    fields, error, field = INTAKE_REFUSED[name]
    fields = dict(fields)
    for key in ("photos", "before_photos", "after_photos"):
        if fields.get(key) == "ten":
            fields[key] = [photo(f"{n}.jpg") for n in range(10)]
        elif fields.get(key) == "gif":
            fields[key] = [photo(), photo("p.gif", fmt="GIF")]
        elif fields.get(key) == "text":
            fields[key] = [SimpleUploadedFile("x.jpg", b"hello, not a photo", content_type="image/jpeg")]
        elif fields.get(key) == "big":
            settings.GRIDLOOP_PHOTO_MAX_BYTES = 100
            fields[key] = [photo()]
        elif fields.get(key) == "one":
            fields[key] = [photo()]
    user = fields.pop("user", None)
    if user == "operator_west":
        user = make_user("operator_west", (Role.OPERATOR, world.regions["990102"]))
    elif user is not None:
        user = getattr(world, user)
    with pytest.raises(error) as refused:
        _report(world, user, **fields)
    assert refused.value.field == field, refused.value.message
    _nothing_stored(settings.MEDIA_ROOT)


def test_the_limits_themselves_are_accepted(world):
    case, created = _report(world, description="x" * 4000, photos=[photo(f"{n}.jpg") for n in range(9)])
    assert created and len(case.description) == 4000 and case.attachments.count() == 9
    assert set(case.attachments.values_list("kind", flat=True)) == {"report"}


def test_a_self_handled_report_keeps_its_before_and_after_photos(world):
    case, _ = _report(world, self_handled=True, photos=[], before_photos=[photo("b.jpg")],
                      after_photos=[photo("a.webp", fmt="WEBP"), photo("a2.jpg", color=(1, 2, 3))])
    assert case.state == "reported" and case.self_handled
    kinds = sorted(case.attachments.values_list("kind", "content_type"))
    assert kinds == [("after", "image/jpeg"), ("after", "image/webp"), ("before", "image/jpeg")]
    assert case.events.get(seq=1).payload["self_handled"] is True


def test_a_png_photo_is_accepted(world):
    case, _ = _report(world, photos=[photo("p.png", fmt="PNG")])
    assert case.attachments.get().content_type == "image/png"


def test_the_same_idempotency_key_gives_the_same_case(world):
    first, created = _report(world, idempotency_key="tablet-42-0001")
    again, created_again = _report(world, idempotency_key="tablet-42-0001", description="重复提交")
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert (Case.objects.count(), InboundReport.objects.count()) == (1, 1)
    assert CaseEvent.objects.filter(case=first, kind="reported").count() == 1
    # another reporter's key is their own
    lat, lng = grid_center("990101002001001")
    other, created_other = _report(world, world.worker2, idempotency_key="tablet-42-0001", lat=lat, lng=lng)
    assert created_other and other.pk != first.pk


def test_a_worker_may_report_outside_their_grids_flagged_and_left_for_that_center_to_accept(world):
    """Inside their grids a worker's patrol report is accepted on filing (the rule); outside, it is filed and flagged
    but waits in that street's queue for its dispatcher to accept (受理), as a citizen's report does."""
    lat, lng = grid_center("990101002001001")
    case, _ = _report(world, lat=lat, lng=lng)
    assert case.outside_reporter_grids is True and case.grid.code == "990101002001001"
    assert case.events.get(kind="reported").payload["outside_reporter_grids"] is True
    assert case.state == CaseState.REPORTED and case.street.code == "990101002"
    assert list(case.events.values_list("kind", flat=True)) == ["reported"]
    inside = file_patrol(world)
    assert inside.outside_reporter_grids is False and inside.state == CaseState.ACCEPTED
    assert "outside_reporter_grids" not in inside.events.get(kind="reported").payload


def _jpeg_with_exif(orientation=6, lat=(30, 0, 18), lng=(120, 0, 18)) -> SimpleUploadedFile:
    image = Image.new("RGB", (16, 8), (10, 120, 10))
    exif = image.getexif()
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: tuple(IFDRational(v) for v in lat), 3: "E", 4: tuple(IFDRational(v) for v in lng)})
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return SimpleUploadedFile("exif.jpg", buffer.getvalue(), content_type="image/jpeg")


def test_exif_orientation_and_gps_are_kept_in_the_metadata_not_in_the_file(world):
    case, _ = _report(world, photos=[_jpeg_with_exif()])
    attachment = case.attachments.get()
    assert attachment.metadata["orientation"] == 6
    assert attachment.metadata["gps"] == {"lat": 30.005, "lng": 120.005}
    assert (attachment.metadata["width"], attachment.metadata["height"]) == (8, 16)  # stored upright
    with Image.open(attachment.file) as stored:
        assert stored.size == (8, 16) and not stored.getexif()  # no GPS (nor anything else) in the file
    assert attachment.content_type == "image/jpeg" and attachment.size > 0 and len(attachment.sha256) == 64
    # and on the photos of a transition too
    case = act(case, "dispatch", world.dispatcher, department=world.dept.code)
    case = act(case, "sign", world.handler)
    case = act(case, "complete", world.handler, note="已处理", photos=[_jpeg_with_exif(orientation=3)])
    after = case.attachments.get(kind="after")
    assert after.metadata["orientation"] == 3 and after.event_seq == case.last_seq


def test_anything_appended_to_a_photo_is_not_stored(world):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, "JPEG")
    polyglot = buffer.getvalue() + b"<html><script>alert(document.cookie)</script></html>"
    upload = SimpleUploadedFile("p.jpg", polyglot, content_type="image/jpeg")
    case, _ = _report(world, photos=[upload])
    stored = case.attachments.get().file.read()
    assert b"<script>" not in stored and stored.endswith(b"\xff\xd9")
