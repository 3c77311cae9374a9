"""The transactional outbox (通知发件箱) and the in-app inbox it delivers to.

A message that must reach someone is written as ``OutboxMessage`` rows — one per destination — in the same
transaction as the case change it announces (``dispatch.outbox.outbox_enqueue``). The relay
(``dispatch.outbox.relay_batch``, beat every few seconds) delivers due rows through the channel's adapter
(``dispatch.adapters``), retries failures with exponential back-off and parks a row that keeps failing, where the
admin sees it and can retry it. ``InboxItem`` is the in-app channel's destination; its one-to-one link to the
outbox row is the de-duplication key.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxChannel(models.TextChoices):
    INBOX = "inbox", _("in-app inbox")
    WECHAT = "wechat", _("WeChat")
    SMS = "sms", _("SMS")


class OutboxState(models.TextChoices):
    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    PARKED = "parked", _("parked (kept failing)")


class OutboxMessage(models.Model):
    """One message to one destination, with its own delivery state and attempt count."""

    kind = models.CharField(_("kind"), max_length=30)
    case = models.ForeignKey("events.Case", verbose_name=_("case"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="+")
    event_seq = models.PositiveIntegerField(_("event number"), null=True, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=OutboxChannel.choices)
    recipient_user = models.ForeignKey("grids.User", verbose_name=_("recipient"), null=True, blank=True,
                                       on_delete=models.PROTECT, related_name="+")
    recipient_address = models.CharField(_("recipient address"), max_length=64, blank=True,
                                         help_text=_("WeChat openid or phone number"))
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    state = models.CharField(_("delivery state"), max_length=10, choices=OutboxState.choices,
                             default=OutboxState.PENDING)
    attempts = models.PositiveIntegerField(_("failed attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="outbox_due")]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(channel="inbox", recipient_user__isnull=False)
                           | (~models.Q(channel="inbox") & ~models.Q(recipient_address=""))),
                name="outbox_has_destination",
            ),
        ]

    def __str__(self):
        to = self.recipient_address or f"user {self.recipient_user_id}"
        return f"#{self.pk} {self.kind} → {self.channel}:{to} ({self.state})"


class InboxItem(models.Model):
    """A message in a staff user's in-app inbox. ``outbox`` is unique: one outbox row makes at most one item."""

    user = models.ForeignKey("grids.User", verbose_name=_("user"), on_delete=models.PROTECT,
                             related_name="inbox_items")
    outbox = models.OneToOneField(OutboxMessage, verbose_name=_("outbox message"), on_delete=models.PROTECT,
                                  related_name="inbox_item")
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    case = models.ForeignKey("events.Case", verbose_name=_("case"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"))
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("inbox item")
        verbose_name_plural = _("inbox items")
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="inbox_user_unread")]

    def __str__(self):
        return f"{self.user_id}: {self.title}"
