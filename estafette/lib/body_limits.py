"""Request body size limits, enforced before anything reads a body (the first middleware).

Without it Django raises ``RequestDataTooBig`` when a view reads ``request.body`` past ``DATA_UPLOAD_MAX_MEMORY_SIZE``
(a 400 HTML page and a logged traceback per request), while DRF reads JSON from the raw stream with no limit at all.
Here every request's declared ``Content-Length`` is checked against the limit of its route and refused at once with
413 — ``{"code", "message"}`` JSON under ``/api/`` — without reading the body. A chunked body (no ``Content-Length``,
which Django would otherwise read as empty) is read up to the limit and kept for the view; one byte more is a 413.

Limits per route (``settings.REQUEST_BODY_LIMITS``, first match wins, else ``settings.REQUEST_BODY_DEFAULT_LIMIT``):
the builder's log batches are legitimately larger than anything else the API takes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from functools import cached_property

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

READ_SIZE = 64 * 1024


class BodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    @cached_property
    def routes(self) -> Sequence[tuple[re.Pattern[str], int]]:
        return [(re.compile(pattern), limit) for pattern, limit in settings.REQUEST_BODY_LIMITS]

    def limit_for(self, path: str) -> int:
        for pattern, limit in self.routes:
            if pattern.search(path):
                return int(limit)
        return int(settings.REQUEST_BODY_DEFAULT_LIMIT)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = self.limit_for(request.path_info)
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.strip():
            try:
                length = int(declared)
            except ValueError:
                return _refuse(request, 400, "Content-Length must be a whole number of bytes")
            if length < 0:
                return _refuse(request, 400, "Content-Length must be a whole number of bytes")
            if length > limit:
                return _too_large(request, limit)
        elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = _read_capped(request, limit)
            if body is None:
                return _too_large(request, limit)
            # Hand the body to Django and DRF as if it had been sent with a Content-Length.
            request.META["CONTENT_LENGTH"] = str(len(body))
            request._stream = io.BytesIO(body)  # type: ignore[attr-defined]  # WSGIRequest reads its body from here
        return self.get_response(request)


def _read_capped(request: HttpRequest, limit: int) -> bytes | None:
    """The chunked body, or None once it grows past ``limit`` (reading stops there)."""
    stream = request.META["wsgi.input"]
    parts: list[bytes] = []
    size = 0
    while True:
        part = stream.read(min(READ_SIZE, limit + 1 - size))
        if not part:
            return b"".join(parts)
        size += len(part)
        if size > limit:
            return None
        parts.append(part)


def _too_large(request: HttpRequest, limit: int) -> HttpResponse:
    return _refuse(
        request,
        413,
        f"the request body is larger than this endpoint takes ({limit} bytes); send less"
        + (", in more log batches" if "/builder/" in request.path_info else ""),
    )


def _refuse(request: HttpRequest, status: int, message: str) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        response: HttpResponse = JsonResponse({"code": _phrase(status), "message": message}, status=status)
    else:
        response = HttpResponse(f"{message}\n", status=status, content_type="text/plain; charset=utf-8")
    # No "Connection: close" here: WSGI forbids hop-by-hop headers from the application. gunicorn drains what is
    # left of an unread body within a bound of its own, or closes the connection.
    return response


def _phrase(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase
