"""The field app's presentation (城管通 in the browser): what the app's data document says about a grid worker's tasks,
reports and figures, in the shape the offline page (web/static/web/field.js) renders. Reads come from the selectors."""

from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy

from dispatch.selectors import grid_worker_counts, grid_worker_tasks
from events import selectors as case_selectors
from events.models import AttachmentKind, CaseState
from grids.selectors import grids_patrolled_by

CHECK_LABELS = {"verify": gettext_lazy("Check after handling"), "field_check": gettext_lazy("Check the report on site")}
MY_REPORTS_LIMIT = 30


def pin_threshold_m() -> int:
    """Above this GPS accuracy (metres) the worker places the pin on the map (``GRIDLOOP_FIELD_PIN_THRESHOLD_M``)."""
    return settings.GRIDLOOP_FIELD_PIN_THRESHOLD_M


def far_from_case_m() -> int:
    """A check made farther than this from the case's point is warned about (``GRIDLOOP_FIELD_FAR_M``)."""
    return settings.GRIDLOOP_FIELD_FAR_M


def _photo(attachment) -> dict:
    return {"url": reverse("web:field_photo", args=[attachment.pk]), "kind": attachment.kind,
            "kind_label": str(attachment.get_kind_display()), "taken": (attachment.metadata or {}).get("original_name", "")}


def _category(case) -> str:
    return f"{case.category.major_name} · {case.category.minor_name}" if case.category_id else ""


def task_data(case) -> dict:
    check = "verify" if case.state == CaseState.HANDLED else "field_check"
    clock = getattr(case, "open_clock", None)
    originals = [a for a in case.attachments.all() if a.kind in (AttachmentKind.REPORT, AttachmentKind.BEFORE,
                                                                 AttachmentKind.AFTER)]
    return {
        "number": case.number, "check": check, "check_label": str(CHECK_LABELS[check]), "category": _category(case),
        "description": case.description, "address": case.address, "lat": case.lat, "lng": case.lng,
        "state": case.state, "state_label": str(case.get_state_display()), "last_seq": case.last_seq,
        "department": case.department.name if case.department_id else "",
        "due": timezone.localtime(clock.deadline).isoformat() if clock else None,
        "light": clock.light if clock else "none",
        "photos": [_photo(a) for a in originals],
    }


def app_data(user) -> dict:
    """The data document of the field app: categories, my tasks with their photos, my reports and figures."""
    mine = case_selectors.cases_reported_by(user=user).select_related("category")[:MY_REPORTS_LIMIT]
    return {
        "generated_at": timezone.now().isoformat(),
        "categories": [{"code": c.code, "name": c.minor_name, "major_code": f"{c.kind[0]}{c.major_code}",
                        "major_name": c.major_name}
                       for c in case_selectors.categories_list(active=True)],
        "tasks": [task_data(case) for case in grid_worker_tasks(user)],
        "grids": [{"code": g.code, "name": g.name, "boundary": g.boundary} for g in grids_patrolled_by(user)],
        "counts": grid_worker_counts(user),
        "reports": [{"number": c.number, "category": _category(c), "state": c.state,
                     "state_label": str(c.get_state_display()), "close_reason_label": str(c.get_close_reason_display()),
                     "created_at": timezone.localtime(c.created_at).isoformat(), "address": c.address}
                    for c in mine],
    }


def shell_urls() -> list[str]:
    """What the service worker keeps for opening with no network: the app page, its code, styles and icons."""
    return [reverse("web:field"), reverse("web:field_manifest"), static("web/app.css"), static("web/field.js"),
            static("vendor/leaflet-1.9.4/leaflet.js"), static("vendor/leaflet-1.9.4/leaflet.css"),
            static("vendor/htmx-2.0.11/htmx.min.js"), static("web/field/icon-192.png"),
            static("web/field/icon-512.png")]


def js_strings() -> dict:
    """The words the app's script shows (translated here: the script has no catalogue of its own)."""
    from django.utils.translation import gettext as _

    return {
        "online": _("Online"), "offline": _("Offline: your work is kept on this phone"),
        "data_age": _("Tasks and figures as of %(time)s"), "no_data": _("No tasks loaded yet: connect once."),
        "position": _("Position found, accurate to ±%(accuracy)s m"),
        "position_poor": _("The GPS fix is only accurate to ±%(accuracy)s m (more than %(threshold)s m): place the "
                           "pin on the map."),
        "position_none": _("No position from the phone: place the pin on the map."),
        "position_pinned": _("Pin placed on the map"), "locating": _("Finding your position…"),
        "photo_taken": _("Taken %(time)s"), "remove": _("Remove"), "photo_n": _("Photo %(n)s"),
        "before": _("Before"), "after": _("After"),
        "choose_category": _("Choose a category"), "no_category": _("No category matches"), "all": _("All"),
        "need_photo": _("Take at least one photo."), "need_category": _("Choose a category."),
        "need_description": _("Describe what is wrong."), "need_pin": _("Place the pin on the map first."),
        "need_before_after": _("Take a photo before and a photo after handling."),
        "need_reason": _("Give the reason for the rework."), "fix_errors": _("Please correct this:"),
        "listening": _("Listening… speak now"), "saved": _("Saved in the outbox: it is sent when there is a "
                                                            "connection."),
        "state_waiting": _("Waiting to be sent"), "state_sending": _("Sending…"), "state_sent": _("Sent"),
        "state_refused": _("Refused"), "state_conflict": _("Not applied: the case changed"),
        "sent_case": _("Sent: case %(number)s"), "retry_at": _("Next try at %(time)s"),
        "sign_in_again": _("Sign in again to send (your work is kept)."), "resend": _("Fix and send again"),
        "delete": _("Delete"), "open_case": _("Open the case"),
        "kind_report": _("Report"), "kind_verify": _("Check passed (核查)"), "kind_rework": _("Sent back for rework"),
        "kind_field_check": _("On-site check (核实)"),
        "conflict": _("The case changed after you saw it: %(what)s. Your action was not applied; look at the case "
                      "again."),
        "event_rework": _("sent back for rework"), "event_verify": _("checked"), "event_dispatch": _("dispatched"),
        "event_cancel": _("cancelled"), "event_return": _("returned by the department"),
        "event_reopen": _("reopened"), "event_complete": _("handled"), "event_field_check": _("checked on site"),
        "event_accept": _("accepted"), "event_reject": _("not accepted"), "event_merge": _("merged"),
        "event_sign": _("signed for"), "event_other": _("changed"),
        "due": _("Due %(time)s"), "distance": _("%(distance)s from me"), "navigate": _("Navigate"),
        "do_check": _("Do the check"), "no_tasks": _("No checks waiting in your grids."),
        "light_green": _("on time"), "light_yellow": _("due soon"), "light_red": _("overdue"),
        "light_none": _("no time limit"), "light_paused": _("paused"),
        "far": _("You are %(distance)s from the case, more than %(far)s m: go to the place to check it."),
        "check_position": _("My position ±%(accuracy)s m, %(distance)s from the case"),
        "count_reports": _("Reports"), "count_checks": _("On-site checks"), "count_on_time": _("Checks on time"),
        "no_reports": _("No reports yet."), "original_photos": _("Photos of the case"),
        "no_photos": _("No photos"), "description": _("Description"), "address": _("Address"),
        "m": _("%(n)s m"), "km": _("%(n)s km"), "show_map": _("Show on the map"), "hide_map": _("Hide the map"),
    }
