from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class DispatchConfig(AppConfig):
    name = "dispatch"
    verbose_name = _("Dispatch and evaluation")

    def ready(self):
        from .checks import holiday_table_check

        # Reads the calendar overrides: runs only when databases are checked (migrate, `check --database default`).
        checks.register(holiday_table_check, checks.Tags.database)
