"""How the OpenAPI document describes API clients' tokens: a drf-spectacular extension, registered when this module is
imported, which drf-spectacular does as it starts making a document (``with_client_tokens``, a preprocessing hook in
``SPECTACULAR_SETTINGS``), so no process holds the generator before one is asked for."""

from __future__ import annotations

from collections.abc import Sequence
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


def with_client_tokens(endpoints: Sequence[Any]) -> Sequence[Any]:
    """The endpoints as they are: the hook exists for its module's import, which registers ``ClientTokenScheme``."""
    return endpoints
