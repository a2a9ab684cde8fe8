"""The domain's refusals: what models, services and selectors raise when a request is the caller's to fix.

No HTTP framework here: each error carries the HTTP status it stands for as plain data, and
``estafette.lib.api.exception_handler`` — the one place that speaks DRF — turns it into Estafette's body
``{"code": "<HTTP status text>", "message": "…"}`` (with ``Retry-After`` when ``retry_after`` is set). A message
is shown to the caller as it is: it must never hold a secret.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refused request that is the caller's to fix. Mapped to ``{"code", "message"}`` with ``status``."""

    status = 400
    code = "Bad Request"
    # Seconds after which trying again may succeed (the ``Retry-After`` header); None: not a passing condition.
    retry_after: float | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(DomainError):
    """400: the request is malformed or names something that cannot be done."""


class Unauthorized(DomainError):
    """401: no credentials, or credentials that prove nothing (a bad or expired token)."""

    status = 401
    code = "Unauthorized"


class Forbidden(DomainError):
    """403: valid credentials that do not allow this (a job token of another run)."""

    status = 403
    code = "Forbidden"


class NotFound(DomainError):
    status = 404
    code = "Not Found"


class Conflict(DomainError):
    """409: the request is valid but the state of what it names refuses it (a finished run, an archived pipeline)."""

    status = 409
    code = "Conflict"


class TooLarge(DomainError):
    status = 413
    code = "Request Entity Too Large"


class TooManyRequests(DomainError):
    """429: the caller holds as much of something as one caller may; retry once it gave some back."""

    status = 429
    code = "Too Many Requests"


class Unavailable(DomainError):
    """503: a passing condition of the server (it is full, or lost a race it could not settle); retry."""

    status = 503
    code = "Service Unavailable"
