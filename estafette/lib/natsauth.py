"""Where NATS is and how its clients authenticate, read from ``ESTAFETTE_NATS_*``.

NATS is the queue every event passes through: a client that can publish ``estafette.events.git`` makes builds. So
no client connects without credentials, and none are sent anywhere but the server:

- The embedded default (no ``ESTAFETTE_NATS_URL``): ``manage.py run_nats`` starts a local nats-server that accepts
  one user, ``ESTAFETTE_NATS_USER`` (``estafette``) with ``ESTAFETTE_NATS_PASSWORD`` (``_FILE``); without one, a
  random password is generated into ``<data dir>/nats-password`` (0600) on first run, as the Django secret key is,
  and every process of the installation reads it from there.
- An external server (``ESTAFETTE_NATS_URL``): credentials are ``user:password@`` in the URL, or
  ``ESTAFETTE_NATS_USER`` + ``ESTAFETTE_NATS_PASSWORD`` (``_FILE``, as a Helm chart mounts a Secret). One of these
  is required: a URL without credentials stops start-up rather than connecting anonymously. (NATS ``.creds``
  files, JWT + nkey, are not supported: nats-py needs the ``nkeys`` package for them.)

The URL kept in settings never carries the credentials, so it can be logged and shown.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from django.core.exceptions import ImproperlyConfigured

from estafette.lib.env import env_secret, env_secret_or_generated, env_str

URL_VARIABLE = "ESTAFETTE_NATS_URL"
USER_VARIABLE = "ESTAFETTE_NATS_USER"
PASSWORD_VARIABLE = "ESTAFETTE_NATS_PASSWORD"  # noqa: S105 - the variable's name
DEFAULT_USER = "estafette"
PASSWORD_FILE_NAME = "nats-password"  # noqa: S105 - a file name
MAX_LOCAL_PASSWORD_BYTES = 72


@dataclass(frozen=True)
class NatsConnection:
    """The server's URL (without credentials) and how to authenticate to it."""

    url: str
    external: bool
    user: str = ""
    password: str = field(default="", repr=False)


def split_credentials(url: str) -> tuple[str, str, str]:
    """``nats://user:pass@host:4222`` → ``("nats://host:4222", "user", "pass")``; percent-escapes are decoded.

    A URL without ``user@`` comes back as it is, with empty credentials. Never raises with the URL in the message.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return url, "", ""
    user, _, password = userinfo.partition(":")
    return f"{scheme}{separator}{host}{tail}", unquote(user), unquote(password)


def nats_connection_from_env(*, data_dir: Path, port: int, environ: Mapping[str, str] = os.environ) -> NatsConnection:
    """Read the URL and credentials; raises ``ImproperlyConfigured`` (without any secret in it) when they don't fit.

    For the embedded server this may write ``<data_dir>/nats-password`` (see ``env_secret_or_generated``).
    """
    url, url_user, url_password = split_credentials(env_str(URL_VARIABLE, "", environ=environ).strip())
    user = env_str(USER_VARIABLE, "", environ=environ).strip()
    password = env_secret(PASSWORD_VARIABLE, environ=environ) or ""

    if url_user and (user or password):
        raise ImproperlyConfigured(
            f"{URL_VARIABLE} carries credentials and {USER_VARIABLE}/{PASSWORD_VARIABLE} are set too: use one of them"
        )
    if not url:
        password = env_secret_or_generated(
            PASSWORD_VARIABLE,
            file=data_dir / PASSWORD_FILE_NAME,
            generate=lambda: secrets.token_urlsafe(32),
            environ=environ,
        )
        if len(password.encode()) > MAX_LOCAL_PASSWORD_BYTES:
            raise ImproperlyConfigured(
                f"{PASSWORD_VARIABLE} is longer than {MAX_LOCAL_PASSWORD_BYTES} bytes: the local nats-server keeps "
                "a bcrypt hash of it, and bcrypt reads no further"
            )
        return NatsConnection(
            url=f"nats://127.0.0.1:{port}", external=False, user=user or DEFAULT_USER, password=password
        )

    if url_user and not url_password:
        raise ImproperlyConfigured(
            f"{URL_VARIABLE} names a user without a password (NATS tokens are not supported): use user:password@"
        )
    user, password = (url_user, url_password) if url_user else (user, password)
    if not (user and password):
        raise ImproperlyConfigured(
            f"{URL_VARIABLE} names a NATS server but no credentials for it: set {USER_VARIABLE} and "
            f"{PASSWORD_VARIABLE} (or {PASSWORD_VARIABLE}_FILE), or put user:password@ in the URL"
        )
    return NatsConnection(url=url, external=True, user=user, password=password)
