"""API clients' tokens: ``POST /api/auth/client/login`` hands out a short-lived JWT (HS256, PyJWT), sent back as
``Authorization: Bearer <token>``, with Estafette's claims (``email`` ``<name>@client.estafette.io``, ``clientID``,
``roles``, ``organizations``).

Why a JWT: Estafette's clients (the hanging-job cleaner, scripts) expect one. Why PyJWT: the well-kept reference
implementation; it checks the signature, ``exp``, ``iat``, ``iss`` and ``aud`` and refuses ``alg: none``. The key is
derived from ``ESTAFETTE_SECRET_KEY`` (or ``ESTAFETTE_CLIENT_JWT_KEY``) for this purpose only, so a token of another
kind signed with the same secret (a job token) never passes as a client's. The client is looked up on every request,
so a deactivated client is refused at once, whatever its token's expiry.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from estafette.access.models import Client
from estafette.access.principal import CLIENT_EMAIL_DOMAIN, ClientUser

ISSUER = "estafette-ci-api"
AUDIENCE = "estafette-ci-api/client"
ALGORITHM = "HS256"


def _key() -> bytes:
    secret = (settings.CLIENT_JWT_KEY or settings.SECRET_KEY).encode("utf-8")
    return hmac.new(secret, b"estafette.access.client-token", hashlib.sha256).digest()


def client_token_issue(*, client: Client) -> tuple[str, int]:
    """A token for ``client`` and its lifetime in seconds."""
    now = timezone.now()
    lifetime = settings.CLIENT_TOKEN_SECONDS
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": client.client_id,
        "iat": now,
        "exp": now + timedelta(seconds=lifetime),
        "clientID": client.client_id,
        "email": f"{client.name}@{CLIENT_EMAIL_DOMAIN}",
        "roles": list(client.roles),
        "organizations": [o.name for o in client.organizations.all()],
    }
    import jwt  # see client_token_verify

    return jwt.encode(claims, _key(), algorithm=ALGORITHM), lifetime


def client_token_verify(token: str) -> Client:
    """The active client a token was issued to; ``AuthenticationFailed`` for anything else."""
    # Here, not at the top: DRF imports this module with every view, and PyJWT loads ``cryptography`` (~8 MB held
    # for good), which a web process needs only once an API client presents a token.
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            _key(),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise exceptions.AuthenticationFailed("The client token has expired: log in again.") from None
    except jwt.InvalidTokenError:
        raise exceptions.AuthenticationFailed("Invalid client token.") from None
    client = Client.objects.prefetch_related("organizations").filter(client_id=claims["sub"]).first()
    if client is None or not client.active:
        raise exceptions.AuthenticationFailed("The client is inactive or deleted.")
    return client


class ClientTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[ClientUser, Client] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: send 'Bearer <token>'.")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid client token.") from None
        client = client_token_verify(token)
        return ClientUser(client), client

    def authenticate_header(self, request: Any) -> str:
        return f'{self.keyword} realm="api"'
