"""Shared-token authentication for push intakes that cannot sign their bodies (Pub/Sub, Docker registries)."""

from __future__ import annotations

import hmac

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from integrations.intake_view import IntakeView


def presented_token(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>``, else of the ``?token=`` query parameter, else empty."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return str(request.query_params.get("token", ""))


def token_is_valid(request: Request, expected: str) -> bool:
    """Constant-time comparison; an empty configured token never passes."""
    presented = presented_token(request)
    return bool(expected) and bool(presented) and hmac.compare_digest(presented.encode(), expected.encode())


class TokenIntakeView(IntakeView):
    """An intake whose requests prove they know its secret by sending it: ``Authorization: Bearer <token>`` or
    ``?token=<token>`` (``token_parameter`` documents the latter)."""

    def proves(self, request: Request, secret: str) -> bool:
        return token_is_valid(request, secret)


def token_parameter(variable: str) -> OpenApiParameter:
    """The ``?token=`` query parameter of an intake whose token is the setting ``variable``."""
    return OpenApiParameter("token", OpenApiTypes.STR, description=variable)
