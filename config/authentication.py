"""Token authentication for the API (its own module: DRF imports it while loading ``rest_framework.views``)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from config.compiled import CompiledQuery


def _tokens():
    from rest_framework.authtoken.models import Token  # (not at import: the apps load after this module)

    return Token.objects


_token_with_user = CompiledQuery(lambda key: _tokens().select_related("user").filter(key=key), str)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication (same header, same answers), its query compiled once (config.compiled): it runs on
    every API request, and compiling it each time cost more CPU than PostgreSQL took to answer it."""

    def authenticate_credentials(self, key):
        token = next(iter(_token_with_user(key)), None)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return token.user, token
