"""Domain errors raised by services and mapped to HTTP by ``config.api.exception_handler``.

Services raise these (never HTTP responses); views and management commands turn them into a status code or a
CLI message. Each carries a message a person can act on and, for bad input, the field it concerns.
"""


class DomainError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}


class InvalidInput(DomainError):
    """A required input is missing or malformed (HTTP 400)."""


class PermissionDenied(DomainError):
    """The actor holds no role whose area scope covers this object (HTTP 403)."""

    status_code = 403
    code = "permission_denied"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    """The action does not fit the object's current state (HTTP 409)."""

    status_code = 409
    code = "conflict"


class Unprocessable(DomainError):
    """Well-formed input the domain cannot act on, e.g. a point outside the service area (HTTP 422)."""

    status_code = 422
    code = "unprocessable"


class Locked(DomainError):
    """Too many failed sign-ins for this username from this address (HTTP 429); says when to try again."""

    status_code = 429
    code = "locked"
