"""Local changes to the work calendar: extra holidays and extra working days (e.g. a year chinesecalendar lacks)."""

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class CalendarOverride(models.Model):
    """One day whose working status differs from (or is missing in) the chinesecalendar package.

    Read by ``dispatch.selectors.work_calendar``; written through ``dispatch.services.calendar_override_set`` /
    ``calendar_override_delete`` or the admin.
    """

    day = models.DateField(_("day"), unique=True)
    is_workday = models.BooleanField(
        _("working day"),
        help_text=_("Checked: a working day (e.g. a make-up working day). Unchecked: a day off (e.g. a holiday)."),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("calendar override")
        verbose_name_plural = _("calendar overrides")
        ordering = ["day"]

    def __str__(self):
        status = gettext("working day") if self.is_workday else gettext("day off")
        return f"{self.day:%Y-%m-%d} {status}" + (f" ({self.note})" if self.note else "")
