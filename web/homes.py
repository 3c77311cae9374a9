"""Who lands where: each staff role has one home page (UI.md, "Who sees what").

A person with several roles has several homes and switches between them from the header; the first one in
``HOMES`` order is where they land after signing in.
"""
from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from grids.models import Role
from grids.selectors import is_admin, roles_of


@dataclass(frozen=True)
class Home:
    role: str
    url_name: str
    label: str

    @property
    def url(self) -> str:
        return reverse(self.url_name)


HOMES = (
    Home(Role.DISPATCHER, "web:console", _("Command console")),
    Home(Role.OPERATOR, "web:desk", _("Hotline desk")),
    Home(Role.HANDLER, "web:dept", _("Department workbench")),
    Home(Role.GRID_WORKER, "web:field", _("Field app")),
    Home(Role.SUPERVISOR, "web:cockpit", _("Cockpit")),
)


def roles_held(user) -> set[str]:
    """The roles a signed-in user holds (an administrator holds every page's role)."""
    if is_admin(user):
        return {home.role for home in HOMES}
    return {assignment.role for assignment in roles_of(user)}


def homes_of(user) -> list[Home]:
    held = roles_held(user)
    return [home for home in HOMES if home.role in held]


def home_url(user) -> str | None:
    """Where the user lands after signing in: the first of their homes, the admin for a bare superuser/staff."""
    homes = homes_of(user)
    if homes:
        return homes[0].url
    if user.is_staff:
        return reverse("admin:index")
    return None
