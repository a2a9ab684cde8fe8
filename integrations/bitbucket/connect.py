"""Atlassian Connect, as Bitbucket Cloud speaks it: the app's descriptor and the JWT every request carries.

Bitbucket signs each request it sends an app (lifecycle callbacks, webhooks) with a JSON Web Token in
``Authorization: JWT <token>``: HS256 with the installation's shared secret, ``iss`` the installation's client key,
``iat``/``exp``, and ``qsh``, the hash of the request's method, path (relative to the app's base URL) and sorted query
(``query_string_hash``), which binds the token to that request. The app signs its own requests to Bitbucket the same
way, with ``iss`` its key and ``sub`` the client key (``app_token``: the access-token grant). PyJWT does the signing
and checking; only the query string hash is written here, as Atlassian specifies it (its own library,
atlassian-jwt, is the tests' oracle).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

AUTH_SCHEME = "JWT"
LEEWAY_SECONDS = 60  # clocks drift; Bitbucket's tokens live minutes
# Bitbucket's tokens are short-lived; one that claims to live longer is refused (a leaked one would be usable longer).
MAX_LIFETIME_SECONDS = 60 * 60
APP_TOKEN_SECONDS = 3 * 60
EVENTS_PATH = "/api/integrations/bitbucket/events"
INSTALLED_PATH = "/api/integrations/bitbucket/installed"
UNINSTALLED_PATH = "/api/integrations/bitbucket/uninstalled"
# The events the app subscribes to: Estafette's (builds, renames, archives) and what bots commonly react to.
WEBHOOK_EVENTS = ("repo:push", "repo:updated", "repo:deleted")


class InvalidToken(ValueError):
    """The request's JWT is missing or does not prove what it must; the message says why (never the token)."""


def canonical_request(method: str, path: str, query: Mapping[str, Sequence[str]]) -> str:
    """``METHOD&/path&key=value&…``: the path without a trailing ``/`` and with ``&`` escaped, the query without
    ``jwt``, keys sorted, a key's values sorted and joined with ``,``, each percent-encoded (RFC 3986)."""
    canonical_path = "/" + path.strip("/").replace("&", "%26")
    pairs = sorted(
        (quote(key, safe="~"), ",".join(quote(value, safe="~") for value in sorted(values)))
        for key, values in query.items()
        if key != "jwt"
    )
    return f"{method.upper()}&{canonical_path}&{'&'.join(f'{key}={value}' for key, value in pairs)}"


def query_string_hash(method: str, path: str, query: Mapping[str, Sequence[str]]) -> str:
    return hashlib.sha256(canonical_request(method, path, query).encode()).hexdigest()


def presented_token(authorization: str) -> str:
    """The token of ``Authorization: JWT <token>``; empty when the header is not of that scheme."""
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme == AUTH_SCHEME else ""


@dataclass(frozen=True)
class Verified:
    client_key: str
    claims: Mapping[str, Any]


def verify_request(
    token: str,
    *,
    method: str,
    path: str,
    query: Mapping[str, Sequence[str]],
    secret_of: Callable[[str], str | None],
    now: float | None = None,
) -> Verified:
    """Check a request's JWT: signed HS256 with the secret ``secret_of(iss)`` gives (None: an unknown client key),
    current, not longer-lived than ``MAX_LIFETIME_SECONDS``, and its ``qsh`` this request's. ``InvalidToken``."""
    if not token:
        raise InvalidToken(f"the request has no 'Authorization: {AUTH_SCHEME} <token>' header")
    import jwt  # here, not at the top: PyJWT loads ``cryptography`` (~7 MB) into every process, the worker's too

    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise InvalidToken("the request's JWT cannot be read") from None
    if header.get("alg") != "HS256":
        raise InvalidToken("the request's JWT must be signed HS256")
    client_key = unverified.get("iss")
    if not isinstance(client_key, str) or not client_key:
        raise InvalidToken("the request's JWT names no issuer (the installation's client key)")
    secret = secret_of(client_key)
    if not secret:
        raise InvalidToken("the request's JWT names an installation this server does not know: install the app again")
    moment = time.time() if now is None else now
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["iss", "iat", "exp", "qsh"], "verify_aud": False, "verify_iat": False},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the request's JWT has expired") from None
    except jwt.PyJWTError:
        raise InvalidToken("the request's JWT is not signed with the installation's shared secret") from None
    issued, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued, int | float) or not isinstance(expires, int | float):
        raise InvalidToken("the request's JWT needs numeric iat and exp")
    if issued > moment + LEEWAY_SECONDS or expires - issued > MAX_LIFETIME_SECONDS:
        raise InvalidToken("the request's JWT is issued in the future or lives too long")
    expected = query_string_hash(method, path, query)
    if not hmac.compare_digest(str(claims.get("qsh") or ""), expected):
        raise InvalidToken("the request's JWT was made for another request (its qsh does not match)")
    return Verified(client_key=client_key, claims=claims)


def app_token(
    *, app_key: str, client_key: str, shared_secret: str, method: str, path: str, now: float | None = None
) -> str:
    """The app's JWT for its own request to Bitbucket (``iss`` the app's key, ``sub`` the installation)."""
    import jwt  # here, not at the top: only a process that reports to Bitbucket holds PyJWT and ``cryptography``

    issued = int(time.time() if now is None else now)
    claims = {
        "iss": app_key,
        "sub": client_key,
        "iat": issued,
        "exp": issued + APP_TOKEN_SECONDS,
        "qsh": query_string_hash(method, path, {}),
    }
    return jwt.encode(claims, shared_secret, algorithm="HS256")


def descriptor(*, app_key: str, base_url: str) -> dict[str, Any]:
    """The Connect app's descriptor: where Bitbucket sends the lifecycle callbacks and the webhooks."""
    return {
        "key": app_key,
        "name": "Estafette CI",
        "description": "Builds and releases a repository's pipeline on each push, with its build statuses.",
        "vendor": {"name": "Estafette", "url": base_url},
        "baseUrl": base_url,
        "authentication": {"type": "jwt"},
        "lifecycle": {"installed": INSTALLED_PATH, "uninstalled": UNINSTALLED_PATH},
        "modules": {"webhooks": [{"event": event, "url": EVENTS_PATH} for event in WEBHOOK_EVENTS]},
        "scopes": ["account", "repository:write", "pullrequest:write"],
        "contexts": ["account"],
    }
