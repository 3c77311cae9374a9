"""催办 and 督办: create orders (called by events.services.case_act under the case lock) and record replies.

An urge (催办) is a note to the department in charge; a reply is welcome but not due. A supervision order (督办)
has a type (overdue / leader / key case), a requirement and a reply deadline with its own light. The department in
charge replies (or, while no department is in charge, the dispatchers of the owning command center); the reply is a
case event and a message to the supervisor who issued the order.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from config.errors import Conflict, InvalidInput, NotFound
from events.access import cases_visible_q
from events.actors import Actor
from events.log import event_append
from events.models import Case, EventKind
from grids.models import Role
from grids.selectors import roles_of

from .models import SupervisionKind, SupervisionOrder, SupervisionType
from .outbox import Recipient, outbox_enqueue

MAX_REPLY_DAYS = 90


def _reply_due(value, now: datetime) -> datetime:
    when = parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(when, datetime):
        raise InvalidInput(_("reply_due must be an ISO date-time, e.g. 2026-12-01T17:30:00+08:00"), field="reply_due")
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    if when <= now or when > now + timedelta(days=MAX_REPLY_DAYS):
        raise InvalidInput(_("reply_due must be in the future and at most %(n)s days ahead") % {"n": MAX_REPLY_DAYS},
                           field="reply_due")
    return when


def supervision_order_create(*, case, kind: str, inputs: dict, user, now: datetime, event_seq: int) -> dict:
    """Make the order for an urge/supervise action; returns what goes into the case event's payload."""
    order = SupervisionOrder(
        case=case, event_seq=event_seq, kind=kind, requirement=str(inputs["note"])[:2000],
        department=case.department, command_code=case.command_code, issued_by=user, issued_at=now,
    )
    if kind == SupervisionKind.SUPERVISE:
        if inputs.get("type") not in SupervisionType.values:
            raise InvalidInput(_("type must be one of %(choices)s") % {"choices": ", ".join(SupervisionType.values)},
                               field="type")
        order.type = inputs["type"]
        order.reply_due = _reply_due(inputs.get("reply_due"), now)
    order.save()
    payload = {"order": order.pk}
    if order.type:
        payload.update(type=order.type, reply_due=order.reply_due.isoformat())
    return payload


def _may_reply(user, order: SupervisionOrder) -> bool:
    if order.department_id:
        return any(a.role == Role.HANDLER and a.department_id == order.department_id for a in roles_of(user))
    return any(a.role == Role.DISPATCHER and a.region is not None and a.region.code == order.command_code
               for a in roles_of(user))


def supervision_reply(*, order_id: int, user, text: str) -> SupervisionOrder:
    """The department's reply to an urge or a supervision order: once, under the case lock, logged as an event."""
    text = (text or "").strip()
    with transaction.atomic():
        order = SupervisionOrder.objects.filter(pk=order_id).first()
        if order is None:
            raise NotFound(_("no supervision order %(id)s") % {"id": order_id})
        case = Case.objects.select_for_update(of=("self",), no_key=True).get(pk=order.case_id)
        order = SupervisionOrder.objects.select_related("issued_by").get(pk=order_id)
        if not _may_reply(user, order):  # out of scope is "not found", as everywhere else (it may not even exist)
            raise NotFound(_("no supervision order %(id)s") % {"id": order_id})
        if order.replied_at:
            raise Conflict(_("this order was already answered at %(when)s")
                           % {"when": f"{timezone.localtime(order.replied_at):%Y-%m-%d %H:%M}"})
        if not text:
            raise InvalidInput(_("write the reply"), field="reply")
        now = timezone.now()
        order.reply, order.replied_by, order.replied_at = text[:2000], user, now
        order.save(update_fields=["reply", "replied_by", "replied_at"])
        event = event_append(case=case, kind=EventKind.SUPERVISION_REPLY, actor=Actor.staff(user), role=Role.HANDLER
                             if order.department_id else Role.DISPATCHER,
                             from_state=case.state, to_state=case.state,
                             payload={"order": order.pk, "reply": order.reply}, now=now)
        case.save(update_fields=["last_seq", "last_hash"])
        with translation.override(settings.LANGUAGE_CODE):  # a staff notice (dispatch.outbox)
            title = (_("The urge on case %(number)s was answered") if order.kind == SupervisionKind.URGE
                     else _("The supervision order on case %(number)s was answered")) % {"number": case.number}
        outbox_enqueue(kind=EventKind.SUPERVISION_REPLY, case=case, event_seq=event.seq,
                       recipients=[Recipient.inbox(order.issued_by)], title=title, body=order.reply, now=now)
    return order


def supervision_orders_visible(user, *, open_only: bool = False):
    """Orders a user may list: handlers their departments', dispatchers/supervisors those in their area."""
    departments = [a.department_id for a in roles_of(user) if a.role == Role.HANDLER]
    visible_cases = Case.objects.filter(cases_visible_q(user)).values("pk")
    orders = SupervisionOrder.objects.filter(Q(department_id__in=departments) | Q(case__in=visible_cases))
    orders = orders.select_related("case", "department", "issued_by")
    if open_only:
        orders = orders.filter(replied_at__isnull=True)
    return orders
