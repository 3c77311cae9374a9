"""催办 (urge) and 督办 (supervision orders): a supervisor's demand on the department in charge, and its reply."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SupervisionKind(models.TextChoices):
    URGE = "urge", _("urge")  # 催办: a note, reply optional
    SUPERVISE = "supervise", _("supervision order")  # 督办: a requirement with a reply due


class SupervisionType(models.TextChoices):
    OVERDUE = "overdue", _("overdue")  # 超期督办
    LEADER = "leader", _("leader's order")  # 领导督办
    KEY_CASE = "key_case", _("key case")  # 重点案件督办


class SupervisionOrder(models.Model):
    """Made by ``case_act`` for the urge and supervise actions; replied to by ``supervision_reply``."""

    case = models.ForeignKey("events.Case", verbose_name=_("case"), on_delete=models.PROTECT,
                             related_name="supervision_orders")
    event_seq = models.PositiveIntegerField(_("event number"))
    kind = models.CharField(_("kind"), max_length=10, choices=SupervisionKind.choices)
    type = models.CharField(_("type"), max_length=10, choices=SupervisionType.choices, blank=True)
    requirement = models.TextField(_("requirement"), max_length=2000)
    department = models.ForeignKey("grids.Department", verbose_name=_("department"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="supervision_orders")
    command_code = models.CharField(_("command center code"), max_length=15)
    issued_by = models.ForeignKey("grids.User", verbose_name=_("issued by"), on_delete=models.PROTECT,
                                  related_name="+")
    issued_at = models.DateTimeField(_("issued at"))
    reply_due = models.DateTimeField(_("reply due"), null=True, blank=True)
    reply = models.TextField(_("reply"), max_length=2000, blank=True)
    replied_by = models.ForeignKey("grids.User", verbose_name=_("replied by"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("supervision order")
        verbose_name_plural = _("supervision orders")
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["department", "replied_at"]), models.Index(fields=["command_code", "replied_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.case_id} #{self.event_seq}"

    def light(self, now) -> str:
        """green below 80 % of the time to the reply deadline, yellow up to it, red after; replied orders are done."""
        if self.replied_at or self.reply_due is None:
            return "done" if self.replied_at else "green"
        total = (self.reply_due - self.issued_at).total_seconds()
        used = (now - self.issued_at).total_seconds()
        if used >= total:
            return "red"
        return "yellow" if total > 0 and used / total >= 0.8 else "green"


class SupervisionTemplate(models.Model):
    """A note a supervisor starts a 催办 or 督办 from (edited in the admin; the text can be changed before sending)."""

    kind = models.CharField(_("kind"), max_length=10, choices=SupervisionKind.choices)
    type = models.CharField(_("type"), max_length=10, choices=SupervisionType.choices, blank=True)
    title = models.CharField(_("title"), max_length=60)
    text = models.TextField(_("text"), max_length=2000)
    reply_days = models.PositiveSmallIntegerField(_("reply due after (days)"), default=3)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("supervision note template")
        verbose_name_plural = _("supervision note templates")
        ordering = ["kind", "position", "id"]

    def __str__(self):
        return self.title
