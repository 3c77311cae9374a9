"""Page access: a page belongs to a role; anyone else gets the 403 page (never a redirect loop, never a leak)."""
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from .homes import roles_held


def role_required(*roles: str):
    """Only signed-in users holding one of ``roles`` (administrators hold all) may open the view."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not roles_held(request.user) & set(roles):
                raise PermissionDenied(_("This page is for another role. Use the menu to go to your own pages."))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
