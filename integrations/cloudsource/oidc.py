"""Google's OIDC tokens on Pub/Sub push requests: the authentication of the Cloud Source intake.

A push subscription configured with a service account sends ``Authorization: Bearer <JWT>``, a Google ID token:
signed RS256 by one of Google's keys, ``iss`` ``https://accounts.google.com`` (or without the scheme), ``aud`` the
audience set on the subscription, ``email`` the service account's (``email_verified`` true), unexpired. The keys are
those of the ``jwks_uri`` that Google's OpenID discovery document names (``ESTAFETTE_CLOUDSOURCE_DISCOVERY_URL``;
tests serve their own), fetched by PyJWT's ``PyJWKClient``, which caches them and fetches again for a key id it does
not know (Google rotates its keys), at most once per ``KEY_REFETCH_COOLDOWN_SECONDS``. The discovery document is kept
for ``DISCOVERY_CACHE_SECONDS``.

Nothing but RS256 is accepted (an ``alg: none`` or HS256 token fails before any key is looked at), and a token's text
never reaches a log line or an error message.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    import jwt

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
ALGORITHMS = ["RS256"]
DISCOVERY_CACHE_SECONDS = 3600
KEYS_CACHE_SECONDS = 3600
# A token naming a key id we do not know makes the keys be fetched again, at most once in this long: tokens with made-up
# key ids cannot make us hammer Google.
KEY_REFETCH_COOLDOWN_SECONDS = 60.0
TIMEOUT_SECONDS = 10.0
LEEWAY_SECONDS = 30  # clocks drift: Google's and ours may be this far apart


class InvalidToken(ValueError):
    """The request's token is missing or not one this server accepts; the message says why (never quoting it)."""


@dataclass(frozen=True)
class _Keys:
    client: jwt.PyJWKClient
    fetched_at: float


_keys: dict[str, _Keys] = {}
_lock = threading.Lock()


def forget_keys() -> None:
    """Drop the cached discovery documents and keys (tests; a key rotation we do not want to wait for)."""
    with _lock:
        _keys.clear()


def _key_client(discovery_url: str) -> jwt.PyJWKClient:
    """The key client of the discovery document's ``jwks_uri``, from the cache while it is fresh."""
    import jwt  # see verify_google_token

    moment = time.monotonic()
    with _lock:
        cached = _keys.get(discovery_url)
    if cached is not None and moment - cached.fetched_at < DISCOVERY_CACHE_SECONDS:
        return cached.client
    try:
        response = requests.get(discovery_url, timeout=TIMEOUT_SECONDS, allow_redirects=False)
        response.raise_for_status()
        jwks_uri = response.json().get("jwks_uri")
    except (requests.RequestException, ValueError, AttributeError) as error:
        raise ConnectionError(f"Google's discovery document cannot be read ({type(error).__name__})") from None
    if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
        raise ConnectionError("Google's discovery document names no jwks_uri")
    client = jwt.PyJWKClient(
        jwks_uri,
        cache_keys=True,
        lifespan=KEYS_CACHE_SECONDS,
        timeout=int(TIMEOUT_SECONDS),
        cooldown_duration=KEY_REFETCH_COOLDOWN_SECONDS,
    )
    with _lock:
        _keys[discovery_url] = _Keys(client, moment)
    return client


def verify_google_token(token: str, *, discovery_url: str, audience: str, email: str) -> dict[str, object]:
    """The token's claims when it is a Google ID token for ``audience`` of the service account ``email``; raises
    ``InvalidToken`` saying what is wrong, ``ConnectionError`` when Google's keys cannot be fetched now."""
    if not token:
        raise InvalidToken("no token: the push subscription must authenticate with a service account (OIDC)")
    # Here, not at the top: PyJWT loads ``cryptography`` (~8 MB held for good) into every web process, which needs it
    # only once Cloud Source Repositories pushes arrive.
    import jwt

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("the token is not a JSON Web Token") from None
    if header.get("alg") not in ALGORITHMS:
        raise InvalidToken("the token is not signed RS256 as Google's are")
    try:
        key = _key_client(discovery_url).get_signing_key_from_jwt(token)
    except jwt.PyJWKClientConnectionError:
        raise ConnectionError("Google's keys cannot be fetched now") from None
    except jwt.PyJWTError:  # no such key id, no key id, or a key set with no usable key
        raise InvalidToken("the token is not signed by one of Google's keys") from None
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=ALGORITHMS,
            audience=audience,
            issuer=GOOGLE_ISSUERS,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat", "email"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the token has expired") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("the token is for another audience than ESTAFETTE_CLOUDSOURCE_AUDIENCE") from None
    except jwt.InvalidIssuerError:
        raise InvalidToken("the token is not issued by Google (accounts.google.com)") from None
    except jwt.PyJWTError as error:
        raise InvalidToken(f"the token is not valid ({type(error).__name__})") from None
    if str(claims.get("email", "")).casefold() != email.casefold() or claims.get("email_verified") is not True:
        raise InvalidToken("the token is of another service account than ESTAFETTE_CLOUDSOURCE_SERVICE_ACCOUNT_EMAIL")
    return claims
