"""Categories of problems (部件 components / 事件 events, 大类/小类), per CJ/T 214 style codes."""

import enum
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from grids.models import DepartmentType


class CategoryKind(models.TextChoices):
    COMPONENT = "component", _("component")  # 部件
    EVENT = "event", _("event")  # 事件


class Urgency(models.TextChoices):
    NORMAL = "normal", _("normal")
    URGENT = "urgent", _("urgent")


class LimitUnit(models.TextChoices):
    URGENT_HOUR = "urgent_hour", _("urgent hours (wall clock)")  # 紧急工作时
    WORK_HOUR = "work_hour", _("working hours")  # 工作时
    WORK_DAY = "work_day", _("working days")  # 工作日
    NATURAL_DAY = "natural_day", _("calendar days")  # 自然日


KIND_LETTER: dict[str, str] = {CategoryKind.COMPONENT: "C", CategoryKind.EVENT: "E"}


class Category(models.Model):
    """A 小类 with its 大类, default urgency, handling limit and responsible department type.

    ``code`` is the kind letter + 大类 + 小类 (``C0101`` 上水井盖, ``E0101`` …), unique across both kinds. Categories
    are deactivated, never deleted while cases use them (cases refer to them with PROTECT).
    """

    code = models.CharField(_("code"), max_length=10, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=CategoryKind.choices)
    major_code = models.CharField(_("major class code"), max_length=2)
    major_name = models.CharField(_("major class"), max_length=50)
    minor_code = models.CharField(_("minor class code"), max_length=2)
    minor_name = models.CharField(_("minor class"), max_length=50)
    default_urgency = models.CharField(_("default urgency"), max_length=10, choices=Urgency.choices)
    handling_limit = models.PositiveIntegerField(_("handling limit"))
    limit_unit = models.CharField(_("limit unit"), max_length=12, choices=LimitUnit.choices)
    department_type = models.CharField(_("responsible department type"), max_length=20, choices=DepartmentType.choices)
    active = models.BooleanField(_("active"), default=True)
    # 立案 by hand: grid workers' reports of this category wait for a dispatcher (受理员) to accept them, instead of
    # being accepted on filing (GRIDLOOP_AUTO_ACCEPT_PATROL), e.g. 违法建设, always checked before a case is opened.
    manual_accept = models.BooleanField(
        _("accepted by hand"), default=False,
        help_text=_("Grid workers' reports of this category wait for a dispatcher to accept them (立案) instead of "
                    "being accepted on filing."))
    # Duplicate detection (events/duplicates.py): open cases of this category (or its class) this close to a new
    # report and opened this recently are offered as the case it repeats.
    duplicate_radius_m = models.PositiveIntegerField(_("duplicate radius (m)"), default=100,
                                                     validators=[MinValueValidator(1), MaxValueValidator(1000)])
    duplicate_window_hours = models.PositiveIntegerField(_("duplicate window (hours)"), default=72,
                                                         validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "major_code", "minor_code"], name="unique_category_kind_codes"),
            models.CheckConstraint(condition=models.Q(handling_limit__gt=0), name="category_limit_positive"),
            models.CheckConstraint(condition=models.Q(duplicate_radius_m__gte=1, duplicate_radius_m__lte=1000),
                                   name="category_duplicate_radius_range"),
            models.CheckConstraint(condition=models.Q(duplicate_window_hours__gte=1),
                                   name="category_duplicate_window_positive"),
        ]

    def __str__(self):
        return f"{self.code} {self.major_name}/{self.minor_name}"


# --- Reports, cases and the case event log -------------------------------------------------------------------------------
class Channel(models.TextChoices):
    PATROL = "patrol", _("grid patrol")  # 网格巡查
    HOTLINE = "hotline", _("hotline")  # 热线
    WECHAT = "wechat", _("WeChat")
    SENSOR = "sensor", _("IoT sensor")
    OPEN311 = "open311", _("Open311")
    WEB = "web", _("web")


class CaseState(models.TextChoices):
    REPORTED = "reported", _("awaiting acceptance")  # 待受理
    ACCEPTED = "accepted", _("accepted, awaiting dispatch")  # 已立案，待派遣
    DISPATCHED = "dispatched", _("dispatched, awaiting sign-off")  # 已派遣，待签收
    HANDLING = "handling", _("being handled")  # 处置中
    SUSPENDED = "suspended", _("suspended")  # 挂账
    HANDLED = "handled", _("handled, awaiting check")  # 处置完成，待核查
    VERIFIED = "verified", _("checked, awaiting feedback")  # 核查通过，待回访
    CLOSED = "closed", _("closed")  # 已结案
    REJECTED = "rejected", _("not accepted")  # 不予立案
    MERGED = "merged", _("merged")  # 已并案
    CANCELLED = "cancelled", _("cancelled")  # 已作废


OPEN_STATES = [
    CaseState.REPORTED, CaseState.ACCEPTED, CaseState.DISPATCHED, CaseState.HANDLING, CaseState.SUSPENDED,
    CaseState.HANDLED, CaseState.VERIFIED,
]
OPEN_STATE_VALUES = [state.value for state in OPEN_STATES]  # plain strings, for index conditions in migrations
TERMINAL_STATES = [CaseState.CLOSED, CaseState.REJECTED, CaseState.MERGED, CaseState.CANCELLED]
MAX_EXTENSIONS = 2  # approved extensions per case, each adding one handling limit to its handle clock


class CloseReason(models.TextChoices):
    """Why a case ended. "Closed" is never shown as "fixed": the reason is always explicit."""

    RESOLVED = "resolved", _("resolved")
    SELF_HANDLED = "self_handled", _("handled on the spot")  # 自行处置
    REJECTED = "rejected", _("not accepted")
    DUPLICATE = "duplicate", _("duplicate")
    CANCELLED = "cancelled", _("cancelled")


class CommandLevel(models.TextChoices):
    STREET = "street", _("street")
    DISTRICT = "district", _("district")
    CITY = "city", _("city")


def center_code(region_code: str, level: str) -> str:
    """Code of the command center at ``level`` whose area holds ``region_code`` (a case's, ``Case.center_code``)."""
    if level == CommandLevel.STREET:
        return region_code[:9]
    if level == CommandLevel.DISTRICT:
        return region_code[:6]
    return region_code[:4] + "00"


class EscalationPolicy(models.TextChoices):
    """What an escalation (上报) to a command level does (``GRIDLOOP_ESCALATION_POLICY``, per receiving level)."""

    TAKE_OVER = "take_over", _("take over (the upper center owns the case)")
    SUPERVISE = "supervise", _("supervise (the lower center stays responsible)")


class FieldCheck(models.TextChoices):
    """核实: a grid worker confirms on site that a citizen's report is real, before 立案."""

    NONE = "", _("not requested")
    REQUESTED = "requested", _("requested")
    CONFIRMED = "confirmed", _("confirmed on site")
    NOT_FOUND = "not_found", _("not found on site")


class EventKind(models.TextChoices):
    """What a case event records (``CaseEvent.kind``, stored and in the API): each action of the workflow under its
    API name, and the events that are not actions. The labels are the timeline's plain words (UI.md "Words"); a kind
    without words yet is shown as its code."""

    REPORTED = "reported", _("reported (受理)")
    REPORT_ADDED = "report_added", _("further report joined")
    INQUIRY_ANSWERED = "inquiry_answered", _("progress inquiry answered")
    PHOTO_ADDED = "photo_added", "photo_added"
    MERGED_IN = "merged_in", _("a duplicate merged in (并案)")
    SENSOR_ALARM = "sensor_alarm", "sensor_alarm"
    SENSOR_RECOVERED = "sensor_recovered", "sensor_recovered"
    SUPERVISION_REPLY = "supervision_reply", _("order answered")
    # the actions (Case's transitions)
    REQUEST_FIELD_CHECK = "request_field_check", _("on-site check requested")
    FIELD_CHECK = "field_check", _("checked on site (核实)")
    ACCEPT = "accept", _("accepted (立案)")
    REJECT = "reject", _("not accepted")
    MERGE = "merge", _("merged")
    CONFIRM_SELF_HANDLED = "confirm_self_handled", "confirm_self_handled"
    DISPATCH = "dispatch", _("dispatched (派遣)")
    SIGN = "sign", _("signed (签收)")
    RETURN = "return", _("returned (回退)")
    REQUEST_EXTENSION = "request_extension", _("extension requested (延期)")
    APPROVE_EXTENSION = "approve_extension", _("extension approved")
    DENY_EXTENSION = "deny_extension", _("extension denied")
    SUSPEND = "suspend", _("suspended (挂账)")
    RESUME = "resume", _("resumed")
    COMPLETE = "complete", _("handled (处置完成)")
    VERIFY = "verify", _("checked on site (核查)")
    REWORK = "rework", _("sent back for rework (返工)")
    FEEDBACK = "feedback", _("caller's feedback (回访)")
    CLOSE = "close", _("closed (结案)")
    REOPEN = "reopen", _("reopened")
    ESCALATE = "escalate", _("escalated")
    URGE = "urge", _("urged (催办)")
    SUPERVISE = "supervise", _("supervision order (督办)")
    CANCEL = "cancel", _("cancelled (作废)")


def event_words(kind: str) -> str:
    """The event kind in the timeline's plain words (the code itself for a kind unknown here)."""
    return str(EventKind(kind).label) if kind in EventKind.values else kind


class ClockEffect(enum.StrEnum):
    """What an action does to the case's stage clocks (``dispatch.clocks.clocks_on_transition``)."""

    START = "start"  # a new case: its first stage starts (no clocks yet)
    MOVE = "move"  # every action unless named otherwise: finish the other stages' clocks, start the new state's
    PAUSE = "pause"  # the handling clock stops (suspend)
    RESUME = "resume"  # … and runs again; the paused time moves its deadline
    EXTEND = "extend"  # the handling clock gets one more base limit (at most MAX_EXTENSIONS)
    RESTART = "restart"  # the stage starts afresh (rework; escalate: at the new level's limit)


class Audience(enum.StrEnum):
    """Whom an event is announced to: ``dispatch.outbox`` writes the messages, in each reader's language."""

    DISPATCHED_DEPARTMENT = "dispatched_department"  # the handlers of the department it was dispatched to
    OWNING_CENTER = "owning_center"  # the dispatchers of the command center that owns it
    UPPER_CENTER = "upper_center"  # the dispatchers of the command center it was escalated to
    IN_CHARGE = "in_charge"  # the handlers of the department in charge, else the owning center's dispatchers
    REPORTERS = "reporters"  # the citizens who reported it, each on their channel
    DISSATISFIED = "dissatisfied"  # rated 1–2: the supervisors over its area, who decide whether to reopen it
    MERGED_REPORTERS = "merged_reporters"  # once it is closed: the citizens whose reports were merged into it


# --- What a transition needs besides its source state: conditions (with the sentence a refused person reads) --------
class Condition:
    """A django-fsm condition of a transition: true when ``problem(case)`` finds none. ``problem`` returns the
    sentence a refused person reads (the 409 says it), or None."""

    def __init__(self, problem: "Callable[[Case], str | None]"):
        self.problem = problem
        self.__name__ = problem.__name__
        self.__doc__ = problem.__doc__

    def __call__(self, case: "Case") -> bool:
        return self.problem(case) is None

    def __repr__(self) -> str:
        return f"<condition {self.__name__}>"


@Condition
def filed_as_self_handled(case: "Case") -> str | None:
    if not case.self_handled:
        return gettext("only a report filed as handled on the spot can be confirmed as such")
    return None


@Condition
def no_field_check_requested(case: "Case") -> str | None:
    if case.field_check_status == FieldCheck.REQUESTED:
        return gettext("an on-site check is already requested")
    return None


@Condition
def field_check_requested(case: "Case") -> str | None:
    if case.field_check_status != FieldCheck.REQUESTED:
        return gettext("no on-site check was requested for this case")
    return None


@Condition
def no_extension_waiting(case: "Case") -> str | None:
    if case.extension_pending:
        return gettext("an extension request is already waiting for a decision")
    return None


@Condition
def extensions_left(case: "Case") -> str | None:
    if case.extensions_count >= MAX_EXTENSIONS:
        return gettext("a case gets at most %(n)s extensions") % {"n": MAX_EXTENSIONS}
    return None


@Condition
def extension_waiting(case: "Case") -> str | None:
    if not case.extension_pending:
        return gettext("no extension request is waiting")
    return None


@Condition
def never_suspended(case: "Case") -> str | None:
    if case.suspensions_count:
        return gettext("a case can be suspended only once")
    return None


@Condition
def no_feedback_due(case: "Case") -> str | None:
    if case.citizen_key and case.verified_at and (
        timezone.now() < case.verified_at + timedelta(hours=settings.GRIDLOOP_FEEDBACK_WINDOW_HOURS)
    ):
        return gettext("the reporter's feedback is still due; close after the feedback window or record their "
                       "feedback")
    return None


@Condition
def resolved_with_dissatisfied_feedback(case: "Case") -> str | None:
    if case.close_reason != CloseReason.RESOLVED or case.rating is None or case.rating > 3:
        return gettext("only a resolved case with dissatisfied feedback (rating 1–3) can be reopened")
    return None


@Condition
def within_reopen_window(case: "Case") -> str | None:
    if case.closed_at and timezone.now() > case.closed_at + timedelta(days=settings.GRIDLOOP_REOPEN_WINDOW_DAYS):
        return gettext("the reopen window of %(n)s days after closure has passed") % {
            "n": settings.GRIDLOOP_REOPEN_WINDOW_DAYS}
    return None


@Condition
def below_the_city(case: "Case") -> str | None:
    if case.top_level == CommandLevel.CITY:
        return gettext("the case is already at the city command center")
    return None


# --- Who may take a transition: its django-fsm permission ---------------------------------------------------------------
DISPATCHER, HANDLER, GRID_WORKER, SUPERVISOR = "dispatcher", "handler", "grid_worker", "supervisor"
OPERATOR, REPORTER, SYSTEM = "operator", "reporter", "system"


class By:
    """The permission of a transition: the capacities that may take it (events/workflow.py, "by"). django-fsm calls
    it with the case and whoever acts — an ``events.access.Acting``: the actor with their capacities on this case.

    ``unless`` is a rule on the acting capacities: it names why these capacities may not take the action on this
    case now (a 409, as a condition's), or None."""

    def __init__(self, *capacities: str, unless: "Callable[[Case, list[str]], str | None] | None" = None):
        self.capacities = capacities
        self.unless = unless

    def holders(self, acting) -> list[str]:
        """The acting capacities that may take the transition, in the order ``events.access.capacities`` gives."""
        return [capacity for capacity in acting.capacities if capacity in self.capacities]

    def refusal(self, case: "Case", acting) -> str | None:
        return self.unless(case, self.holders(acting)) if self.unless is not None else None

    def __call__(self, case: "Case", acting) -> bool:
        return bool(self.holders(acting)) and self.refusal(case, acting) is None

    def __repr__(self) -> str:
        return f"<by {', '.join(self.capacities)}>"


def department_to_urge(case: "Case", mine: list[str]) -> str | None:
    """A dispatcher urges the department in charge; with none, it would urge itself (a supervisor's urge goes to the
    owning center's dispatchers)."""
    if case.department_id is None and SUPERVISOR not in mine:
        return "no department is in charge of this case to urge; dispatch it"
    return None


def step(*, requires: tuple[str, ...] = (), clock: str = ClockEffect.MOVE, notices: tuple[str, ...] = (),
         name: str = "") -> dict:
    """The rest of a transition's declaration (django-fsm ``custom``): the inputs it requires (400 naming the field
    when missing), its clock effect, whom its event is announced to, and its API name when not the method's."""
    return {"requires": requires, "clock": clock, "notices": notices, "name": name}


class Case(models.Model):
    """A case (案卷). Its state changes only through ``events.services.case_act``; see events/workflow.py."""

    number = models.CharField(_("case number"), max_length=20)
    state = FSMField(_("state"), max_length=12, choices=CaseState.choices, default=CaseState.REPORTED,
                     protected=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    category = models.ForeignKey(Category, verbose_name=_("category"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="cases")
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    description = models.TextField(_("description"), max_length=4000)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    grid = models.ForeignKey("grids.Region", verbose_name=_("unit grid"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="+")
    # Empty only for an unstructured report owned by a district or city center until a dispatcher locates it.
    street = models.ForeignKey("grids.Region", verbose_name=_("street"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    district = models.ForeignKey("grids.Region", verbose_name=_("district"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    # The most specific region code known (the grid's, else the street's): scope filters use it as a prefix.
    region_code = models.CharField(_("region code"), max_length=15, db_index=True)
    level = models.CharField(_("command level"), max_length=10, choices=CommandLevel.choices,
                             default=CommandLevel.STREET)
    # An escalation under the "supervise" policy: the upper center at this level watches and coordinates (it may act
    # as the case's dispatcher too) while ``level`` keeps owning the case. Empty when nobody above the owner watches.
    escalated_to = models.CharField(_("escalated to (supervising level)"), max_length=10,
                                    choices=CommandLevel.choices, blank=True)
    escalation_policy = models.CharField(_("escalation policy"), max_length=10, choices=EscalationPolicy.choices,
                                         blank=True, help_text=_("The policy of the case's last escalation."))
    department = models.ForeignKey("grids.Department", verbose_name=_("department in charge"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="cases", db_index=False)
    merged_into = models.ForeignKey("self", verbose_name=_("merged into"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="merged_cases", db_index=False)
    close_reason = models.CharField(_("close reason"), max_length=15, choices=CloseReason.choices, blank=True)
    self_handled = models.BooleanField(_("reported as handled on the spot"), default=False)
    field_check_status = models.CharField(_("on-site check (核实)"), max_length=10, choices=FieldCheck.choices, blank=True)
    outside_reporter_grids = models.BooleanField(_("reported outside the worker's grids"), default=False)
    reporter = models.ForeignKey("grids.User", verbose_name=_("reporting staff"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="reported_cases")
    citizen_key = models.CharField(_("citizen identity hash"), max_length=64, blank=True)
    returns_count = models.PositiveIntegerField(_("returns"), default=0)
    reworks_count = models.PositiveIntegerField(_("reworks"), default=0)
    extensions_count = models.PositiveIntegerField(_("extensions approved"), default=0)
    extension_pending = models.BooleanField(_("extension requested"), default=False)
    reopens_count = models.PositiveIntegerField(_("reopens"), default=0)
    escalations_count = models.PositiveIntegerField(_("escalations"), default=0)
    suspended_until = models.DateTimeField(_("suspended until"), null=True, blank=True)
    suspensions_count = models.PositiveIntegerField(_("suspensions"), default=0)
    rating = models.PositiveSmallIntegerField(_("reporter rating"), null=True, blank=True)
    rating_comment = models.CharField(_("rating comment"), max_length=500, blank=True)
    # A citizen report that came without a location (e.g. free text on WeChat): the dispatcher sets the location (and
    # the category) when accepting it. Rated 1–2 by the reporter: waits for a supervisor's reopen decision.
    unstructured = models.BooleanField(_("awaiting location (unstructured report)"), default=False)
    reopen_review = models.BooleanField(_("dissatisfied: reopen decision due"), default=False)
    created_at = models.DateTimeField(_("created at"), db_index=True)
    updated_at = models.DateTimeField(_("updated at"))
    verified_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    last_seq = models.PositiveIntegerField(_("last event number"), default=0)
    last_hash = models.CharField(_("last event hash"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-number"]
        # Every index is paid for on each intake and, as a transition changes the state, on each transition too: no
        # index another one covers (state and department lead the composite ones), no pattern-ops copies
        # PostgreSQL would add for unique or indexed text columns only looked up whole (number, citizen_key),
        # and partial indexes where only a few rows qualify.
        constraints = [models.UniqueConstraint(fields=["number"], name="unique_case_number")]
        indexes = [
            models.Index(fields=["state", "level", "region_code"]),
            models.Index(fields=["department", "state"]),
            models.Index(fields=["citizen_key"], name="case_citizen_key"),
            models.Index(fields=["merged_into"], name="case_merged_into", condition=models.Q(merged_into__isnull=False)),
            models.Index(fields=["reopen_review"], name="case_reopen_review", condition=models.Q(reopen_review=True)),
            # Duplicate search (events/duplicates.py): a bounding box over open cases only.
            models.Index(fields=["lat", "lng"], name="case_open_point",
                         condition=models.Q(state__in=OPEN_STATE_VALUES)),
            # The console's worklist and counts (dispatch/worklist.py): a center's open cases by level and code
            # prefix (pattern ops: LIKE 'prefix%'), with what the sort and the scope read, without the table.
            models.Index(fields=["level", "region_code"], name="case_open_center",
                         opclasses=["varchar_ops", "varchar_pattern_ops"], include=["number", "reporter"],
                         condition=models.Q(state__in=OPEN_STATE_VALUES)),
        ]

    def __str__(self):
        return self.number

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def command_code(self) -> str:
        """Code of the command center that owns the case at its current level."""
        return self.center_code(self.level)

    def center_code(self, level: str) -> str:
        """Code of the command center at ``level`` whose area holds the case."""
        return center_code(self.region_code, level)

    @property
    def top_level(self) -> str:
        """The highest command level on the case: the supervising one (``escalated_to``), else the owner's. Clocks
        run at this level's limits and the next escalation goes one above it."""
        return self.escalated_to or self.level

    # --- Transitions (django-fsm): each action of the workflow (events/workflow.py), declared once: its sources and
    # target, its conditions, who may take it (permission), and (custom, ``step``) the inputs it requires, its clock
    # effect and its notices. ``events.services.case_act`` takes them (the lock, the checks, the event log, the
    # clocks, the outbox); what one changes besides the state, and its event payload, is the function registered for
    # it in ``events.services.ACTION_PAYLOADS``. Chinese: the step's name in the command center's words.
    S = CaseState
    OPEN = OPEN_STATES

    # receive 受理/立案
    # system: a sensor case whose readings recovered asks the grid worker to check on site (events/sensors)
    @transition(state, source=S.REPORTED, target=None, conditions=[no_field_check_requested],
                permission=By(DISPATCHER, SYSTEM), custom=step())
    def request_field_check(self): ...  # 请求核实

    @transition(state, source=S.REPORTED, target=None, conditions=[field_check_requested],
                permission=By(GRID_WORKER), custom=step(requires=("result",)))
    def field_check(self): ...  # 核实

    @transition(state, source=S.REPORTED, target=S.ACCEPTED, permission=By(DISPATCHER, SYSTEM), custom=step())
    def accept(self): ...  # 立案

    @transition(state, source=S.REPORTED, target=S.REJECTED, permission=By(DISPATCHER),
                custom=step(requires=("reason",), notices=(Audience.REPORTERS,)))
    def reject(self): ...  # 不予立案

    @transition(state, source=[S.REPORTED, S.ACCEPTED], target=S.MERGED, permission=By(DISPATCHER),
                custom=step(requires=("target",)))
    def merge(self): ...  # 并案

    @transition(state, source=S.REPORTED, target=S.CLOSED, conditions=[filed_as_self_handled],
                permission=By(DISPATCHER), custom=step())
    def confirm_self_handled(self): ...  # 自行处置确认

    # assign 派遣/签收
    @transition(state, source=S.ACCEPTED, target=S.DISPATCHED, permission=By(DISPATCHER, SYSTEM),
                custom=step(requires=("department",), notices=(Audience.DISPATCHED_DEPARTMENT,)))
    def dispatch(self): ...  # 派遣

    @transition(state, source=S.DISPATCHED, target=S.HANDLING, permission=By(HANDLER), custom=step())
    def sign(self): ...  # 签收

    @transition(state, source=[S.DISPATCHED, S.HANDLING], target=S.ACCEPTED, permission=By(HANDLER),
                custom=step(name="return", requires=("reason",), notices=(Audience.OWNING_CENTER,)))
    def return_to_dispatcher(self): ...  # 回退

    # handle 处置
    @transition(state, source=S.HANDLING, target=None, conditions=[no_extension_waiting, extensions_left],
                permission=By(HANDLER), custom=step(requires=("reason",)))
    def request_extension(self): ...  # 延期申请

    @transition(state, source=S.HANDLING, target=None, conditions=[extension_waiting], permission=By(DISPATCHER),
                custom=step(clock=ClockEffect.EXTEND))
    def approve_extension(self): ...

    @transition(state, source=S.HANDLING, target=None, conditions=[extension_waiting], permission=By(DISPATCHER),
                custom=step(requires=("reason",)))
    def deny_extension(self): ...

    @transition(state, source=S.HANDLING, target=S.SUSPENDED, conditions=[never_suspended],
                permission=By(DISPATCHER), custom=step(requires=("reason", "until"), clock=ClockEffect.PAUSE))
    def suspend(self): ...  # 挂账

    @transition(state, source=S.SUSPENDED, target=S.HANDLING, permission=By(DISPATCHER, SYSTEM),
                custom=step(clock=ClockEffect.RESUME))
    def resume(self): ...

    @transition(state, source=S.HANDLING, target=S.HANDLED, permission=By(HANDLER),
                custom=step(requires=("note", "photos")))
    def complete(self): ...  # 处置完成

    # supervise 核查
    @transition(state, source=S.HANDLED, target=S.VERIFIED, permission=By(GRID_WORKER, SUPERVISOR),
                custom=step(requires=("photos",), notices=(Audience.REPORTERS,)))
    def verify(self): ...  # 核查通过

    @transition(state, source=S.HANDLED, target=S.HANDLING, permission=By(GRID_WORKER, DISPATCHER),
                custom=step(requires=("reason",), clock=ClockEffect.RESTART))
    def rework(self): ...  # 返工

    # feedback 回访/结案
    @transition(state, source=S.VERIFIED, target=S.CLOSED, permission=By(REPORTER, OPERATOR),
                custom=step(requires=("rating",), notices=(Audience.MERGED_REPORTERS, Audience.DISSATISFIED)))
    def feedback(self): ...  # 回访评价

    # system: the sweep closes a verified case with no citizen to ask once the feedback window has passed
    @transition(state, source=S.VERIFIED, target=S.CLOSED, conditions=[no_feedback_due],
                permission=By(DISPATCHER, SYSTEM), custom=step(notices=(Audience.MERGED_REPORTERS, Audience.REPORTERS)))
    def close(self): ...  # 结案

    @transition(state, source=S.CLOSED, target=S.HANDLING,
                conditions=[resolved_with_dissatisfied_feedback, within_reopen_window], permission=By(SUPERVISOR),
                custom=step(requires=("reason",)))
    def reopen(self): ...  # 重新办理

    # oversight, from any open state
    @transition(state, source=OPEN, target=None, conditions=[below_the_city],
                permission=By(DISPATCHER, SUPERVISOR, SYSTEM),
                custom=step(requires=("reason",), clock=ClockEffect.RESTART, notices=(Audience.UPPER_CENTER,)))
    def escalate(self): ...  # 上报

    # 催办: the command center's daily tool (the dispatchers of the owning center) and supervisors'; 督办: supervisors
    @transition(state, source=OPEN, target=None, permission=By(DISPATCHER, SUPERVISOR, unless=department_to_urge),
                custom=step(requires=("note",), notices=(Audience.IN_CHARGE,)))
    def urge(self): ...  # 催办

    @transition(state, source=OPEN, target=None, permission=By(SUPERVISOR),
                custom=step(requires=("note", "type", "reply_due"), notices=(Audience.IN_CHARGE,)))
    def supervise(self): ...  # 督办

    @transition(state, source=OPEN, target=S.CANCELLED, permission=By(SUPERVISOR), custom=step(requires=("reason",)))
    def cancel(self): ...  # 作废

    del S, OPEN


class CaseNumberSequence(models.Model):
    """Per-day counter behind case numbers (YYYYMMDD + 5-digit sequence, Asia/Shanghai day)."""

    day = models.DateField(_("day"), primary_key=True)
    last = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("case number sequence")
        verbose_name_plural = _("case number sequences")

    def __str__(self):
        return f"{self.day}: {self.last}"


class ActorKind(models.TextChoices):
    USER = "user", _("staff user")
    SYSTEM = "system", _("system")
    CITIZEN = "citizen", _("citizen")
    SENSOR = "sensor", _("sensor")


class CaseEvent(models.Model):
    """One thing that happened to a case. Append-only, hash-chained per case:
    ``hash = SHA-256(canonical JSON of the row + prev_hash)`` (events/chain.py). On PostgreSQL a trigger refuses
    UPDATE and DELETE. The case timeline is read from these rows."""

    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="events",
                             db_index=False)  # (the unique (case, seq) index serves)
    seq = models.PositiveIntegerField(_("number"))
    kind = models.CharField(_("kind"), max_length=30)
    actor = models.ForeignKey("grids.User", verbose_name=_("actor"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    actor_kind = models.CharField(_("actor kind"), max_length=10, choices=ActorKind.choices)
    actor_ref = models.CharField(_("actor reference"), max_length=64, blank=True)
    actor_role = models.CharField(_("actor role"), max_length=20, blank=True)
    from_state = models.CharField(_("from state"), max_length=12, blank=True)
    to_state = models.CharField(_("to state"), max_length=12, blank=True)
    level = models.CharField(_("command level"), max_length=10, blank=True)
    payload = models.JSONField(_("payload"), default=dict)
    occurred_at = models.DateTimeField(_("occurred at"))
    prev_hash = models.CharField(_("previous hash"), max_length=64, blank=True)
    hash = models.CharField(_("hash"), max_length=64)

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["case_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="unique_case_event_seq")]
        # The Open311 update feed and ``updated_after`` read the log by time (events/open311/selectors.py).
        indexes = [models.Index(fields=["occurred_at"], name="case_event_occurred")]

    def __str__(self):
        return f"{self.case_id}#{self.seq} {self.kind}"


class InboundReport(models.Model):
    """What a channel delivered, kept as received (immutable). A case is made from one or more reports."""

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="reports")
    reporter = models.ForeignKey("grids.User", verbose_name=_("reporting staff"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    citizen_name = models.CharField(_("citizen name"), max_length=50, blank=True)
    citizen_phone = models.CharField(_("citizen phone"), max_length=20, blank=True)
    citizen_openid = models.CharField(_("WeChat openid"), max_length=64, blank=True)
    citizen_email = models.EmailField(_("citizen email"), blank=True)
    citizen_key = models.CharField(_("citizen identity hash"), max_length=64, blank=True)
    description = models.TextField(_("description"), max_length=4000)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    category = models.ForeignKey(Category, verbose_name=_("category"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, blank=True)
    self_handled = models.BooleanField(_("handled on the spot"), default=False)
    raw_payload = models.JSONField(_("raw payload"), default=dict)
    received_at = models.DateTimeField(_("received at"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=100, blank=True)
    idempotency_scope = models.CharField(_("idempotency scope"), max_length=80, blank=True)

    class Meta:
        verbose_name = _("inbound report")
        verbose_name_plural = _("inbound reports")
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"], condition=~models.Q(idempotency_key=""),
                name="unique_report_idempotency_key",
            )
        ]
        indexes = [models.Index(fields=["citizen_key"], name="report_citizen_key")]  # (no pattern-ops copy)

    def __str__(self):
        return f"{self.get_channel_display()} → {self.case_id}"


class AttachmentKind(models.TextChoices):
    REPORT = "report", _("report photo")
    BEFORE = "before", _("before handling")
    AFTER = "after", _("after handling")
    CHECK = "check", _("on-site check")


class Attachment(models.Model):
    """A photo of a case, stored through Django storage; EXIF orientation and GPS kept in ``metadata``."""

    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="attachments")
    event_seq = models.PositiveIntegerField(_("event number"), null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=AttachmentKind.choices)
    file = models.FileField(_("file"), upload_to="cases/%Y/%m/%d/")
    content_type = models.CharField(_("content type"), max_length=30)
    size = models.PositiveIntegerField(_("size in bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    metadata = models.JSONField(_("metadata"), default=dict)
    uploaded_by = models.ForeignKey("grids.User", verbose_name=_("uploaded by"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("uploaded at"))

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        ordering = ["id"]

    def __str__(self):
        return self.file.name


class ContactView(models.Model):
    """Every time a staff user saw a citizen's unmasked phone number."""

    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey("grids.User", verbose_name=_("user"), on_delete=models.PROTECT, related_name="+")
    role = models.CharField(_("role"), max_length=20)
    viewed_at = models.DateTimeField(_("viewed at"))

    class Meta:
        verbose_name = _("contact view")
        verbose_name_plural = _("contact views")

    def __str__(self):
        return f"{self.user} → {self.case_id}"


# --- Open311 GeoReport v2 (events/open311/) ------------------------------------------------------------------------------
class Open311ApiKey(models.Model):
    """A key an Open311 client sends as ``api_key`` to file service requests (POST requests). Only the key's SHA-256
    is stored: the key itself is shown once, when an admin makes it (admin, or ``manage.py create_open311_key``).
    With no allowed services the key may file every active category."""

    name = models.CharField(_("name"), max_length=100)
    key_prefix = models.CharField(_("key prefix"), max_length=8, editable=False)
    key_hash = models.CharField(_("key hash (SHA-256)"), max_length=64, unique=True, editable=False)
    active = models.BooleanField(_("active"), default=True)
    services = models.ManyToManyField(Category, verbose_name=_("allowed services"), blank=True, related_name="+",
                                      help_text=_("Leave empty to allow every service."))
    created_by = models.ForeignKey("grids.User", verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("Open311 API key")
        verbose_name_plural = _("Open311 API keys")
        ordering = ["name", "id"]

    def __str__(self):
        return f"{self.name} ({self.key_prefix}…)"


# --- WeChat official account (公众号): messages as received, the guided reporting conversation, photos to fetch -----
class WeChatMessage(models.Model):
    """One message or event the official account received, kept as received with the reply it got.

    ``dedupe_key`` is unique (``msg:<MsgId>``, events ``event:<FromUserName>:<CreateTime>``): WeChat's retries of a
    message it got no answer to within 5 s insert nothing new and get the first reply again (events/wechat/)."""

    dedupe_key = models.CharField(_("de-duplication key"), max_length=120, unique=True)
    openid = models.CharField(_("WeChat openid"), max_length=64, db_index=True)
    msg_type = models.CharField(_("message type"), max_length=20)
    payload = models.JSONField(_("message fields"), default=dict)
    reply = models.TextField(_("reply"), blank=True)
    # What the message completed and is still to be filed (the drafts and the reply around the case number); emptied
    # once the case is filed. A filing left here (a request that died) is completed by a retry or the sweep.
    filing = models.JSONField(_("filing in progress"), default=dict, blank=True)
    case = models.ForeignKey(Case, verbose_name=_("case"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        verbose_name = _("WeChat message")
        verbose_name_plural = _("WeChat messages")
        ordering = ["-id"]

    def __str__(self):
        return f"{self.openid} {self.msg_type} {self.dedupe_key}"


class WeChatStep(models.TextChoices):
    LOCATION = "location", _("waiting for the location")
    PHOTOS = "photos", _("waiting for photos")
    DESCRIPTION = "description", _("waiting for the description")


class WeChatConversation(models.Model):
    """A citizen's report in progress (one per openid), kept in the database so it survives a restart. A draft whose
    ``expires_at`` passed is filed as it is (nothing the citizen sent is dropped)."""

    openid = models.CharField(_("WeChat openid"), max_length=64, unique=True)
    step = models.CharField(_("step"), max_length=12, choices=WeChatStep.choices)
    draft = models.JSONField(_("draft"), default=dict)
    started_at = models.DateTimeField(_("started at"))
    updated_at = models.DateTimeField(_("updated at"))
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("WeChat conversation")
        verbose_name_plural = _("WeChat conversations")

    def __str__(self):
        return f"{self.openid} ({self.step})"


class WeChatPhotoState(models.TextChoices):
    PENDING = "pending", _("to fetch")
    STORED = "stored", _("stored")
    FAILED = "failed", _("could not be fetched")


class WeChatPhoto(models.Model):
    """A photo a citizen sent with a report, fetched later by MediaId through the media API (a Celery task) and stored
    as an Attachment; pending rows are retried by the sweep until stored or failed for good."""

    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="+")
    media_id = models.CharField(_("media id"), max_length=128)
    pic_url = models.URLField(_("picture URL"), max_length=500, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=WeChatPhotoState.choices,
                             default=WeChatPhotoState.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    last_error = models.TextField(_("last error"), blank=True)
    attachment = models.ForeignKey(Attachment, verbose_name=_("photo"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("WeChat photo")
        verbose_name_plural = _("WeChat photos")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["case", "media_id"], name="unique_wechat_photo_per_case")]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="wechat_photo_due")]

    def __str__(self):
        return f"{self.case_id}: {self.media_id} ({self.state})"


class WeChatAccessToken(models.Model):
    """The official account's access token (``cgi-bin/token``), shared by every process: fetching a new one ends the
    old one's life, so processes must not each keep their own. Refreshed shortly before it expires, or at once when
    WeChat answers 40001/42001 (dispatch/adapters.py ``WeChatAdapter``)."""

    app_id = models.CharField(_("AppID"), max_length=64, unique=True)
    token = models.CharField(_("access token"), max_length=600, blank=True)
    expires_at = models.DateTimeField(_("expires at"))
    fetched_at = models.DateTimeField(_("fetched at"))

    class Meta:
        verbose_name = _("WeChat access token")
        verbose_name_plural = _("WeChat access tokens")

    def __str__(self):
        return f"{self.app_id} (until {self.expires_at:%Y-%m-%d %H:%M})"


class CitizenLink(models.Model):
    """A citizen's private link to follow a case they reported on the citizen page (/c/). Only the SHA-256 of the
    link's random token is kept (unique), so the database cannot hand out links; the token is shown once to the
    reporter (and sent by SMS when the SMS channel is configured)."""

    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="citizen_links")
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    phone = models.CharField(_("citizen phone"), max_length=20, blank=True)
    phone_confirmed = models.BooleanField(_("phone confirmed by SMS code"), default=False)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("citizen follow link")
        verbose_name_plural = _("citizen follow links")

    def __str__(self):
        return f"{self.case_id}: {self.token_hash[:8]}…"


# --- IoT sensors: defined in events/sensors/models.py, imported here so they belong to this app ----------------------
from events.sensors.models import *  # noqa: E402, F403
