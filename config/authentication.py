"""Token authentication for the API (its own module: DRF imports it while loading ``rest_framework.views``).

Tokens are ``grids.ApiToken`` rows, one per user and device: only their SHA-256 is stored. A token is refused (401,
with a message saying what to do) when unknown, expired (``GRIDLOOP_API_TOKEN_TTL_HOURS`` after its last use: the
lifetime slides, the row is written at most once a minute), when its user is deactivated, or when the user's password
changed after it was issued (``password_mark``: any change, wherever it is made, ends every token of the user).
The header is DRF's (``Authorization: Token <token>``); the lookup is compiled once (config.compiled): it runs on
every API request.
"""

import hashlib
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from config.compiled import CompiledQuery

SLIDE_AT_MOST_EVERY = timedelta(seconds=60)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def password_mark(password_hash: str) -> str:
    """A digest of the user's password hash as it was when a token was issued (not the hash itself)."""
    return hashlib.sha256(f"gridloop-api-token:{password_hash}".encode()).hexdigest()


def token_ttl() -> timedelta:
    return timedelta(hours=settings.GRIDLOOP_API_TOKEN_TTL_HOURS)


_token_with_user = CompiledQuery(
    lambda key_hash: apps.get_model("grids", "ApiToken").objects.select_related("user").filter(key_hash=key_hash), str)


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        token = next(iter(_token_with_user(token_hash(key))), None)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        now = timezone.now()
        if token.expires_at <= now:
            raise exceptions.AuthenticationFailed(_("The token has expired: sign in again for a new one."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if token.password_mark != password_mark(token.user.password):
            raise exceptions.AuthenticationFailed(_("The password was changed after this token was issued: sign in "
                                                    "again for a new one."))
        ttl = token_ttl()
        if token.expires_at < now + ttl - SLIDE_AT_MOST_EVERY:
            token.expires_at, token.last_used_at = now + ttl, now
            type(token).objects.filter(pk=token.pk).update(expires_at=token.expires_at, last_used_at=now)
        return token.user, token
