"""Time left on a stage as the pages show it: light, relative phrase and deadline, paused clocks shown as paused."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import translation

from dispatch.models import StageClock
from web.time_left import duration_words, time_left

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 8, 9, 0, tzinfo=SH)


def clock(**fields) -> StageClock:
    values = {"stage": "handle", "started_at": NOW - timedelta(hours=8), "warn_at": NOW + timedelta(hours=1),
              "deadline": NOW + timedelta(hours=2, minutes=10)}
    values.update(fields)
    return StageClock(**values)


def test_lights_and_phrases():
    with translation.override("en"):
        green = time_left(clock(), NOW)
        assert (green.light, green.phrase, f"{green.deadline:%H:%M}") == ("green", "2 h 10 min left", "11:10")
        yellow = time_left(clock(warn_at=NOW - timedelta(minutes=1)), NOW)
        assert yellow.light == "yellow" and str(yellow.word) == "due soon"
        red = time_left(clock(deadline=NOW - timedelta(days=1, hours=3)), NOW)
        assert (red.light, red.phrase) == ("red", "overdue by 1 d 3 h")
        paused = time_left(clock(paused_at=NOW - timedelta(hours=1)), NOW)
        assert (paused.light, paused.phrase) == ("paused", "clock paused (suspended)")
        assert time_left(None).light == "none" and time_left(clock(finished_at=NOW)).light == "none"


def test_durations_in_chinese():
    with translation.override("zh-hans"):
        assert duration_words(timedelta(hours=2, minutes=10)) in ("2 小时 10 分", "2 h 10 min")
    with translation.override("en"):
        assert duration_words(timedelta(minutes=5, seconds=59)) == "5 min"
        assert duration_words(timedelta(seconds=-3)) == "0 min"
