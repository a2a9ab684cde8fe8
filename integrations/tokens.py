"""Shared-token authentication for push intakes that cannot sign their bodies (Pub/Sub, Docker registries)."""

from __future__ import annotations

import hmac

from rest_framework.request import Request


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
