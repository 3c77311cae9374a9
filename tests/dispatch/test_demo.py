"""The demo city's history (dispatch.demo): every outcome made through the services, open work in every queue now,
intact event chains, generated photos, rollups and league tables at the end; deterministic by seed; refused in
production; reset removes the old cases and their photo files.

One history (a small city, a week, 110 cases, ending at a fixed moment) is built once for ``TestAWeekOfHistory`` and
read by its tests; the others build their own smaller ones."""

from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from PIL import Image

from config.errors import InvalidInput
from dispatch.demo import PHOTO_SIZE, demo_city_make, demo_history_clear
from dispatch.evaluation.direct import direct_mismatches
from dispatch.models import DailyFact, LeagueTable, StageClock, SupervisionOrder
from dispatch.queues import BUCKETS, QUEUE_LEVELS, center_queues, queue_centers
from events.integrity import chains_verify
from events.models import Attachment, Case, CaseEvent, CaseState, Category, Channel
from events.sensors.models import SensorDevice, SensorRule
from grids.demo import demo_reset
from grids.models import Region, User

SMALL = {"districts": 2, "streets": 2, "communities": 2, "grids": 4}
END = datetime(2026, 11, 20, 16, 30, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Friday afternoon
FAST = {"PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
        "GRIDLOOP_GRID_INDEX_CHECK_SECONDS": 0, "GRIDLOOP_CONFIG_CHECK_SECONDS": 0}


def _wipe():
    demo_history_clear()
    demo_reset()
    Category.objects.all().delete()


@pytest.fixture(scope="class")
def week(django_db_setup, django_db_blocker, tmp_path_factory):
    """A week of history in the small city (110 cases), committed for the class's tests and removed after them."""
    media = tmp_path_factory.mktemp("media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media, **FAST):
        made = demo_city_make(**SMALL, seed=7, history_days=7, cases=110, end=END)
        made.media = media  # (each test has a MEDIA_ROOT of its own: tests/conftest.py)
        yield made
        _wipe()


def kinds() -> set[str]:
    return set(CaseEvent.objects.values_list("kind", flat=True).distinct())


@pytest.mark.django_db
class TestAWeekOfHistory:
    def test_every_outcome_is_made_through_the_services(self, week):
        history = week.history
        assert history.skipped == []  # no planned step was refused by a service
        assert history.cases == Case.objects.count() >= 100
        assert {Channel.PATROL, Channel.HOTLINE, Channel.WECHAT, Channel.OPEN311, Channel.SENSOR} <= set(
            Case.objects.values_list("channel", flat=True))
        assert {"reported", "accept", "dispatch", "sign", "return", "request_extension", "approve_extension",
                "deny_extension", "suspend", "resume", "complete", "verify", "rework", "feedback", "close", "reopen",
                "merge", "merged_in", "cancel", "reject", "urge", "supervise", "supervision_reply", "escalate",
                "confirm_self_handled", "request_field_check", "field_check", "sensor_recovered"} <= kinds()
        closed = Case.objects.filter(state=CaseState.CLOSED)
        assert set(closed.exclude(rating=None).values_list("rating", flat=True)) == {1, 2, 3, 4, 5}
        reopened = closed.filter(reopens_count__gt=0)
        assert reopened.exists() and all(case.rating >= 4 for case in reopened)
        assert closed.filter(close_reason="self_handled").exists()
        on_time = closed.exclude(clocks__on_time=False)
        late = closed.filter(clocks__on_time=False).distinct()
        assert on_time.exists() and late.exists()
        for state in (CaseState.MERGED, CaseState.CANCELLED, CaseState.REJECTED):
            assert Case.objects.filter(state=state).exists(), state
        # escalated street → district → city, by the sweep (system "sweep") and by a dispatcher
        escalations = CaseEvent.objects.filter(kind="escalate")
        assert escalations.filter(actor_ref="sweep", payload__to_level="district").exists()
        assert escalations.filter(actor_ref="sweep", payload__to_level="city").exists()
        assert escalations.filter(actor_kind="user").exists()
        assert Case.objects.filter(returns_count__gt=0, state=CaseState.CLOSED).exists()
        assert Case.objects.filter(reworks_count__gt=0, state=CaseState.CLOSED).exists()
        assert Case.objects.filter(extensions_count__gt=0).exists()
        assert Case.objects.filter(suspensions_count__gt=0, state=CaseState.CLOSED).exists()
        assert SensorDevice.objects.count() == 4 and SensorRule.objects.count() == 4


    def test_open_work_waits_in_every_queue_now(self, week):
        admin = User.objects.get(username="admin")
        found = dict.fromkeys(BUCKETS, 0)
        for level in QUEUE_LEVELS:
            for center in queue_centers(admin, level):
                for name, bucket in center_queues(user=admin, center=center).items():
                    found[name] += bucket.count
        assert all(found.values()), found
        running = StageClock.objects.filter(finished_at=None)
        assert running.filter(light="yellow").exists() and running.filter(light="red").exists()
        for state in (CaseState.DISPATCHED, CaseState.HANDLING, CaseState.SUSPENDED, CaseState.HANDLED,
                      CaseState.VERIFIED):
            assert Case.objects.filter(state=state).exists(), state
        assert Case.objects.filter(extension_pending=True).exists()
        orders = SupervisionOrder.objects.filter(kind="supervise")
        assert orders.filter(replied_at=None).exists() and orders.exclude(replied_at=None).exists()
        assert Case.objects.filter(state=CaseState.HANDLING, level="city", clocks__light="red",
                                   clocks__finished_at=None).exists()  # stuck until the city center holds it


    def test_chains_verify_and_photos_are_generated_jpegs(self, week):
        assert list(chains_verify()) == []
        photos = Attachment.objects.all()
        assert photos.count() == week.history.photos > 80
        assert set(photos.values_list("kind", flat=True)) == {"report", "before", "after", "check"}
        photo = photos.filter(kind="after").first()
        with Image.open(week.media / photo.file.name) as image:
            assert (image.format, image.size) == ("JPEG", PHOTO_SIZE)
        assert photo.content_type == "image/jpeg" and photo.metadata["width"] == PHOTO_SIZE[0]


    def test_rollups_and_league_tables_are_ready(self, week):
        assert DailyFact.objects.exists()
        assert direct_mismatches() == []  # the rollups agree with a direct count of cases, events and clocks
        assert LeagueTable.objects.filter(month="2026-11-01").count() == 5
        assert LeagueTable.objects.get(month="2026-11-01", object="department").entries.exists()
        assert week.history.league_tables == LeagueTable.objects.count()


# --- Builds of their own -------------------------------------------------------------------------------------------------
def fingerprint() -> list[tuple]:
    return list(Case.objects.order_by("number").values_list(
        "number", "channel", "state", "category__code", "region_code", "rating", "level", "department__code",
        "created_at")) + list(CaseEvent.objects.order_by("case__number", "seq").values_list(
            "case__number", "seq", "kind", "occurred_at"))


def media_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.django_db
def test_same_seed_same_history_and_reset_removes_the_old_photos(settings):
    first = demo_city_make(**SMALL, seed=3, history_days=2, cases=20, end=END)
    assert first.history.skipped == [] and first.history.cases >= 15
    before, old_files = fingerprint(), media_files(Path(settings.MEDIA_ROOT))
    assert old_files and old_files == set(Attachment.objects.values_list("file", flat=True))

    again = demo_city_make(**SMALL, seed=3, history_days=2, cases=20, end=END, reset=True)
    assert fingerprint() == before
    assert again.city.logins == first.city.logins
    files = media_files(Path(settings.MEDIA_ROOT))
    assert files == set(Attachment.objects.values_list("file", flat=True))  # the old files are gone

    demo_city_make(**SMALL, seed=4, history_days=2, cases=20, end=END, reset=True)
    assert fingerprint() != before


@pytest.mark.django_db
def test_history_days_zero_builds_the_empty_city():
    made = demo_city_make(**SMALL, history_days=0)
    assert made.history is None and made.categories == Category.objects.count() > 0
    assert Region.objects.filter(level="grid").count() == 32
    assert not Case.objects.exists()


@pytest.mark.django_db
def test_refused_in_production_and_nothing_is_written(settings):
    settings.PRODUCTION = True
    with pytest.raises(InvalidInput, match="GRIDLOOP_PRODUCTION=1") as info:
        demo_city_make(**SMALL, history_days=1)
    assert info.value.field == "GRIDLOOP_PRODUCTION"
    with pytest.raises(CommandError, match="admin / gridloop-demo"):
        call_command("demo_city", "--history-days=0", stdout=StringIO(), stderr=StringIO())
    assert not Region.objects.exists() and not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("option, value", [("history-days", -1), ("history-days", 367), ("cases", -5),
                                           ("cases", 20_001)])
def test_bad_history_options_are_refused_naming_the_option(option, value):
    with pytest.raises(CommandError, match=f"--{option} "):
        call_command("demo_city", f"--{option}={value}", stdout=StringIO(), stderr=StringIO())
    assert not Region.objects.exists()


@pytest.mark.django_db
def test_command_prints_the_history_and_draws_a_progress_bar():
    out, err = StringIO(), StringIO()
    call_command("demo_city", *[f"--{k}={v}" for k, v in SMALL.items()], "--history-days=1", "--cases=15",
                 stdout=out, stderr=err)
    text = out.getvalue()
    assert "history: 1 days" in text and "cases" in text and "by state:" in text
    assert "history [" in err.getvalue() and "100%" in err.getvalue()
    assert Case.objects.count() == int(text.split(" cases,")[0].rsplit(" ", 1)[1].replace(",", ""))
    assert timedelta(0) <= datetime.now(tz=ZoneInfo("UTC")) - Case.objects.order_by("-created_at")[0].created_at


@pytest.mark.django_db
def test_a_failure_leaves_nothing_behind_not_even_photos(settings, monkeypatch):
    photos = []

    def broken(self):
        photos.extend(Attachment.objects.values_list("file", flat=True))
        assert all((Path(settings.MEDIA_ROOT) / name).is_file() for name in photos)
        raise RuntimeError("rollups failed")

    monkeypatch.setattr("dispatch.demo._History._finish", broken)
    with pytest.raises(RuntimeError, match="rollups failed"):
        demo_city_make(**SMALL, history_days=1, cases=15, end=END)
    assert photos  # written by the history before it failed …
    assert not Region.objects.exists() and not Case.objects.exists() and not Category.objects.exists()
    assert media_files(Path(settings.MEDIA_ROOT)) == set()  # … and removed with the rollback
