"""SLA policies (时限标准) per stage and the clock rows (计时) of each open stage of a case.

``SlaPolicy`` rows override the built-in defaults of ``dispatch.sla``; ``StageClock`` rows are written by
``dispatch.clocks`` on every case transition and advanced by the sweep (``dispatch.sweep``: lights, breach
escalation).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from events.models import CommandLevel, LimitUnit, Urgency


class Stage(models.TextChoices):
    ACCEPT = "accept", _("accept (立案)")
    DISPATCH = "dispatch", _("dispatch (派遣)")
    SIGN = "sign", _("sign (签收)")
    HANDLE = "handle", _("handle (处置)")
    VERIFY = "verify", _("verify (核查)")
    FEEDBACK = "feedback", _("feedback (回访)")


class Light(models.TextChoices):
    GREEN = "green", _("green")
    # xgettext:no-python-format
    YELLOW = "yellow", _("yellow (80 % of the limit used)")
    RED = "red", _("red (overdue, 超期)")


class SlaPolicy(models.Model):
    """A time limit for one stage, for a category, urgency and command level — each blank means "any".

    The most specific matching row wins (category, then urgency, then level), then the higher priority, then the
    older row. No match: the defaults documented in ``dispatch.sla``. Each stage × category × urgency × level has at
    most one row (the constraints below; the API and the admin say so first), so two matching rows never tie.
    """

    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices)
    category = models.ForeignKey("events.Category", verbose_name=_("category"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, blank=True)
    level = models.CharField(_("command level"), max_length=10, choices=CommandLevel.choices, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=8, decimal_places=2)
    unit = models.CharField(_("unit"), max_length=12, choices=LimitUnit.choices)
    priority = models.IntegerField(_("priority"), default=0)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["stage", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="sla_policy_amount_positive"),
            # one row per stage × category × urgency × level ("any" category counted as a value of its own)
            models.UniqueConstraint(fields=["stage", "category", "urgency", "level"],
                                    condition=models.Q(category__isnull=False), name="sla_policy_unique"),
            models.UniqueConstraint(fields=["stage", "urgency", "level"], condition=models.Q(category__isnull=True),
                                    name="sla_policy_unique_any_category"),
        ]
        indexes = [models.Index(fields=["stage", "category"])]

    def __str__(self):
        who = " ".join(filter(None, [self.category.code if self.category_id else "", self.urgency, self.level]))
        return f"{self.stage} {who or '*'}: {self.amount} {self.unit}"


class StageClock(models.Model):
    """The clock of one stage of a case at one command level. ``warn_at`` (80 % used) and ``deadline`` (100 %) are
    stored so the sweep finds due rows through an index; both move when the clock is paused, resumed or extended."""

    # No index of its own: clock_case_open (case, finished_at) serves every lookup by case, and each index costs the
    # sweep a write per light change.
    case = models.ForeignKey("events.Case", verbose_name=_("case"), on_delete=models.PROTECT, related_name="clocks",
                             db_index=False)
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices)
    level = models.CharField(_("command level"), max_length=10, choices=CommandLevel.choices,
                             default=CommandLevel.STREET)
    started_at = models.DateTimeField(_("started at"))
    deadline = models.DateTimeField(_("deadline"))
    warn_at = models.DateTimeField(_("warning at (80 %)"))
    limit_amount = models.DecimalField(_("limit"), max_digits=8, decimal_places=2)
    limit_unit = models.CharField(_("limit unit"), max_length=12, choices=LimitUnit.choices)
    extensions = models.PositiveSmallIntegerField(_("extensions"), default=0)
    paused_seconds = models.FloatField(_("paused seconds"), default=0)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)
    light = models.CharField(_("light"), max_length=6, choices=Light.choices, default=Light.GREEN)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    on_time = models.BooleanField(_("on time"), null=True, blank=True)
    escalated_for_breach = models.BooleanField(_("escalated for this breach"), default=False)

    class Meta:
        verbose_name = _("stage clock")
        verbose_name_plural = _("stage clocks")
        ordering = ["case_id", "started_at", "id"]
        # The sweep's three claim queries (dispatch.sweep), one partial index each: only open, running clocks whose
        # next light change is still ahead are in them, so a claim reads just the rows that are due — not the red
        # clocks of long-overdue cases, nor finished or paused ones (most of the table).
        indexes = [
            models.Index(fields=["warn_at"], name="clock_due_green", condition=models.Q(
                finished_at__isnull=True, paused_at__isnull=True, light="green")),
            models.Index(fields=["deadline"], name="clock_due_yellow", condition=models.Q(
                finished_at__isnull=True, paused_at__isnull=True, light="yellow")),
            models.Index(fields=["deadline"], name="clock_breach_pending", condition=models.Q(
                finished_at__isnull=True, paused_at__isnull=True, light="red", escalated_for_breach=False,
                level__in=["street", "district"])),
            models.Index(fields=["case", "finished_at"], name="clock_case_open"),
            # The console (dispatch/worklist.py) joins each listed case's running clock: read from the index alone.
            models.Index(fields=["case"], name="clock_running_cover", include=["deadline", "paused_at", "light", "stage"],
                         condition=models.Q(finished_at__isnull=True)),
            # The cockpit's 超期 (dispatch.evaluation.selectors.overdue_cases): stages past their deadline, open or
            # finished late — a small share of the table once the work is done on time.
            models.Index(fields=["deadline"], name="clock_late_or_open", condition=models.Q(
                finished_at__isnull=True) | models.Q(finished_at__gt=models.F("deadline"))),
        ]

    def __str__(self):
        return f"{self.case_id} {self.stage}@{self.level} → {self.deadline:%Y-%m-%d %H:%M} ({self.light})"
