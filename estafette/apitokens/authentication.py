"""``Authorization: Token <key>``, checked against the stored digests (``estafette.apitokens.models``)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from estafette.apitokens.models import ApiToken


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's ``TokenAuthentication`` (same header, keyword, parsing, errors and 401 challenge) over hashed keys."""

    model = ApiToken

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiToken]:
        token = ApiToken.objects.for_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token.mark_used(now=timezone.now())
        return token.user, token
