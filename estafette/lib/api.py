"""API infrastructure shared by every app: the error shape, and the one place domain errors become HTTP.

Models, services and selectors raise ``estafette.lib.errors`` (no DRF there); ``exception_handler`` maps them, DRF's
own exceptions and Django's to Estafette's body ``{"code": "<HTTP status text>", "message": "…"}``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response

from estafette.lib.db import is_serialization_failure
from estafette.lib.errors import DomainError

logger = logging.getLogger(__name__)

# How long a client should wait before retrying a write the database kept aborting for conflicting writes: about the
# last back-off of ``estafette.lib.db``'s retries, by when the conflicting transactions have committed.
CONFLICT_RETRY_AFTER_SECONDS = 1


def error_response(status_code: int, message: str) -> Response:
    from http import HTTPStatus

    return Response({"code": HTTPStatus(status_code).phrase, "message": message}, status=status_code)


def _flatten(detail: Any) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten(item) for item in detail)
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every refusal has Estafette's body ``{"code": "<HTTP status text>", "message": "…"}``."""
    if isinstance(exc, DomainError):
        response = error_response(exc.status, exc.message)
        if exc.retry_after:
            response["Retry-After"] = str(math.ceil(exc.retry_after))
        return response
    if isinstance(exc, Http404):
        return error_response(404, str(exc) or "Not found")
    if isinstance(exc, DjangoValidationError):
        return error_response(400, "; ".join(exc.messages))
    if isinstance(exc, exceptions.APIException):
        response = error_response(exc.status_code, _flatten(exc.detail))
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            response["WWW-Authenticate"] = auth_header
        wait = getattr(exc, "wait", None)
        if wait:
            response["Retry-After"] = str(math.ceil(wait))
        return response
    if isinstance(exc, DatabaseError) and is_serialization_failure(exc):
        return _conflict_response(context)
    return None


def _conflict_response(context: dict[str, Any]) -> Response:
    """A write that still lost to concurrent writes after every retry: 503 with Retry-After, not a 500 traceback.

    The transaction was rolled back, so the request changed nothing in it and can be sent again as is (the builder's
    reports retry any 5xx). Logged as a warning without the traceback: it is load, not a defect.
    """
    view = context.get("view")
    logger.warning(
        "%s: the database aborted its transaction for conflicting writes after every retry; answered 503",
        type(view).__name__ if view is not None else "a view",
    )
    response = error_response(
        503,
        "the database aborted this change because of conflicting writes at the same moment, even after retrying it; "
        "nothing of it was stored: send the request again",
    )
    response["Retry-After"] = str(CONFLICT_RETRY_AFTER_SECONDS)
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 handler: Estafette's JSON body under ``/api/``, the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "Not Found", "message": f"no API route {request.path}"}, status=404)
    return defaults.page_not_found(request, exception or Http404())


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler: a JSON body under ``/api/`` that leaks nothing of the error."""
    if request.path.startswith("/api/"):
        message = "the server failed to answer; the error is in its log, try again or report it"
        return JsonResponse({"code": "Internal Server Error", "message": message}, status=500)
    return defaults.server_error(request)
