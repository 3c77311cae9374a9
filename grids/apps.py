from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class GridsConfig(AppConfig):
    name = "grids"
    verbose_name = _("Grids and people")

    def ready(self):
        from config.checks import autovacuum_check

        # The database server's own settings (runs only when databases are checked: migrate, `check --database`).
        checks.register(autovacuum_check, checks.Tags.database)
