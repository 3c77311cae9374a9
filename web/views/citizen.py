"""The citizen page (/c/): report from any phone browser (WeChat's in-app browser too) without installing anything,
follow the case by a private link or by case number + phone, rate the result. No staff account: a citizen is known
by their phone (confirmed by an SMS code when the SMS channel is configured) and sees only their own cases."""

import mimetypes
import secrets

from django.contrib import messages
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.errors import DomainError, InvalidInput
from events.citizen import selectors
from events.citizen.services import CitizenReport, citizen_rate, citizen_report_file, normalised_phone
from events.models import CaseState

from .. import citizen as helpers
from ..citizen_forms import FindForm, PhoneForm, RatingForm, ReportForm


def _elder(request) -> bool:
    return request.COOKIES.get(helpers.ELDER_COOKIE) == "1"


def _page(request, template: str, context: dict | None = None, status: int = 200):
    wanted = request.GET.get("elder")  # the official account's menu links to /c/?elder=1
    elder = wanted == "1" if wanted in ("0", "1") else _elder(request)
    response = render(request, template, {"elder": elder, **(context or {})}, status=status)
    if wanted in ("0", "1"):
        response.set_cookie(helpers.ELDER_COOKIE, wanted, max_age=365 * 86400, samesite="Lax")
    return response


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or fallback
    return target if url_has_allowed_host_and_scheme(target, {request.get_host()}) else fallback


def home(request):
    phone = request.session.get(helpers.SESSION_PHONE, "")
    followed = helpers.allowed_numbers(request)[:10]
    return _page(request, "web/citizen/home.html", {
        "mine": selectors.cases_of_phone(phone, limit=10) if phone else [], "phone": phone, "followed": followed})


@require_POST
def elder(request):
    on = request.POST.get("elder") == "1"
    response = redirect(_safe_next(request, reverse("web:citizen_home")))
    response.set_cookie(helpers.ELDER_COOKIE, "1" if on else "0", max_age=365 * 86400, samesite="Lax")
    return response


def report(request):
    confirmed_phone = request.session.get(helpers.SESSION_PHONE, "")
    if request.method != "POST":
        form = ReportForm(initial={"form_key": secrets.token_urlsafe(16), "phone": confirmed_phone})
        return _page(request, "web/citizen/report.html", _report_context(form, confirmed_phone))
    form = ReportForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            phone = normalised_phone(data["phone"])
        except InvalidInput:
            form.add_error("phone", _("Give a mobile number of 11 digits, e.g. 13812345678."))
            phone = ""
        if phone:
            confirmed = _phone_confirmed(request, form, phone, data.get("code", ""))
            if form.is_valid() and helpers.rate_limited("report", phone=phone, ip=helpers.client_ip(request)):
                form.add_error(None, _("Too many reports from this phone or network in the last hour. Please try "
                                       "again later, or call the 12345 hotline."))
            if form.is_valid():
                try:
                    case, token = citizen_report_file(report=CitizenReport(
                        description=data["description"], phone=phone, phone_confirmed=confirmed, lat=data["lat"],
                        lng=data["lng"], address=data["address"], category=data["category"],
                        photos=[data["photo"]] if data.get("photo") else [], intake_region=_intake_region(),
                        idempotency_key=f"citizen:{data['form_key']}"))
                except DomainError as error:
                    form.add_error(_form_field(error.field), error.message)
                else:
                    helpers.allow_case(request, case.number)
                    link = request.build_absolute_uri(reverse("web:citizen_follow", args=[token]))
                    if confirmed:
                        request.session[helpers.SESSION_PHONE] = phone
                        if helpers.sms_configured():
                            helpers.link_send(phone, case, link)
                    return redirect(reverse("web:citizen_follow", args=[token]) + "?new=1")
    return _page(request, "web/citizen/report.html", _report_context(form, confirmed_phone), status=400)


def _form_field(field: str | None) -> str | None:
    return {"lat": "address", "lng": "address", "region_code": "address", "photos": "photo",
            "description": "description", "category": "category"}.get(field or "")


def _intake_region() -> str:
    from events.wechat.conversation import _intake_code

    try:
        return _intake_code()
    except DomainError:
        return ""


def _phone_confirmed(request, form, phone: str, code: str) -> bool:
    """Whether the phone is confirmed: in this browser before, or by the code now. With SMS configured a report
    needs it; without, the phone is kept unconfirmed (and the report says so)."""
    if request.session.get(helpers.SESSION_PHONE) == phone:
        return True
    if not helpers.sms_configured():
        return False
    if not code:
        form.add_error("code", _("Enter the code we sent to your phone (press “Send me a code” first)."))
        return False
    if not helpers.phone_code_check(phone, code):
        form.add_error("code", _("This code is wrong or has expired. Ask for a new one."))
        return False
    return True


def _report_context(form, confirmed_phone: str) -> dict:
    strings = {"locating": _("Finding your position…"), "located": _("Your position is attached (±%(accuracy)s m)."),
               "no_position": _("Your phone gave no position: describe the place instead."),
               "offline": _("No connection. Try again in a moment.")}
    return {"form": form, "sms": helpers.sms_configured(), "confirmed_phone": confirmed_phone, "strings": strings}


@require_POST
def code(request):
    """Send an SMS code to confirm the phone (JSON for the page's script; a redirect back without it)."""
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        phone = normalised_phone(request.POST.get("phone", ""))
    except InvalidInput:
        phone = ""
    if not phone:
        message, status = _("Give a mobile number of 11 digits, e.g. 13812345678."), 400
    elif not helpers.sms_configured():
        message, status = _("SMS codes are not available here; your report is kept with an unconfirmed phone."), 400
    elif helpers.rate_limited("code", phone=phone, ip=helpers.client_ip(request)):
        message, status = _("A code was sent a moment ago. Wait a minute before asking again."), 429
    else:
        helpers.phone_code_send(phone)
        message, status = _("We sent a code to your phone. It is valid for 10 minutes."), 200
    if wants_json:
        return JsonResponse({"detail": message, "sent": status == 200}, status=status)
    (messages.success if status == 200 else messages.error)(request, message)
    return redirect(_safe_next(request, reverse("web:citizen_report")))


def follow(request, token: str):
    """The private link: whoever holds it follows the case (and may rate it: it was given to the reporter)."""
    case = selectors.case_by_token(token)
    if case is None:
        raise Http404(_("This link does not lead to a report. Check it, or look up your case by number and phone."))
    helpers.allow_case(request, case.number)
    return _case_page(request, case, reverse("web:citizen_follow", args=[token]), new=request.GET.get("new") == "1")


def case(request, number: str):
    if number not in helpers.allowed_numbers(request):
        phone = request.session.get(helpers.SESSION_PHONE, "")
        found = selectors.case_by_number_and_phone(number=number, phone=phone) if phone else None
        if found is None:
            raise Http404(_("There is no case with this number among yours."))
        helpers.allow_case(request, number)
    found = selectors.case_citizen_get(number)
    if found is None:
        raise Http404(_("There is no case with this number among yours."))
    return _case_page(request, found, reverse("web:citizen_case", args=[number]))


def _case_page(request, case, url: str, *, new: bool = False):
    rating_form = None
    status = 200
    if case.state == CaseState.VERIFIED:
        if request.method == "POST":
            rating_form = RatingForm(request.POST)
            if rating_form.is_valid():
                try:
                    case = citizen_rate(case=case, rating=rating_form.cleaned_data["rating"],
                                        comment=rating_form.cleaned_data["comment"],
                                        idempotency_key=f"citizen:{rating_form.cleaned_data['form_key']}")
                except DomainError as error:
                    rating_form.add_error(None, error.message)
                else:
                    if case.reopen_review:
                        messages.success(request, _("Thank you. You were not satisfied: a supervisor will look at "
                                                    "the case and decide whether it must be handled again."))
                    else:
                        messages.success(request, _("Thank you for rating the result."))
                    return redirect(url)
            status = 400
        else:
            rating_form = RatingForm(initial={"form_key": secrets.token_urlsafe(16)})
    elif request.method == "POST":
        messages.error(request, _("This case is not waiting for your rating now."))
        return redirect(url)
    case = selectors.case_citizen_get(case.number)
    events = [{"when": e.occurred_at, "words": helpers.event_words(e)} for e in selectors.citizen_timeline(case)]
    return _page(request, "web/citizen/case.html", {
        "case": case, "state_words": helpers.state_words(case), "events": events,
        "photos": selectors.result_photos(case), "rating_form": rating_form, "new": new, "url": url,
        "link": request.build_absolute_uri(url) if new else ""}, status=status)


def find(request):
    form = FindForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if helpers.rate_limited("lookup", ip=helpers.client_ip(request)):
            form.add_error(None, _("Too many look-ups from this network. Please wait ten minutes."))
        elif form.is_valid():
            found = selectors.case_by_number_and_phone(number=form.cleaned_data["number"],
                                                       phone=form.cleaned_data["phone"])
            if found is not None:
                helpers.allow_case(request, found.number)
                return redirect("web:citizen_case", number=found.number)
            form.add_error(None, _("No case matches this number and phone. Check both and try again."))
    return _page(request, "web/citizen/find.html", {"form": form}, status=status)


def mine(request):
    """My cases, for a phone confirmed by SMS code in this browser."""
    phone = request.session.get(helpers.SESSION_PHONE, "")
    form = PhoneForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        status = 400
        try:
            wanted = normalised_phone(form.cleaned_data["phone"])
        except InvalidInput:
            form.add_error("phone", _("Give a mobile number of 11 digits, e.g. 13812345678."))
        else:
            if not helpers.sms_configured():
                form.add_error(None, _("Confirming a phone needs SMS, which is not available here. Look up each "
                                       "case by its number and your phone instead."))
            elif helpers.phone_code_check(wanted, form.cleaned_data.get("code", "")):
                request.session[helpers.SESSION_PHONE] = wanted
                return redirect("web:citizen_mine")
            else:
                form.add_error("code", _("This code is wrong or has expired. Ask for a new one."))
    cases = selectors.cases_of_phone(phone) if phone else []
    rows = [{"case": c, "words": helpers.state_words(c)} for c in cases]
    return _page(request, "web/citizen/mine.html", {"form": form, "phone": phone, "rows": rows,
                                                    "sms": helpers.sms_configured()}, status=status)


def photo(request, pk: int):
    numbers = helpers.allowed_numbers(request)
    attachment = selectors.citizen_photo(pk=pk, case_numbers=numbers)
    if attachment is None:
        raise Http404(_("There is no such photo among your cases."))
    return FileResponse(attachment.file.open("rb"),
                        content_type=attachment.content_type or mimetypes.guess_type(attachment.file.name)[0])
