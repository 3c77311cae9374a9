"""Sensor models: the device registry and integration keys, alarm rules per device type, raw readings, the rule
state per (device, rule), the alarm log that turns into cases, and the reject counters admins watch.

Imported by ``events.models`` (app label ``events``); the tables are created by events/migrations/0005_sensors.py.
"""

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from events.models import Case, Category, Urgency

__all__ = [
    "AlarmKind", "AlarmOutcome", "Comparison", "IngestSource", "RejectReason", "SensorAlarm", "SensorDevice",
    "SensorIntegrationKey", "SensorReading", "SensorRejectCount", "SensorRule", "SensorRuleState", "SensorType",
]

DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"  # no "/", "+" or "#": it is a level of the MQTT topic
METRIC_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"


class SensorType(models.TextChoices):
    WATER_LEVEL = "water_level", _("water level")  # 积水/水位
    MANHOLE_TILT = "manhole_tilt", _("manhole cover tilt")  # 井盖倾斜/位移
    SMOKE = "smoke", _("smoke")  # 烟感
    BIN_FILL = "bin_fill", _("garbage-bin fill level")  # 垃圾满溢
    NOISE = "noise", _("noise")  # 噪声
    OTHER = "other", _("other")


class SensorIntegrationKey(models.Model):
    """A key for an integrator (an IoT platform or gateway) that signs batches for the devices linked to it, instead
    of each device signing its own. ``key_id`` is sent in the clear; ``secret`` is the HMAC key."""

    key_id = models.CharField(_("key id"), max_length=40, unique=True)
    name = models.CharField(_("integrator"), max_length=100)
    secret = models.CharField(_("secret"), max_length=128)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("sensor integration key")
        verbose_name_plural = _("sensor integration keys")
        ordering = ["key_id"]

    def __str__(self):
        return f"{self.name} ({self.key_id})"


class SensorDevice(models.Model):
    """A registered sensor: where it is (and so its unit grid), who owns it, and its HMAC secret."""

    device_id = models.CharField(_("device id"), max_length=64, unique=True,
                                 validators=[RegexValidator(DEVICE_ID_PATTERN)])
    type = models.CharField(_("type"), max_length=20, choices=SensorType.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)
    lat = models.FloatField(_("latitude"))
    lng = models.FloatField(_("longitude"))
    address = models.CharField(_("address"), max_length=300, blank=True)
    grid = models.ForeignKey("grids.Region", verbose_name=_("unit grid"), on_delete=models.PROTECT, related_name="+")
    region_code = models.CharField(_("region code"), max_length=15, db_index=True)  # the grid's: scope filters
    department = models.ForeignKey("grids.Department", verbose_name=_("owner department"),
                                   on_delete=models.PROTECT, related_name="sensors")
    secret = models.CharField(_("secret"), max_length=128)
    integration_key = models.ForeignKey(SensorIntegrationKey, verbose_name=_("integration key"), null=True,
                                        blank=True, on_delete=models.PROTECT, related_name="devices")
    active = models.BooleanField(_("active"), default=True)
    registered_at = models.DateTimeField(_("registered at"))
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("sensor")
        verbose_name_plural = _("sensors")
        ordering = ["device_id"]

    def __str__(self):
        return self.device_id


class Comparison(models.TextChoices):
    GT = "gt", ">"
    GTE = "gte", "≥"
    LT = "lt", "<"
    LTE = "lte", "≤"


class SensorRule(models.Model):
    """When readings of ``metric`` from devices of ``device_type`` breach ``threshold`` for ``duration_seconds`` (or
    the device flags an alarm), open a case of ``category`` — at most one open case per (device, rule)."""

    name = models.CharField(_("name"), max_length=100)
    device_type = models.CharField(_("device type"), max_length=20, choices=SensorType.choices)
    metric = models.CharField(_("metric"), max_length=32, validators=[RegexValidator(METRIC_PATTERN)])
    comparison = models.CharField(_("comparison"), max_length=3, choices=Comparison.choices, default=Comparison.GT)
    threshold = models.FloatField(_("threshold"), null=True, blank=True,
                                  help_text=_("Empty: only readings the device flags as alarms trigger the rule."))
    duration_seconds = models.PositiveIntegerField(
        _("for at least (seconds)"), default=0,
        help_text=_("How long readings must stay beyond the threshold before a case is opened (0: at once)."))
    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="+")
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.URGENT)
    verify_on_recovery = models.BooleanField(
        _("ask for an on-site check on recovery"), default=True,
        help_text=_("When readings return to normal, ask the grid worker to check on site."))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("sensor rule")
        verbose_name_plural = _("sensor rules")
        ordering = ["device_type", "metric", "id"]

    def __str__(self):
        return self.name


class SensorReading(models.Model):
    """One event as a device sent it, keyed by ``(device, seq)``: a redelivered or replayed event inserts nothing.
    Rows are written in bulk (``INSERT … ON CONFLICT DO NOTHING``); the composite primary key is the only index kept
    on the insert path (on PostgreSQL a BRIN index on ``received_at``, made by the migration, serves retention)."""

    pk = models.CompositePrimaryKey("device", "seq")
    # No database FK constraint and no index of its own: the service checks the device, devices are never deleted
    # (PROTECT), and the primary key serves lookups by device. Each spared index or check is insert speed.
    device = models.ForeignKey(SensorDevice, verbose_name=_("sensor"), on_delete=models.PROTECT, related_name="+",
                               db_constraint=False, db_index=False)
    seq = models.PositiveBigIntegerField(_("sequence number"))
    ts = models.DateTimeField(_("measured at"))
    metric = models.CharField(_("metric"), max_length=32)
    value = models.FloatField(_("value"))
    alarm = models.BooleanField(_("alarm flag"), default=False)
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        verbose_name = _("sensor reading")
        verbose_name_plural = _("sensor readings")

    def __str__(self):
        return f"{self.device_id}#{self.seq} {self.metric}={self.value}"


class SensorRuleState(models.Model):
    """Where a (device, rule) pair stands: the current run of breaching readings, the last reading evaluated, and
    the case alarms go to. Locked (``FOR UPDATE``) while a batch evaluates or an alarm is turned into case events."""

    device = models.ForeignKey(SensorDevice, verbose_name=_("sensor"), on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey(SensorRule, verbose_name=_("rule"), on_delete=models.PROTECT, related_name="+")
    run_start = models.DateTimeField(_("beyond the threshold since"), null=True, blank=True)
    run_fired = models.BooleanField(_("alarm raised for this run"), default=False)
    last_ts = models.DateTimeField(_("last reading at"), null=True, blank=True)
    last_seq = models.PositiveBigIntegerField(_("last reading number"), null=True, blank=True)
    case = models.ForeignKey(Case, verbose_name=_("case"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    occurrences = models.PositiveIntegerField(_("occurrences on the case"), default=0)
    verify_pending = models.BooleanField(_("on-site check requested"), default=False)

    class Meta:
        verbose_name = _("sensor rule state")
        verbose_name_plural = _("sensor rule states")
        constraints = [models.UniqueConstraint(fields=["device", "rule"], name="unique_sensor_rule_state")]

    def __str__(self):
        return f"{self.device_id} · {self.rule_id}"


class AlarmKind(models.TextChoices):
    ALARM = "alarm", _("alarm")
    RECOVERED = "recovered", _("recovered")


class AlarmOutcome(models.TextChoices):
    OPENED = "opened", _("opened a case")
    OCCURRENCE = "occurrence", _("added to the open case")
    RECOVERED = "recovered", _("recorded on the open case")
    NO_CASE = "no_case", _("no open case")
    FAILED = "failed", _("failed")


class SensorAlarm(models.Model):
    """An alarm or recovery found by rule evaluation, written in the batch's transaction and turned into case
    events right after it commits (or by the beat sweep after a crash). Unique per (device, rule, kind, seq)."""

    device = models.ForeignKey(SensorDevice, verbose_name=_("sensor"), on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey(SensorRule, verbose_name=_("rule"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=AlarmKind.choices)
    seq = models.PositiveBigIntegerField(_("reading number"))
    ts = models.DateTimeField(_("measured at"))
    value = models.FloatField(_("value"))
    since = models.DateTimeField(_("beyond the threshold since"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"))
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=AlarmOutcome.choices, blank=True)
    case = models.ForeignKey(Case, verbose_name=_("case"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    detail = models.CharField(_("detail"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("sensor alarm")
        verbose_name_plural = _("sensor alarms")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["device", "rule", "kind", "seq"], name="unique_sensor_alarm"),
        ]
        indexes = [
            models.Index(fields=["created_at"], condition=models.Q(processed_at__isnull=True),
                         name="sensor_alarm_pending"),
        ]

    def __str__(self):
        return f"{self.device_id} {self.kind} #{self.seq}"


class IngestSource(models.TextChoices):
    HTTP = "http", "HTTP"
    MQTT = "mqtt", "MQTT"
    RULES = "rule", _("rule evaluation")


class RejectReason(models.TextChoices):
    MALFORMED = "malformed", _("malformed")
    UNKNOWN_DEVICE = "unknown_device", _("unknown device")
    INACTIVE_DEVICE = "inactive_device", _("device deactivated")
    NOT_AUTHORIZED = "not_authorized", _("not allowed for this signer")
    FUTURE_TS = "ts_in_future", _("timestamp in the future")
    TOO_OLD = "ts_too_old", _("timestamp older than the retention period")
    DUPLICATE = "duplicate", _("duplicate (already received)")
    UNKNOWN_KEY = "unknown_key", _("unknown integration key")
    BAD_SIGNATURE = "bad_signature", _("bad signature")
    STALE = "stale_timestamp", _("stale timestamp")
    TOO_LARGE = "too_large", _("batch too large")
    CASE_FAILED = "case_failed", _("alarm could not open a case")
    ERROR = "error", _("internal error")


class SensorRejectCount(models.Model):
    """How many events (or, for signature problems, requests and messages) were turned away, per UTC day, source and
    reason, with the last one's detail. Duplicates are counted here too, although they are not errors."""

    day = models.DateField(_("day (UTC)"))
    source = models.CharField(_("source"), max_length=4, choices=IngestSource.choices)
    reason = models.CharField(_("reason"), max_length=20, choices=RejectReason.choices)
    count = models.PositiveBigIntegerField(_("count"), default=0)
    last_detail = models.CharField(_("last detail"), max_length=300, blank=True)
    last_at = models.DateTimeField(_("last at"))

    class Meta:
        verbose_name = _("sensor reject count")
        verbose_name_plural = _("sensor reject counts")
        ordering = ["-day", "source", "reason"]
        constraints = [
            models.UniqueConstraint(fields=["day", "source", "reason"], name="unique_sensor_reject_count"),
        ]

    def __str__(self):
        return f"{self.day} {self.source} {self.reason}: {self.count}"
