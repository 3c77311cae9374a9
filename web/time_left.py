"""Time left on a case's current stage, as the pages show it: a light (shape + word, never colour alone), the deadline
in Asia/Shanghai and a relative phrase ("还剩 2 小时 10 分", "超期 1 天 3 小时", "已暂停").

The light is worked out at the moment of the request from the clock's stored ``warn_at``/``deadline`` (the sweep's
stored light may be a few seconds behind); a paused clock (挂账) shows as paused.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

LIGHT_WORDS = {
    "green": gettext_lazy("on time"), "yellow": gettext_lazy("due soon"), "red": gettext_lazy("overdue"),
    "paused": gettext_lazy("paused"), "none": gettext_lazy("no limit"),
}


@dataclass(frozen=True)
class TimeLeft:
    light: str  # green, yellow, red, paused or none
    word: object  # a lazy translation
    phrase: str  # "还剩 2 小时 10 分" / "超期 1 天 3 小时" / "已暂停" / ""
    deadline: datetime | None  # local time
    stage: str = ""


def duration_words(delta: timedelta) -> str:
    """A duration in the two largest units: "1 天 3 小时", "2 小时 10 分", "5 分"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)d min") % {"minutes": minutes}


def time_left(clock, now: datetime | None = None) -> TimeLeft:
    """The stage clock as shown; ``clock`` None (a stage without a limit, or an ended case) shows "no limit"."""
    if clock is None or clock.finished_at is not None:
        return TimeLeft("none", LIGHT_WORDS["none"], "", None)
    now = now or timezone.now()
    stage = clock.get_stage_display()
    deadline = timezone.localtime(clock.deadline)
    if clock.paused_at is not None:
        return TimeLeft("paused", LIGHT_WORDS["paused"], _("clock paused (suspended)"), deadline, stage)
    if now >= clock.deadline:
        light = "red"
        phrase = _("overdue by %(time)s") % {"time": duration_words(now - clock.deadline)}
    else:
        light = "yellow" if now >= clock.warn_at else "green"
        phrase = _("%(time)s left") % {"time": duration_words(clock.deadline - now)}
    return TimeLeft(light, LIGHT_WORDS[light], phrase, deadline, stage)
