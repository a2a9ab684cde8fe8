"""The Connect app's lifecycle: an installation stored when Bitbucket says the app was installed, removed when it was
uninstalled. Both requests were authenticated before (``api``: the JWT, with the installation's current secret for an
installation this server knows, else the one the request brings).

An installation is stored only once Bitbucket grants it an access token (``client.access_token``): a request
inventing a client key and secret, which Bitbucket has never issued, stores nothing. An installation this server
knows keeps its workspace: a request cannot move it to another.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from estafette.lib.db import retry_on_serialization_failure
from estafette.lib.errors import BadRequest, Unauthorized, Unavailable
from integrations.bitbucket.client import BitbucketClient, BitbucketError, Credentials, forget_tokens
from integrations.bitbucket.models import BitbucketInstallation

logger = logging.getLogger(__name__)

_CLIENT_KEY = re.compile(r"^[A-Za-z0-9{}:/._-]{1,255}$")
_UUID = re.compile(r"^\{[0-9A-Fa-f-]{36}\}$")


@dataclass(frozen=True)
class Lifecycle:
    """The body of an ``installed``/``uninstalled`` callback."""

    event_type: str
    app_key: str
    client_key: str
    shared_secret: str
    base_url: str
    principal_uuid: str
    principal_name: str

    def __repr__(self) -> str:  # the secret stays out of tracebacks
        return f"Lifecycle({self.event_type!r}, client_key={self.client_key!r})"


def lifecycle_read(payload: Any, *, event_type: str) -> Lifecycle:
    """Check a lifecycle body; ``BadRequest`` naming the first problem."""
    if not isinstance(payload, Mapping):
        raise BadRequest("the body must be a JSON object")
    fields = {name: payload.get(name) for name in ("key", "clientKey", "baseUrl")}
    for name, value in fields.items():
        if not isinstance(value, str) or not value:
            raise BadRequest(f"{name} is required and must be a string")
    if not _CLIENT_KEY.fullmatch(str(fields["clientKey"])):
        raise BadRequest("clientKey is not a Bitbucket client key")
    if payload.get("eventType") not in (None, event_type):
        raise BadRequest(f"eventType must be {event_type!r}")
    secret = payload.get("sharedSecret")
    if event_type == "installed" and (not isinstance(secret, str) or len(secret) < 16):
        raise BadRequest("sharedSecret is required and must be a string of at least 16 characters")
    principal = payload.get("principal") if isinstance(payload.get("principal"), Mapping) else {}
    principal_uuid = str(principal.get("uuid") or "")
    if principal_uuid and not _UUID.fullmatch(principal_uuid):
        raise BadRequest("principal.uuid is not a {uuid}")
    name = principal.get("username") or principal.get("display_name") or principal.get("nickname") or ""
    return Lifecycle(
        event_type=event_type,
        app_key=str(fields["key"]),
        client_key=str(fields["clientKey"]),
        shared_secret=str(secret or ""),
        base_url=str(fields["baseUrl"]).rstrip("/"),
        principal_uuid=principal_uuid,
        principal_name=str(name)[:255],
    )


def installation_secret(client_key: str) -> str | None:
    """The shared secret of a known installation; None for a client key this server does not know."""
    installation = BitbucketInstallation.objects.filter(client_key=client_key).first()
    return installation.shared_secret if installation is not None else None


def installation_credentials(client_key: str) -> Credentials | None:
    installation = BitbucketInstallation.objects.filter(client_key=client_key).first()
    if installation is None:
        return None
    return Credentials(
        app_key=installation.app_key, client_key=installation.client_key, shared_secret=installation.shared_secret
    )


def installation_install(*, lifecycle: Lifecycle, client: BitbucketClient) -> BitbucketInstallation:
    """Store (or renew) the installation ``lifecycle`` announces, once Bitbucket grants it a token."""
    if lifecycle.app_key != settings.BITBUCKET_APP_KEY:
        raise BadRequest(
            f"the app was installed as {lifecycle.app_key!r}, but this server is {settings.BITBUCKET_APP_KEY!r} "
            "(ESTAFETTE_BITBUCKET_APP_KEY)"
        )
    if (urlsplit(lifecycle.base_url).hostname or "").lower() != (urlsplit(client.web_url).hostname or "").lower():
        raise BadRequest(
            f"baseUrl {lifecycle.base_url!r} is not the Bitbucket this server is configured for "
            "(ESTAFETTE_BITBUCKET_URL)"
        )
    known = BitbucketInstallation.objects.filter(client_key=lifecycle.client_key).first()
    if known is not None and lifecycle.principal_uuid != known.principal_uuid:
        raise BadRequest("an installation cannot move to another workspace: uninstall the app, then install it there")
    credentials = Credentials(
        app_key=lifecycle.app_key, client_key=lifecycle.client_key, shared_secret=lifecycle.shared_secret
    )
    try:
        client.access_token(credentials, fresh=True)
    except BitbucketError as error:
        if error.permanent:
            raise Unauthorized(
                "Bitbucket grants this installation no access token: it is not an installation of this app"
            ) from None
        raise Unavailable(f"Bitbucket cannot confirm the installation now ({error}); it retries the callback") from None
    installation = _store(lifecycle)
    logger.info("Bitbucket app installed: %s", installation)
    return installation


@retry_on_serialization_failure
@transaction.atomic
def _store(lifecycle: Lifecycle) -> BitbucketInstallation:
    installation, created = BitbucketInstallation.objects.select_for_update().get_or_create(
        client_key=lifecycle.client_key,
        defaults={
            "app_key": lifecycle.app_key,
            "sealed_shared_secret": BitbucketInstallation.seal(lifecycle.shared_secret),
            "base_url": lifecycle.base_url,
            "principal_uuid": lifecycle.principal_uuid,
            "principal_name": lifecycle.principal_name,
        },
    )
    if not created:
        installation.renew(
            shared_secret=lifecycle.shared_secret,
            app_key=lifecycle.app_key,
            base_url=lifecycle.base_url,
            principal_name=lifecycle.principal_name,
        )
    return installation


@retry_on_serialization_failure
@transaction.atomic
def installation_uninstall(*, client_key: str) -> bool:
    """Forget an installation; whether there was one."""
    deleted, _ = BitbucketInstallation.objects.filter(client_key=client_key).delete()
    forget_tokens()
    if deleted:
        logger.info("Bitbucket app uninstalled: installation %s", client_key)
    return bool(deleted)
