from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = _("Dispatch and evaluation")

    def ready(self):
        from events.hooks import dispatch_steps_register

        from .checks import holiday_table_check
        from .steps import STEPS

        # A case change (events.services.case_act) calls dispatch's clocks, notices, routing and supervision through
        # this one registration (events imports nothing of dispatch).
        dispatch_steps_register(STEPS)
        # Reads the calendar overrides: runs only when databases are checked (migrate, `check --database default`).
        checks.register(holiday_table_check, checks.Tags.database)
