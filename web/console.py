"""Presentation for the command console (issue 16 §3): the filter form, the rows as shown (time left with its light,
place), the timeline in plain words and the input fields of each action's form. Reads come from dispatch.worklist,
events.selectors and the other apps' selectors; nothing here writes."""
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dispatch.models import Light, Stage
from dispatch.worklist import BUCKETS, SORTS, marker_light
from events.models import OPEN_STATES, ActorKind, CaseEvent, CaseState, Channel, Urgency
from events.workflow import ACTIONS

PAGE_SIZE = 50
FILTER_KEYS = ("state", "category", "major", "urgency", "channel", "region", "department", "created_from",
               "created_to", "q")
VIEW_KEYS = ("center", "bucket", "sort")

BUCKET_LABELS = {
    "all": gettext_lazy("All open"),
    "new": gettext_lazy("New"),
    "awaiting_dispatch": gettext_lazy("Awaiting dispatch"),
    "returned": gettext_lazy("Returned"),
    "escalated_to_us": gettext_lazy("Escalated to us"),
    "due_soon": gettext_lazy("Due soon"),
    "overdue": gettext_lazy("Overdue"),
}
LIGHT_WORDS = {
    "green": gettext_lazy("on time"),
    "yellow": gettext_lazy("due soon"),
    "red": gettext_lazy("overdue"),
    "paused": gettext_lazy("paused"),
    "none": gettext_lazy("no clock"),
}
SORT_CHOICES = [(key, key) for key in SORTS] + [(f"-{key}", f"-{key}") for key in SORTS]


class ConsoleFilterForm(forms.Form):
    """The worklist's filters and view (bucket, sort, page) from the query string; each bad value is reported on its
    field and that filter is left out."""

    center = forms.CharField(required=False, max_length=15)
    bucket = forms.ChoiceField(required=False, choices=[(b, b) for b in BUCKETS])
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES)
    page = forms.IntegerField(required=False, min_value=1, max_value=1000)
    state = forms.MultipleChoiceField(label=gettext_lazy("State"), required=False,
                                      choices=[(s.value, s.label) for s in OPEN_STATES])
    category = forms.CharField(label=gettext_lazy("Category code"), required=False, max_length=10)
    major = forms.RegexField(label=gettext_lazy("Major class"), required=False, regex=r"^[CEce]\d{2}$",
                             error_messages={"invalid": gettext_lazy("A major class is C or E and two digits, "
                                                                     "e.g. E01.")})
    urgency = forms.ChoiceField(label=gettext_lazy("Urgency"), required=False,
                                choices=[("", "—")] + list(Urgency.choices))
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), required=False,
                                choices=[("", "—")] + list(Channel.choices))
    region = forms.RegexField(label=gettext_lazy("Region code (down to the grid)"), required=False,
                              regex=r"^\d{2,15}$",
                              error_messages={"invalid": gettext_lazy("A region code has digits only (2 to 15).")})
    department = forms.CharField(label=gettext_lazy("Department"), required=False, max_length=40)
    created_from = forms.DateField(label=gettext_lazy("Reported from"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(label=gettext_lazy("Reported until"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(label=gettext_lazy("Keyword"), required=False, max_length=100)

    def clean(self):
        data = super().clean()
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", _("The end date is before the start date."))
        return data

    def values(self) -> dict:
        """The valid values (bad ones left out)."""
        data = getattr(self, "cleaned_data", {}) or {}
        return {key: value for key, value in data.items() if key not in self.errors}


def parse_filters(query) -> tuple[ConsoleFilterForm, dict, dict]:
    """(form, filters for dispatch.worklist, view settings) from a QueryDict."""
    form = ConsoleFilterForm(query)
    form.is_valid()
    values = form.values()
    filters = {}
    for key in FILTER_KEYS:
        value = values.get(key)
        if value in (None, "", []):
            continue
        filters["status" if key == "state" else key] = value
    view = {"center": values.get("center") or "", "bucket": values.get("bucket") or "all",
            "sort": values.get("sort") or "time_left", "page": values.get("page") or 1}
    return form, filters, view


def query_string(query, **changes) -> str:
    """The console's query string with ``changes`` applied (None removes a key); ``page`` is dropped unless set."""
    params = [(key, value) for key, values in query.lists() for value in values
              if key not in changes and key != "page" and key in FILTER_KEYS + VIEW_KEYS]
    params += [(key, value) for key, value in changes.items() if value not in (None, "")]
    return urlencode(params)


# --- Rows ------------------------------------------------------------------------------------------------------------
def duration_words(seconds: float) -> str:
    """2 days 3 hours / 2 hours 10 minutes / 5 minutes: the two largest units."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(d)s d %(h)s h") % {"d": days, "h": hours}
    if hours:
        return _("%(h)s h %(m)s min") % {"h": hours, "m": minutes}
    return _("%(m)s min") % {"m": minutes}


def time_left_words(deadline: datetime | None, paused_at: datetime | None, now: datetime) -> str:
    """还剩 2 小时 10 分 / 超期 1 天 3 小时 / 已暂停 (the paused clock's time left at the pause)."""
    if deadline is None:
        return "—"
    if paused_at is not None:
        return _("paused, %(left)s left") % {"left": duration_words((deadline - paused_at).total_seconds())} \
            if deadline > paused_at else _("paused")
    left = (deadline - now).total_seconds()
    if left >= 0:
        return _("%(left)s left") % {"left": duration_words(left)}
    return _("%(late)s overdue") % {"late": duration_words(left)}


@dataclass
class Row:
    """One worklist row as shown: every value ready (the template only prints; 50 rows render in a few ms)."""

    case: object
    light: str
    light_word: str
    time_left: str
    place: str
    community: str
    url: str
    select_label: str
    category: str
    major: str
    channel: str
    urgency: str
    urgent: bool
    state: str
    department: str


CHANNEL_LABELS = dict(Channel.choices)
URGENCY_LABELS = dict(Urgency.choices)
STATE_LABELS = dict(CaseState.choices)


def rows_for(cases, names: dict[str, str], now: datetime, *, base_url: str, query: str) -> list[Row]:
    """``names``: region names by code (the rows' grids, communities and streets)."""
    rows = []
    suffix = f"?{query}" if query else ""
    for case in cases:
        light = marker_light(case.clock_light, case.clock_paused_at)
        code = case.region_code
        category = case.category
        rows.append(Row(
            case=case, light=light, light_word=str(LIGHT_WORDS.get(light, light)),
            time_left=time_left_words(case.clock_deadline, case.clock_paused_at, now),
            place=names.get(code, "") or names.get(code[:9], "") or "—", community=names.get(code[:12], "")
            if len(code) > 12 else "",
            url=f"{base_url}{case.number}/{suffix}", select_label=_("Select %(number)s") % {"number": case.number},
            category=category.minor_name if category else "—", major=category.major_name if category else "",
            channel=str(CHANNEL_LABELS.get(case.channel, case.channel)),
            urgency=str(URGENCY_LABELS.get(case.urgency, case.urgency)), urgent=case.urgency == Urgency.URGENT,
            state=str(STATE_LABELS.get(case.state, case.state)),
            department=case.department.name if case.department_id else "—"))
    return rows


def place_codes(cases) -> set[str]:
    """The region codes whose names the rows show: grid (or street) and community."""
    return {code for case in cases for code in (case.region_code, case.region_code[:12], case.region_code[:9])}


def clock_light(clock) -> str:
    if clock.finished_at is None and clock.paused_at is not None:
        return "paused"
    return clock.light or Light.GREEN


@dataclass
class ClockView:
    stage: str
    level: str
    light: str
    light_word: str
    deadline: datetime
    words: str
    finished: bool


def clocks_for(case, now: datetime) -> list[ClockView]:
    views = []
    for clock in case.clocks.all():
        light = clock_light(clock)
        if clock.finished_at is not None:
            words = _("finished on time") if clock.on_time else _("finished late")
        else:
            words = time_left_words(clock.deadline, clock.paused_at, now)
        views.append(ClockView(stage=Stage(clock.stage).label, level=clock.level, light=light,
                               light_word=str(LIGHT_WORDS.get(light, light)),
                               deadline=timezone.localtime(clock.deadline), words=words,
                               finished=clock.finished_at is not None))
    return views


# --- Timeline in plain words -------------------------------------------------------------------------------------------
EVENT_WORDS = {
    "reported": gettext_lazy("reported the problem"),
    "request_field_check": gettext_lazy("asked the grid worker to check on site (核实)"),
    "field_check": gettext_lazy("checked on site (核实)"),
    "accept": gettext_lazy("accepted the case (立案)"),
    "reject": gettext_lazy("did not accept the case (不予立案)"),
    "merge": gettext_lazy("merged it into another case (并案)"),
    "merged_in": gettext_lazy("merged another report into this case"),
    "confirm_self_handled": gettext_lazy("confirmed it was handled on the spot"),
    "dispatch": gettext_lazy("dispatched it (派遣)"),
    "sign": gettext_lazy("signed for it (签收)"),
    "return": gettext_lazy("returned it: not theirs (回退)"),
    "request_extension": gettext_lazy("asked for more time (延期申请)"),
    "approve_extension": gettext_lazy("approved more time"),
    "deny_extension": gettext_lazy("refused more time"),
    "suspend": gettext_lazy("suspended it (挂账)"),
    "resume": gettext_lazy("resumed it"),
    "complete": gettext_lazy("reported it handled (处置完成)"),
    "verify": gettext_lazy("checked the result on site (核查)"),
    "rework": gettext_lazy("sent it back for rework (返工)"),
    "feedback": gettext_lazy("gave feedback (回访)"),
    "close": gettext_lazy("closed it (结案)"),
    "reopen": gettext_lazy("reopened it"),
    "escalate": gettext_lazy("escalated it (上报)"),
    "urge": gettext_lazy("urged the department (催办)"),
    "supervise": gettext_lazy("issued a supervision order (督办)"),
    "cancel": gettext_lazy("cancelled it (作废)"),
}
ACTOR_KIND_WORDS = {ActorKind.SYSTEM: gettext_lazy("Gridloop"), ActorKind.CITIZEN: gettext_lazy("the citizen"),
                    ActorKind.SENSOR: gettext_lazy("a sensor")}
WHY_KEYS = ("reason", "note", "explanation", "comment", "result")


@dataclass
class TimelineEntry:
    seq: int
    who: str
    what: str
    when: datetime
    why: str
    state: str


def timeline_for(events: list[CaseEvent]) -> list[TimelineEntry]:
    entries = []
    for event in events:
        if event.actor_kind == ActorKind.USER and event.actor is not None:
            who = event.actor.display_name or event.actor.username
        else:
            who = str(ACTOR_KIND_WORDS.get(event.actor_kind, event.actor_kind))
        payload = event.payload or {}
        why = "; ".join(str(payload[key]) for key in WHY_KEYS if payload.get(key))
        routing = payload.get("routing") or {}
        if not why and isinstance(routing, dict) and routing.get("reason"):
            why = str(routing["reason"])
        if event.kind == "dispatch" and payload.get("department"):
            why = (_("to %(department)s") % {"department": payload["department"]}) + (f"; {why}" if why else "")
        if event.kind == "merge" and payload.get("target"):
            why = _("into %(number)s") % {"number": payload["target"]}
        state = CaseState(event.to_state).label if event.to_state in CaseState.values else ""
        entries.append(TimelineEntry(seq=event.seq, who=who, what=str(EVENT_WORDS.get(event.kind, event.kind)),
                                     when=timezone.localtime(event.occurred_at), why=why, state=state))
    return entries


# --- Action forms ----------------------------------------------------------------------------------------------------
ACTION_LABELS = {
    "request_field_check": gettext_lazy("Ask for an on-site check (核实)"),
    "accept": gettext_lazy("Accept (立案)"),
    "reject": gettext_lazy("Do not accept (不予立案)"),
    "merge": gettext_lazy("Merge (并案)"),
    "confirm_self_handled": gettext_lazy("Confirm handled on the spot"),
    "dispatch": gettext_lazy("Dispatch (派遣)"),
    "approve_extension": gettext_lazy("Approve more time"),
    "deny_extension": gettext_lazy("Refuse more time"),
    "suspend": gettext_lazy("Suspend (挂账)"),
    "resume": gettext_lazy("Resume"),
    "rework": gettext_lazy("Rework (返工)"),
    "close": gettext_lazy("Close (结案)"),
    "escalate": gettext_lazy("Escalate (上报)"),
    "urge": gettext_lazy("Urge (催办)"),
    "supervise": gettext_lazy("Supervision order (督办)"),
    "cancel": gettext_lazy("Cancel (作废)"),
    "reopen": gettext_lazy("Reopen"),
    "verify": gettext_lazy("Check passed (核查)"),
    "feedback": gettext_lazy("Record feedback (回访)"),
    "field_check": gettext_lazy("On-site check result (核实)"),
    "sign": gettext_lazy("Sign (签收)"),
    "return": gettext_lazy("Return (回退)"),
    "request_extension": gettext_lazy("Ask for more time"),
    "complete": gettext_lazy("Handled (处置完成)"),
}
ACTION_KEYS = {"accept": "a", "dispatch": "d", "reject": "r", "merge": "m", "escalate": "e"}
INPUT_LABELS = {
    "reason": gettext_lazy("Reason"),
    "note": gettext_lazy("Note"),
    "department": gettext_lazy("Department"),
    "target": gettext_lazy("Case to keep (number)"),
    "until": gettext_lazy("Until (date)"),
    "photos": gettext_lazy("Photos"),
    "result": gettext_lazy("Finding"),
    "rating": gettext_lazy("Rating (1–5)"),
    "type": gettext_lazy("Kind of order"),
    "reply_due": gettext_lazy("Reply due"),
    "category": gettext_lazy("Category"),
    "region_code": gettext_lazy("Street, community or grid code"),
}
INPUT_WIDGETS = {"reason": "textarea", "note": "textarea", "department": "select", "target": "text",
                 "until": "date", "photos": "file", "result": "select", "rating": "number", "type": "select",
                 "reply_due": "datetime-local", "category": "select", "region_code": "text"}
CHOICES = {
    "result": [("confirmed", gettext_lazy("confirmed on site")), ("not_found", gettext_lazy("not found on site"))],
    "type": [("overdue", gettext_lazy("overdue")), ("leader", gettext_lazy("leader's order")),
             ("key_case", gettext_lazy("key case"))],
}


@dataclass
class ActionInput:
    name: str
    label: str
    widget: str
    choices: list
    value: str = ""


@dataclass
class ActionForm:
    name: str
    label: str
    key: str
    inputs: list[ActionInput]
    error: str = ""
    open: bool = False


def required_inputs(name: str, case) -> tuple[str, ...]:
    """What the action needs on this case: its required inputs (events/workflow.py), plus what accepting a report
    without a category or a location needs (the service asks for them)."""
    needs = ACTIONS[name].requires
    if name == "accept":
        if case.category_id is None:
            needs += ("category",)
        if case.unstructured:
            needs += ("region_code",)
    return needs


def action_forms(allowed: list[str], *, case, departments, categories=(), suggested: str = "",
                 error_action: str = "", error: str = "", posted=None) -> list[ActionForm]:
    """One small form per allowed action, with exactly the inputs the action requires."""
    forms_ = []
    for name in allowed:
        inputs = []
        for field in required_inputs(name, case):
            choices = CHOICES.get(field, [])
            if field == "department":
                choices = [(d.code, d.name) for d in departments]
            elif field == "category":
                choices = [(c.code, f"{c.major_name} / {c.minor_name}") for c in categories]
            value = (posted.get(field, "") if posted is not None and name == error_action else "")
            if field == "department" and not value:
                value = suggested
            inputs.append(ActionInput(name=field, label=str(INPUT_LABELS.get(field, field)),
                                      widget=INPUT_WIDGETS.get(field, "text"), choices=choices, value=value))
        forms_.append(ActionForm(name=name, label=str(ACTION_LABELS.get(name, name)), key=ACTION_KEYS.get(name, ""),
                                 inputs=inputs, error=error if name == error_action else "",
                                 open=name == error_action))
    return forms_


BULK_ACTIONS = ("accept", "dispatch", "urge")
COLUMNS = [
    ("number", gettext_lazy("Number")), ("category", gettext_lazy("Category")), ("place", gettext_lazy("Place")),
    ("channel", gettext_lazy("Channel")), ("urgency", gettext_lazy("Urgency")), ("state", gettext_lazy("State")),
    ("time_left", gettext_lazy("Time left")), ("department", gettext_lazy("Department")),
]
