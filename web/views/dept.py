"""The department workbench (处置单位): my department's cases to sign, handling, due soon, overdue and sent back for
rework, with the time left on each; sign, return with a reason, ask for more time, complete with photos; and the
supervision orders (督办/催办) addressed to the department, with a reply form.

A handler sees only the cases in the charge of their departments: any other case by URL — or a photo of it — is the
403 page. Every action goes through ``events.services.case_act``; a refusal is shown on the action's form.
"""
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from config.errors import DomainError
from dispatch.models import SupervisionOrder
from dispatch.queues import DEPARTMENT_BUCKETS, department_queues
from dispatch.selectors import running_clocks
from dispatch.supervision import supervision_orders_visible, supervision_reply
from events.actors import Actor
from events.models import Attachment
from events.selectors import case_detail_complete, case_get
from events.services import allowed_actions, case_act
from grids.models import Role
from grids.selectors import roles_of

from ..access import role_required
from ..desk import event_words, new_idempotency_key
from ..time_left import time_left

DEPT_ACTIONS = ("sign", "return", "request_extension", "complete")


def _my_departments(user) -> list[int]:
    return [a.department_id for a in roles_of(user) if a.role == Role.HANDLER and a.department_id]


def _orders(user, *, case=None) -> list[dict]:
    orders = supervision_orders_visible(user, open_only=True).filter(department_id__in=_my_departments(user))
    if case is not None:
        orders = orders.filter(case=case)
    now = timezone.now()
    return [{"order": order, "light": order.light(now)} for order in orders.order_by("reply_due", "issued_at")[:50]]


def _workbench_context(request, bucket: str, **extra) -> dict:
    queues = department_queues(user=request.user)
    shown = queues[bucket]
    clocks = running_clocks(case.pk for case in shown.items)
    context = {
        "buckets": [{"name": name, "words": _bucket_words(name), "count": queues[name].count,
                     "current": name == bucket} for name in DEPARTMENT_BUCKETS],
        "bucket": bucket, "bucket_words": _bucket_words(bucket), "total": shown.count,
        "rows": [{"case": case, "left": time_left(clocks.get(case.pk))} for case in shown.items],
        "orders": _orders(request.user), "order_errors": {},
    }
    context.update(extra)
    return context


def _bucket_words(name: str) -> str:
    return {"to_sign": _("To sign"), "handling": _("Handling"), "due_soon": _("Due soon"), "overdue": _("Overdue"),
            "rework": _("Sent back for rework")}[name]


@role_required(Role.HANDLER)
@require_GET
def workbench(request):
    bucket = request.GET.get("bucket", "to_sign")
    if bucket not in DEPARTMENT_BUCKETS:
        bucket = "to_sign"
    return render(request, "web/dept/workbench.html", _workbench_context(request, bucket))


def _case_of_mine(request, number: str):
    """The case, if it is in the charge of one of the handler's departments; otherwise the 403 page (the same for a
    case that does not exist)."""
    case = case_get(number=number)
    if case is None or case.department_id not in _my_departments(request.user):
        raise PermissionDenied(_("Case %(number)s is not in the charge of your department.") % {"number": number})
    return case


def _case_context(request, case, **extra) -> dict:
    case = case_detail_complete(case)
    running = [clock for clock in case.clocks.all() if clock.finished_at is None]
    allowed = [name for name in allowed_actions(case, Actor.staff(request.user)) if name in DEPT_ACTIONS]
    context = {
        "case": case, "left": time_left(running[-1] if running else None), "allowed": allowed,
        "photos": list(case.attachments.all()),
        "events": [{"event": event, "words": event_words(event.kind)} for event in case.events.all()],
        "orders": _orders(request.user, case=case), "order_errors": {},
        "errors": {}, "values": {}, "key": new_idempotency_key(),
    }
    context.update(extra)
    # a refusal of an action whose form is not offered now (e.g. complete before signing) is shown above the forms
    context["refusal_elsewhere"] = next((message for name, message in context["errors"].items()
                                         if name not in allowed), "")
    return context


@role_required(Role.HANDLER)
@require_GET
def case(request, number: str):
    return render(request, "web/dept/case.html", _case_context(request, _case_of_mine(request, number)))


@role_required(Role.HANDLER)
@require_POST
def act(request, number: str, action: str):
    """Sign, return (reason), request an extension (reason) or complete (result note and photos) — one small form
    each; the service's refusal is shown on that form."""
    found = _case_of_mine(request, number)
    if action not in DEPT_ACTIONS:
        raise PermissionDenied(_("The workbench does not take the action %(action)s.") % {"action": action})
    inputs = {"idempotency_key": request.POST.get("idempotency_key", "")[:100]}
    if action in ("return", "request_extension"):
        inputs["reason"] = request.POST.get("reason", "").strip()
    if action == "complete":
        inputs["note"] = request.POST.get("note", "").strip()
        inputs["photos"] = request.FILES.getlist("photos")
    try:
        changed = case_act(case=found.number, action=action, actor=Actor.staff(request.user), inputs=inputs)
    except DomainError as refusal:
        values = {key: value for key, value in inputs.items() if key in ("reason", "note")}
        context = _case_context(request, case_get(number=found.number), errors={action: refusal.message},
                                values={action: values})
        return render(request, "web/dept/case.html", context, status=refusal.status_code)
    done = {
        "sign": _("Case %(number)s signed: it is yours to handle now."),
        "return": _("Case %(number)s returned to the command center."),
        "request_extension": _("Extension for case %(number)s requested; the command center decides."),
        "complete": _("Case %(number)s reported as handled; an inspector checks it on site."),
    }[action]
    messages.success(request, done % {"number": changed.number})
    if action == "return":
        return redirect("web:dept")
    return redirect("web:dept_case", number=changed.number)


@role_required(Role.HANDLER)
@require_POST
def reply(request, order_id: int):
    """The department's reply to an urge or supervision order addressed to it."""
    order = SupervisionOrder.objects.select_related("case").filter(pk=order_id).first()
    if order is None or order.department_id not in _my_departments(request.user):
        raise PermissionDenied(_("This order is not addressed to your department."))
    back = request.POST.get("back", "")
    try:
        supervision_reply(order_id=order.pk, user=request.user, text=request.POST.get("reply", ""))
    except DomainError as refusal:
        errors = {order.pk: refusal.message}
        if back == "case":
            context = _case_context(request, order.case, order_errors=errors)
            return render(request, "web/dept/case.html", context, status=refusal.status_code)
        context = _workbench_context(request, "to_sign", order_errors=errors)
        return render(request, "web/dept/workbench.html", context, status=refusal.status_code)
    messages.success(request, _("Reply to the order on case %(number)s sent.") % {"number": order.case.number})
    if back == "case":
        return redirect("web:dept_case", number=order.case.number)
    return redirect(reverse("web:dept"))


@role_required(Role.HANDLER)
@require_GET
def photo(request, pk: int):
    """A photo of a case in the charge of the handler's department (403 for any other)."""
    attachment = Attachment.objects.select_related("case").filter(pk=pk).first()
    if attachment is None or attachment.case.department_id not in _my_departments(request.user):
        raise PermissionDenied(_("This photo belongs to a case outside your department."))
    return FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
