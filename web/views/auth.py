"""Sign-in, sign-out, password change, the landing redirect and the text-size preference — for every staff role.

Failed sign-ins are counted by django-axes (settings ``AXES_*``) on every path that authenticates: this page,
the admin's login and the API's token endpoint; a locked username+IP gets the lockout page.
"""
from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from ..context import TEXT_SIZE_COOKIE, TEXT_SIZES
from ..homes import home_url


def landing(request):
    """``/``: signed-in people go to their home, everyone else to the sign-in page."""
    if not request.user.is_authenticated:
        return redirect("web:login")
    target = home_url(request.user)
    if target is None:
        return render(request, "web/auth/no_role.html", status=403)
    return redirect(target)


class Login(auth_views.LoginView):
    template_name = "web/auth/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return home_url(self.request.user) or reverse_lazy("web:landing")


class Logout(auth_views.LogoutView):
    next_page = reverse_lazy("web:login")


class PasswordChange(auth_views.PasswordChangeView):
    template_name = "web/auth/password_change.html"
    success_url = reverse_lazy("web:password_change_done")


class PasswordChangeDone(auth_views.PasswordChangeDoneView):
    template_name = "web/auth/password_change_done.html"


@require_POST
def text_size(request):
    """Switch the large-text mode (适老化) on or off; a cookie, so it works before sign-in and on citizen pages."""
    size = request.POST.get("size", "normal")
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "/"
    response = HttpResponseRedirect(target)
    response.set_cookie(TEXT_SIZE_COOKIE, size if size in TEXT_SIZES else "normal", max_age=365 * 24 * 3600,
                        samesite="Lax", secure=request.is_secure())
    return response
