"""The hotline desk's presentation: the call form, the words a case's state is read out in, and its timeline rows.

The form only parses what the operator typed; the rules (where a place may be, what a report needs, who may file)
are the services' (``events.services.case_report`` / ``case_report_add``), whose refusals are shown on the form.
"""
import uuid

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from events.models import Case, CaseState, event_words  # (the timeline's words live with EventKind)

__all__ = ["CallForm", "event_words", "new_idempotency_key", "plain_state"]


def plain_state(case: Case, time_left=None) -> str:
    """What the operator reads out to a caller asking "where is my case?"."""
    department = case.department.name if case.department_id else ""
    by = ""
    if time_left is not None and time_left.deadline is not None:
        by = _(", due by %(deadline)s") % {"deadline": f"{time_left.deadline:%m-%d %H:%M}"}
    if case.state == CaseState.REPORTED:
        return _("Received; the command center is checking it.")
    if case.state == CaseState.ACCEPTED:
        return _("Accepted as a case; being assigned to a department.")
    if case.state == CaseState.DISPATCHED:
        return _("Sent to %(department)s; waiting for them to take it on.") % {"department": department}
    if case.state == CaseState.HANDLING:
        return _("%(department)s is handling it%(by)s.") % {"department": department, "by": by}
    if case.state == CaseState.SUSPENDED:
        return _("%(department)s has put it on hold until %(until)s.") % {
            "department": department,
            "until": f"{timezone.localtime(case.suspended_until):%Y-%m-%d}" if case.suspended_until else "—"}
    if case.state == CaseState.HANDLED:
        return _("%(department)s reports it done; an inspector is checking on site.") % {"department": department}
    if case.state == CaseState.VERIFIED:
        return _("Done and checked; we will call back for the caller's rating.")
    if case.state == CaseState.CLOSED:
        return _("Closed: %(reason)s.") % {"reason": case.get_close_reason_display()}
    if case.state == CaseState.MERGED:
        target = case.merged_into.number if case.merged_into_id and case.merged_into else ""
        return _("Joined with case %(number)s, which is followed instead.") % {"number": target}
    if case.state == CaseState.REJECTED:
        return _("Not accepted as a case.")
    return str(case.get_state_display())


def new_idempotency_key() -> str:
    """Made when the form is rendered: a double submit of the same form files one case."""
    return f"desk-{uuid.uuid4().hex}"


class CallForm(forms.Form):
    """What the operator types while the caller speaks. Each field is optional here; filing needs a place and a
    description (checked by the services, their messages shown on the fields)."""

    citizen_phone = forms.CharField(label=gettext_lazy("Caller's phone"), max_length=20, required=False)
    citizen_name = forms.CharField(label=gettext_lazy("Caller's name"), max_length=50, required=False)
    place_q = forms.CharField(label=gettext_lazy("Search a district, street, community or grid"), max_length=50,
                              required=False)
    region_code = forms.CharField(max_length=15, required=False)
    lat = forms.FloatField(label=gettext_lazy("Latitude"), required=False, min_value=-90, max_value=90)
    lng = forms.FloatField(label=gettext_lazy("Longitude"), required=False, min_value=-180, max_value=180)
    address = forms.CharField(label=gettext_lazy("Address as the caller says it"), max_length=300, required=False)
    category_q = forms.CharField(label=gettext_lazy("Search a category (name, keyword or pinyin initials)"),
                                 max_length=50, required=False)
    category = forms.CharField(max_length=10, required=False)
    description = forms.CharField(label=gettext_lazy("What is wrong"), max_length=4000, required=False)
    idempotency_key = forms.CharField(max_length=100, required=False)

    def clean_citizen_phone(self):
        phone = self.cleaned_data["citizen_phone"].strip()
        if phone and (any(ch not in "0123456789+- " for ch in phone)
                      or sum(ch.isdigit() for ch in phone) < 5):
            raise forms.ValidationError(_("Type the phone number with digits only, e.g. 13812341234."))
        return phone.replace(" ", "").replace("-", "")

    def clean(self):
        data = super().clean()
        if (data.get("lat") is None) != (data.get("lng") is None) and not self.errors.get("lat") and not \
                self.errors.get("lng"):
            self.add_error("lat", _("Give both latitude and longitude, or click the map."))
        return data
