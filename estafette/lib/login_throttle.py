"""Failed logins are counted and, past a limit, refused for a while (django-axes, configured in settings).

Both password doors, ``POST /api/auth/login`` and the admin's ``/admin/login/``, go through Django's
``authenticate()``: axes' backend refuses a locked client there, before any password is hashed, and its handler
counts each failure in the database, so the count is one for gunicorn's workers, the other processes and every pod.

Why axes and not DRF's throttles: DRF's throttles count in the Django cache with a read-then-write that loses counts
under concurrent requests (DRF's own documentation says not to use them against brute force), they only guard DRF
views (not the admin), and the cache would have to be a shared one. Axes counts failures (a user who logs in is not
slowed down), in a table, with an atomic increment.

This module holds what is ours in that set-up: the client's address (behind trusted proxies only), the 429 answer
with ``Retry-After``, and the database handler wrapped in the 40001 retry.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from estafette.lib.db import retry_on_serialization_failure

LOCKED_MESSAGE = "too many failed logins: try again in {seconds} seconds"


def client_address(request: HttpRequest) -> str | None:
    """The address failures are counted under: the connection's, or behind proxies the one they vouch for.

    ``ESTAFETTE_TRUSTED_PROXY_COUNT`` (DRF's ``NUM_PROXIES``) says how many reverse proxies stand in front of the
    server, each appending the address it saw to ``X-Forwarded-For``; the address is then the one the outermost
    trusted proxy appended, and whatever a client wrote further left is ignored. With 0 (the default) the header is
    ignored altogether: any client can send it, and trusting it would let a guesser pick a new address per attempt.
    DRF's ``get_ident`` implements exactly this rule; what it returns is checked to be an address (a misconfigured
    count could reach a client's text) and the connection's address is used otherwise.
    """
    candidate = BaseThrottle().get_ident(request)  # type: ignore[no-untyped-call]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return request.META.get("REMOTE_ADDR") or None


class LoginThrottleHandler(AxesDatabaseHandler):
    """Axes' database handler, with its writes retried on a serialization failure (SQLSTATE 40001).

    A failure locks the client's row (``select_for_update``) and increments it; under PostgreSQL's SERIALIZABLE and
    on CockroachDB two failures of one client at once make one of them fail with 40001, which would be a 500.
    Signals are sent outside any transaction of the login views, so the whole handler can run again.
    """

    @retry_on_serialization_failure
    def user_login_failed(self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)

    @retry_on_serialization_failure
    def user_logged_in(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        super().user_logged_in(sender, request, user, **kwargs)

    @retry_on_serialization_failure
    def user_logged_out(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        super().user_logged_out(sender, request, user, **kwargs)


def seconds_until_unlocked(request: HttpRequest, credentials: dict[str, Any] | None) -> int:
    """When the refused client may try again, at the latest: the newest counted failure that refuses it, plus the
    cool-off (a refused attempt is not counted, so waiting this long is enough)."""
    cool_off = get_cool_off(request)
    assert cool_off is not None, "AXES_COOLOFF_TIME is set in settings"
    handler = AxesProxyHandler.get_implementation()
    newest = [
        latest
        for attempts in handler.get_user_attempts(request, credentials)  # type: ignore[attr-defined]
        if (latest := attempts.aggregate(latest=Max("attempt_time"))["latest"]) is not None
    ]
    if not newest:
        return math.ceil(cool_off.total_seconds())
    return max(1, math.ceil((max(newest) + cool_off - timezone.now()).total_seconds()))


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """Axes' answer to a refused login (``AXES_LOCKOUT_CALLABLE``): 429 with ``Retry-After``.

    The API's login view raises DRF's ``Throttled`` itself (the one exception handler gives it Estafette's
    ``{"code", "message"}`` body), so its 429 is passed on; other pages (the admin's login) get a plain text answer.
    """
    if original_response is not None and original_response.status_code == 429:
        return original_response
    seconds = seconds_until_unlocked(request, credentials)
    message = LOCKED_MESSAGE.format(seconds=seconds)
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"code": "Too Many Requests", "message": message}, status=429)
    else:
        response = HttpResponse(message + "\n", status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(seconds)
    return response
