"""How the OpenAPI document describes API clients' tokens (drf-spectacular extension; imported by
``estafette.urls``, where the schema is made)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ClientTokenScheme(OpenApiAuthenticationExtension):
    target_class = "estafette.access.tokens.ClientTokenAuthentication"
    name = "clientToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "an API client's token from POST /api/auth/client/login",
        }
