from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class GridsConfig(AppConfig):
    name = "grids"
    verbose_name = _("Grids and people")

    def ready(self):
        from config import compiled, fastpath, rows  # noqa: F401  (compiled and rows declare their hooks)
        from config.checks import autovacuum_check

        # The performance layer checks at start-up that the Django internals it uses are as expected (else: plain ORM).
        fastpath.check_all()
        checks.register(fastpath.fastpath_check)

        # The database server's own settings (runs only when databases are checked: migrate, `check --database`).
        checks.register(autovacuum_check, checks.Tags.database)
