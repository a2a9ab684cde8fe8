"""Request ids: one id follows a piece of work from the HTTP request that started it, through the events it
published (a NATS header) and the consumers that handled them, to the job's builder (its ``BuilderConfig``) and the
builder's reports back to the API, so one search of the logs finds every line of it.

``RequestIdMiddleware`` takes a caller's ``X-Request-ID`` (when it is a plain token: a proxy's or a load balancer's)
or makes one, and answers with it. The id lives in a context variable: each gunicorn thread serves one request at a
time, and a consumer sets it around each event (``bound``). ``RequestIdFilter`` puts it on every log record
(``request_id``, empty outside any request), which the JSON log format shows as a field.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"  # HTTP, and the NATS header of events published within a request
_current: ContextVar[str] = ContextVar("estafette_request_id", default="")
# What a caller may give: a token (uuid, hex, a proxy's id), never text that could forge log lines or fields.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")


def current_request_id() -> str:
    """The id of the work in hand ("" outside any)."""
    return _current.get()


def acceptable(value: str | None) -> str:
    """``value`` when it is an acceptable id, else ""."""
    return value if value and _ACCEPTABLE.fullmatch(value) else ""


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def bound(request_id: str) -> Iterator[str]:
    """Within the block, the work in hand is ``request_id`` (a new one when it is not acceptable)."""
    request_id = acceptable(request_id) or new_request_id()
    token = _current.set(request_id)
    try:
        yield request_id
    finally:
        _current.reset(token)


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with bound(acceptable(request.headers.get(HEADER))) as request_id:
            response = self.get_response(request)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (set in ``LOGGING`` on the handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get()
        return True
