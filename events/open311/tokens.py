"""Request tokens: ``<report id>-<HMAC>``, signed with the SECRET_KEY so they cannot be guessed, and nothing stored.

A token names the inbound report a POST created; ``tokens/{token}`` answers its case number. Changing the SECRET_KEY
invalidates the tokens handed out before (clients then look their requests up by service_request_id).
"""

from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "gridloop.open311.token"
_MAC_LENGTH = 20


def _mac(report_id: int) -> str:
    return salted_hmac(_SALT, str(report_id)).hexdigest()[:_MAC_LENGTH]


def token_for(report_id: int) -> str:
    return f"{report_id}-{_mac(report_id)}"


def token_report_id(token: str) -> int | None:
    """The report id a token names, or None when it is not one of ours."""
    number, _, mac = (token or "").partition("-")
    if not (number.isascii() and number.isdigit()) or len(number) > 18 or not constant_time_compare(mac, _mac(int(number))):
        return None
    return int(number)
