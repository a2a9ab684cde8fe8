"""Estafette's ``auth`` section of ``ESTAFETTE_CONFIG_FILE``: administrators and login providers (ESTAFETTE.md §3.2)::

    auth:
      administrators: [ann@example.com]              # these emails hold the administrator role
      google:    {clientID: …, clientSecret: …, allowedIdentitiesRegex: ".+@example\\\\.com"}
      github:    {clientID: …, clientSecret: …, allowedIdentitiesRegex: …}
      microsoft: {clientID: …, clientSecret: …, tenant: <tenant id>, allowedIdentitiesRegex: …}
      oidc:                                          # any OpenID Connect issuer, found by discovery
      - {name: corp, displayName: Corp SSO, issuer: https://sso.example.com, clientID: …, clientSecret: …}
      organizations:                                 # per-organization providers: a login through one joins it
      - name: acme
        oauthProviders:
        - {name: google, clientID: …, clientSecret: …, allowedIdentitiesRegex: …}

Secrets may be ``estafette.secret(...)`` envelopes (decrypted with the installation key at start) or plain text.
Pure: no models, so ``settings`` reads it at start-up and a mistake stops the server with the item named.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured

GOOGLE_ISSUER = "https://accounts.google.com"
MICROSOFT_ISSUER = "https://login.microsoftonline.com/{tenant}/v2.0"
GITHUB_URL = "https://github.com"  # a GitHub Enterprise Server's URL in ``issuer`` instead
NAMED = ("google", "github", "microsoft")
DISPLAY = {"google": "Google", "github": "GitHub", "microsoft": "Microsoft"}
PROVIDER_KEYS = frozenset(
    {"name", "displayName", "issuer", "tenant", "clientID", "clientSecret", "allowedIdentitiesRegex", "scopes"}
)
AUTH_KEYS = frozenset({"jwt", "administrators", "organizations", "oidc", *NAMED})


@dataclass(frozen=True)
class Provider:
    """One login provider. ``kind`` is ``oidc`` (discovery at ``issuer``) or ``github`` (OAuth 2 and its user API,
    GitHub being no OpenID Connect provider for users; ``issuer`` is then GitHub's web URL: github.com's, or a GitHub
    Enterprise Server's)."""

    name: str
    display_name: str
    kind: str
    client_id: str
    client_secret: str = field(repr=False)
    issuer: str = ""
    organization: str = ""
    allowed_identities: str = ""  # anchored regular expression on the email; empty: anyone
    scopes: str = "openid email profile"

    @property
    def key(self) -> str:
        """How routes name it: the provider's name, with ``?organization=`` for an organization's provider."""
        return self.name

    def allows(self, email: str) -> bool:
        return not self.allowed_identities or re.fullmatch(self.allowed_identities, email) is not None


@dataclass(frozen=True)
class AuthConfig:
    administrators: tuple[str, ...] = ()
    providers: tuple[Provider, ...] = ()

    def provider(self, name: str, organization: str = "") -> Provider | None:
        for provider in self.providers:
            if provider.name == name and provider.organization == organization:
                return provider
        return None

    def __repr__(self) -> str:  # providers hold secrets
        return f"AuthConfig({len(self.administrators)} administrators, {len(self.providers)} providers)"


def _provider(item: Any, *, name: str, organization: str, key: str, where: str) -> Provider:
    if not isinstance(item, Mapping):
        raise ImproperlyConfigured(f"{where} must be a mapping with clientID and clientSecret")
    unknown = sorted(set(item) - PROVIDER_KEYS)
    if unknown:
        raise ImproperlyConfigured(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(sorted(PROVIDER_KEYS))}")
    client_id, secret = item.get("clientID"), item.get("clientSecret")
    if not isinstance(client_id, str) or not client_id or not isinstance(secret, str) or not secret:
        raise ImproperlyConfigured(f"{where}: clientID and clientSecret are required")
    secret = _decrypted(secret, key=key, where=where)
    allowed = item.get("allowedIdentitiesRegex") or ""
    try:
        re.compile(allowed)
    except re.error as error:
        raise ImproperlyConfigured(f"{where}: allowedIdentitiesRegex is not a regular expression: {error}") from None
    kind, issuer = "oidc", str(item.get("issuer") or "")
    if name == "google":
        issuer = issuer or GOOGLE_ISSUER
    elif name == "microsoft":
        issuer = issuer or MICROSOFT_ISSUER.format(tenant=item.get("tenant") or "organizations")
    elif name == "github":
        kind, issuer = "github", issuer or GITHUB_URL
    if not issuer.startswith(("https://", "http://")):
        raise ImproperlyConfigured(f"{where}: an OpenID Connect provider needs its issuer URL (issuer: https://…)")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", name):
        raise ImproperlyConfigured(f"{where}: a provider's name is lowercase letters, digits and '-'")
    return Provider(
        name=name,
        display_name=str(item.get("displayName") or DISPLAY.get(name, name)),
        kind=kind,
        client_id=client_id,
        client_secret=secret,
        issuer=issuer.rstrip("/"),
        organization=organization,
        allowed_identities=allowed,
        scopes=str(item.get("scopes") or ("read:user user:email" if kind == "github" else "openid email profile")),
    )


def _decrypted(value: str, *, key: str, where: str) -> str:
    if not value.startswith("estafette.secret("):
        return value
    from builder.secrets import SecretError, open_envelope, parse_key

    try:
        plaintext, _allow_list = open_envelope(value, key=parse_key(key))
    except SecretError as error:
        raise ImproperlyConfigured(f"{where}: clientSecret cannot be decrypted: {error}") from None
    return plaintext


def _providers_of(data: Mapping[str, Any], *, organization: str, key: str, where: str) -> list[Provider]:
    providers = [
        _provider(data[name], name=name, organization=organization, key=key, where=f"{where}.{name}")
        for name in NAMED
        if data.get(name)
    ]
    for index, item in enumerate(data.get("oidc") or []):
        name = item.get("name") if isinstance(item, Mapping) else None
        providers.append(
            _provider(item, name=str(name or ""), organization=organization, key=key, where=f"{where}.oidc[{index}]")
        )
    return providers


def auth_config_from_dict(data: Mapping[str, Any], *, where: str, decryption_key: str = "") -> AuthConfig:
    unknown = sorted(set(data) - AUTH_KEYS)
    if unknown:
        raise ImproperlyConfigured(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(sorted(AUTH_KEYS))}")
    administrators = data.get("administrators") or []
    if not isinstance(administrators, list) or not all(isinstance(email, str) for email in administrators):
        raise ImproperlyConfigured(f"{where}.administrators must be a list of emails")
    providers = _providers_of(data, organization="", key=decryption_key, where=where)
    for index, organization in enumerate(data.get("organizations") or []):
        here = f"{where}.organizations[{index}]"
        if not isinstance(organization, Mapping) or not organization.get("name"):
            raise ImproperlyConfigured(f"{here} needs a name and oauthProviders")
        for number, item in enumerate(organization.get("oauthProviders") or []):
            name = item.get("name") if isinstance(item, Mapping) else None
            providers.append(
                _provider(
                    item,
                    name=str(name or ""),
                    organization=str(organization["name"]),
                    key=decryption_key,
                    where=f"{here}.oauthProviders[{number}]",
                )
            )
    keys = [(p.name, p.organization) for p in providers]
    if len(set(keys)) != len(keys):
        raise ImproperlyConfigured(f"{where}: a provider is configured twice for the same organization")
    return AuthConfig(administrators=tuple(a.lower() for a in administrators), providers=tuple(providers))
