"""Evaluation (综合评价): the facts each case contributes, their daily rollups, league tables and daily briefings.

Layers (dispatch/evaluation/, docs/indicators.md):

    CaseFact      one row per case: the case attributes its contributions were counted under, and what recurrence
                  needs (category, place, report and resolution moments)
    FactItem      the case's contributions: counters on a (day, department, person); a pure function of the case's
                  event log and stage clocks (``dispatch.evaluation.facts``)
    DailyFact     FactItems summed per day × region code (grid) × department × category × channel
    SummaryFact   FactItems summed per day or month × one dimension (region level, department, category, channel or
                  person) × scope (the street code): what the cockpit queries read
    RollupCursor  how far the rollup sweep has read the case event log

Rows are written only by ``dispatch.evaluation.rollups``; indicators are ratios of these counters.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

# Upper bounds (hours) of the handling-time histogram buckets d00 … d10; d11 is everything longer.
DURATION_BOUNDS_HOURS = (1, 2, 4, 8, 24, 48, 72, 120, 168, 336, 720)
DURATION_BUCKETS = tuple(f"d{i:02d}" for i in range(len(DURATION_BOUNDS_HOURS) + 1))

# Every counter, in one place (docs/indicators.md says what each counts).
COUNTERS = (
    "reported", "valid", "valid_public",
    "accepted", "accepted_on_time", "accepted_accurate", "voided",
    "dispatched", "dispatched_on_time", "dispatched_accurate", "dispatch_returned",
    "handle_due", "handle_done", "handle_on_time", "reworks", "extensions",
    "handled",
    "due", "due_closed", "due_closed_on_time", "due_closed_late", "first_time",
    "closed", "closed_self_handled",
    "duration_count", "duration_seconds", *DURATION_BUCKETS,
    "resolved_located", "recurred",
    "checks", "checks_on_time",
    "rated", "satisfied",
    "escalated",
)


def _counter():
    return models.IntegerField(default=0)


class Counters(models.Model):
    """The counters shared by the fact and rollup tables (plain integers; names in ``COUNTERS``)."""

    reported = _counter()
    valid = _counter()
    valid_public = _counter()
    accepted = _counter()
    accepted_on_time = _counter()
    accepted_accurate = _counter()
    voided = _counter()
    dispatched = _counter()
    dispatched_on_time = _counter()
    dispatched_accurate = _counter()
    dispatch_returned = _counter()
    handle_due = _counter()
    handle_done = _counter()
    handle_on_time = _counter()
    reworks = _counter()
    extensions = _counter()
    handled = _counter()
    due = _counter()
    due_closed = _counter()
    due_closed_on_time = _counter()
    due_closed_late = _counter()
    first_time = _counter()
    closed = _counter()
    closed_self_handled = _counter()
    duration_count = _counter()
    duration_seconds = models.BigIntegerField(default=0)
    d00 = _counter()
    d01 = _counter()
    d02 = _counter()
    d03 = _counter()
    d04 = _counter()
    d05 = _counter()
    d06 = _counter()
    d07 = _counter()
    d08 = _counter()
    d09 = _counter()
    d10 = _counter()
    d11 = _counter()
    resolved_located = _counter()
    recurred = _counter()
    checks = _counter()
    checks_on_time = _counter()
    rated = _counter()
    satisfied = _counter()
    escalated = _counter()

    class Meta:
        abstract = True


class CaseFact(models.Model):
    """What the rollups last counted for one case: the attributes its items were rolled up under (so a change of
    place or category moves them), and the fields the recurrence check (重复发生) looks up."""

    case = models.OneToOneField("events.Case", verbose_name=_("case"), primary_key=True, on_delete=models.CASCADE,
                                related_name="+")
    seq = models.PositiveIntegerField(_("last event number counted"))
    region_code = models.CharField(_("region code"), max_length=15)
    category = models.IntegerField(_("category id"), default=0)  # 0: none
    channel = models.CharField(_("channel"), max_length=10)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    # May count as a report of the same problem again: not rejected, not cancelled.
    recurrence_candidate = models.BooleanField(_("counts as a repeat report"), default=True)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("case fact")
        verbose_name_plural = _("case facts")
        indexes = [
            models.Index(fields=["category", "reported_at"], name="casefact_cat_reported"),
            models.Index(fields=["category", "resolved_at"], name="casefact_cat_resolved"),
        ]

    def __str__(self):
        return f"{self.case_id}#{self.seq}"


class FactItem(Counters):
    """One contribution of a case: counters on a day, for a department and a person (0: none)."""

    case = models.ForeignKey("events.Case", verbose_name=_("case"), on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("day"))
    department = models.IntegerField(_("department id"), default=0)
    person = models.IntegerField(_("person (user id)"), default=0)

    class Meta:
        verbose_name = _("case fact item")
        verbose_name_plural = _("case fact items")
        indexes = [
            models.Index(fields=["day"], name="factitem_day"),
            models.Index(fields=["department", "day"], name="factitem_department_day"),
            models.Index(fields=["person", "day"], name="factitem_person_day"),
        ]

    def __str__(self):
        return f"{self.case_id} {self.day}"


class DailyFact(Counters):
    """FactItems summed per local day × region code (the case's grid, else its street) × department × category ×
    channel. 0 / "" mean none."""

    day = models.DateField(_("day"))
    region_code = models.CharField(_("region code"), max_length=15)
    department = models.IntegerField(_("department id"), default=0)
    category = models.IntegerField(_("category id"), default=0)
    channel = models.CharField(_("channel"), max_length=10)

    class Meta:
        verbose_name = _("daily fact")
        verbose_name_plural = _("daily facts")
        constraints = [
            models.UniqueConstraint(fields=["day", "region_code", "department", "category", "channel"],
                                    name="dailyfact_key"),
        ]
        indexes = [models.Index(fields=["department", "day"], name="dailyfact_department_day")]

    def __str__(self):
        return f"{self.day} {self.region_code} {self.department} {self.category} {self.channel}"


class Grain(models.TextChoices):
    DAY = "d", _("day")
    MONTH = "m", _("month")


class SummaryFact(Counters):
    """FactItems summed per day or month × one dimension × scope. ``dim`` is city, district, street, community, grid,
    department, category, channel or person; ``key`` the region code / id / channel ("" = none); ``scope`` the case's
    street code (its district or city code when it has no street) so an area filter is a prefix match."""

    grain = models.CharField(_("grain"), max_length=1, choices=Grain.choices)
    period = models.DateField(_("period start"))
    dim = models.CharField(_("dimension"), max_length=10)
    key = models.CharField(_("key"), max_length=20)
    scope = models.CharField(_("scope (street code)"), max_length=9)

    class Meta:
        verbose_name = _("summary fact")
        verbose_name_plural = _("summary facts")
        constraints = [
            models.UniqueConstraint(fields=["dim", "grain", "period", "key", "scope"], name="summaryfact_key"),
        ]

    def __str__(self):
        return f"{self.grain}{self.period} {self.dim}={self.key} @{self.scope}"


class RollupCursor(models.Model):
    """The rollup sweep's position in the case event log (one row): events up to ``last_event_id`` are counted, and
    ``gaps`` lists lower ids not seen yet (a transaction still open when the sweep passed) as [id, first seen]."""

    last_event_id = models.BigIntegerField(_("last event id"), default=0)
    gaps = models.JSONField(_("ids still to look for"), default=list)
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("rollup cursor")
        verbose_name_plural = _("rollup cursor")

    def __str__(self):
        return f"event {self.last_event_id} ({len(self.gaps)} gaps)"


# --- League tables (红黄黑榜) ----------------------------------------------------------------------------------------
class EvaluationObject(models.TextChoices):
    DEPARTMENT = "department", _("department")
    REGION = "region", _("region")
    POSITION = "position", _("position")


class Listing(models.TextChoices):
    NONE = "", _("not listed")
    RED = "red", _("red list")  # 红榜
    YELLOW = "yellow", _("yellow list")  # 黄榜


class LeagueTable(models.Model):
    """The monthly ranking of one kind of unit inside a city: departments, regions of one level (``kind`` = level)
    or people in one position (``kind`` = role). Recomputing a month replaces its entries."""

    month = models.DateField(_("month"))
    object = models.CharField(_("object"), max_length=10, choices=EvaluationObject.choices)
    kind = models.CharField(_("level or role"), max_length=20, blank=True)
    scope = models.CharField(_("scope (region code)"), max_length=15)
    settings = models.JSONField(_("weights and rules used"), default=dict)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("league table")
        verbose_name_plural = _("league tables")
        ordering = ["-month", "object", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["month", "object", "kind", "scope"], name="leaguetable_key"),
        ]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.object} {self.kind} {self.scope}"


class LeagueEntry(models.Model):
    table = models.ForeignKey(LeagueTable, verbose_name=_("league table"), on_delete=models.CASCADE,
                              related_name="entries")
    key = models.CharField(_("key"), max_length=40)
    name = models.CharField(_("name"), max_length=150)
    score = models.FloatField(_("composite score"), null=True, blank=True)
    grade = models.CharField(_("grade"), max_length=1, blank=True)
    rank = models.PositiveIntegerField(_("rank"), null=True, blank=True)
    sample = models.PositiveIntegerField(_("sample size"), default=0)
    components = models.JSONField(_("components"), default=dict)
    listing = models.CharField(_("listing"), max_length=6, choices=Listing.choices, blank=True)

    class Meta:
        verbose_name = _("league table entry")
        verbose_name_plural = _("league table entries")
        ordering = ["table", "rank", "key"]
        constraints = [models.UniqueConstraint(fields=["table", "key"], name="leagueentry_key")]

    def __str__(self):
        return f"{self.table}: {self.rank} {self.name}"


class BlackListing(models.Model):
    """黑榜: a unit on the yellow list twice within 12 months, with the date it must have rectified by."""

    object = models.CharField(_("object"), max_length=10, choices=EvaluationObject.choices)
    kind = models.CharField(_("level or role"), max_length=20, blank=True)
    key = models.CharField(_("key"), max_length=40)
    name = models.CharField(_("name"), max_length=150)
    scope = models.CharField(_("scope (region code)"), max_length=15)
    month = models.DateField(_("listed for month"))
    yellow_months = models.JSONField(_("yellow-list months"), default=list)
    rectify_by = models.DateField(_("rectify by"))
    listed_at = models.DateTimeField(_("listed at"))
    rectified_at = models.DateTimeField(_("rectification done at"), null=True, blank=True)
    rectified_by = models.ForeignKey("grids.User", verbose_name=_("rectification marked done by"), null=True,
                                     blank=True, on_delete=models.PROTECT, related_name="+")
    rectification_note = models.TextField(_("rectification note"), max_length=2000, blank=True)

    class Meta:
        verbose_name = _("black listing")
        verbose_name_plural = _("black listings")
        ordering = ["-month", "object", "key"]
        constraints = [
            models.UniqueConstraint(fields=["object", "kind", "key", "scope", "month"], name="blacklisting_key"),
        ]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.object} {self.name}"


class Briefing(models.Model):
    """一日一研商: the stored summary of one day in one region (``data``, rendered as HTML or XLSX on download)."""

    region_code = models.CharField(_("region code"), max_length=15)
    day = models.DateField(_("day"))
    data = models.JSONField(_("summary"), default=dict)
    generated_at = models.DateTimeField(_("generated at"))

    class Meta:
        verbose_name = _("daily briefing")
        verbose_name_plural = _("daily briefings")
        ordering = ["-day", "region_code"]
        constraints = [models.UniqueConstraint(fields=["region_code", "day"], name="briefing_key")]

    def __str__(self):
        return f"{self.day} {self.region_code}"
