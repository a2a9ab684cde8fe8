"""Bitbucket Cloud webhook events: check the headers and the body, then turn one event into the events it means.

Bitbucket names the event in ``X-Event-Key`` (``repo:push``, ``repo:updated``…), the webhook in ``X-Hook-UUID`` and
the request in ``X-Request-UUID``, which a retry keeps (``X-Attempt-Number`` counts them): every event id below
derives from it, so a retried request is the same event. The request was authenticated before (``connect``: the
installation's JWT). An event becomes:

- always, the ``bitbucket`` trigger event (``event``, ``repository`` as ``<host>/<workspace>/<slug>``, ``hookUUID``,
  ``requestUUID``, ``attemptNumber``, the raw ``payload``), for the manifests' bitbucket triggers and bots;
- ``repo:push``, for each change that moves a branch (not a tag, not a deleted branch): a push on the git subject
  naming the ``bitbucket`` forge (``integrations/bitbucket/forge.py`` reads it: the manifest at the revision, through
  the API) with the installation's client key and the pushed commits;
- ``repo:updated`` with a new ``full_name``: the repository renamed; ``repo:deleted``: archived
  (``triggers.repositories``).

The repository's identity comes from ``repository.links.html.href`` (Bitbucket's own page of it), which must be on
the Bitbucket the server is configured for (``ESTAFETTE_BITBUCKET_URL``) and agree with ``full_name``; its workspace
must be the installation's (a workspace's installation speaks only for its repositories). Jobs clone
``<href>.git``. Payload shapes: Atlassian's "Event payloads" page for Bitbucket Cloud.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from estafette.lib.json_input import InvalidJson, load_json
from integrations.git.identity import RepositoryIdentity
from integrations.git.webhook import InvalidPush, validate_branch
from integrations.hosted import (
    MAX_COMMITS,
    ForgePush,
    check_revision,
    recorded_commit,
    repository_on_forge,
    trigger_payload,
)
from integrations.intake import IntakeEvent
from triggers.forges import REPOSITORY_EVENTS, RepositoryChange
from triggers.kinds import trigger_kind

EVENT_HEADER = "X-Event-Key"
HOOK_HEADER = "X-Hook-UUID"
REQUEST_HEADER = "X-Request-UUID"
ATTEMPT_HEADER = "X-Attempt-Number"
FORGE = "bitbucket"

_EVENT = re.compile(r"^[a-z_]{1,32}:[a-z_]{1,64}$")
_UUID = re.compile(r"^\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}?$")
_ATTEMPT = re.compile(r"^[0-9]{1,4}$")


class InvalidEvent(ValueError):
    """The event is not one this server accepts; the message says why."""


@dataclass(frozen=True)
class Installation:
    """What an event is checked against: the installation whose JWT it carried."""

    client_key: str
    principal_uuid: str  # the workspace's {uuid}; empty: not known (then not checked)


@dataclass(frozen=True)
class Event:
    event: str
    hook: str
    request: str
    attempt: str
    body: bytes
    payload: Mapping[str, Any]


def read_event(*, body: bytes, event: str | None, hook: str | None, request: str | None, attempt: str | None) -> Event:
    """Check the headers and decode the body; ``InvalidEvent`` naming the first problem."""
    if not event or not _EVENT.fullmatch(event):
        raise InvalidEvent(f"{EVENT_HEADER} is missing or not an event key such as repo:push, got {event!r}")
    if not request or not _UUID.fullmatch(request):
        raise InvalidEvent(f"{REQUEST_HEADER} is missing or not a UUID, got {request!r}")
    if hook and not _UUID.fullmatch(hook):
        raise InvalidEvent(f"{HOOK_HEADER} is not a UUID, got {hook!r}")
    if attempt and not _ATTEMPT.fullmatch(attempt):
        raise InvalidEvent(f"{ATTEMPT_HEADER} is not a number, got {attempt!r}")
    try:
        payload = load_json(body)
    except InvalidJson as error:
        raise InvalidEvent(str(error)) from None
    if not isinstance(payload, dict):
        raise InvalidEvent("the body must be a JSON object")
    return Event(event, (hook or "").strip("{}"), request.strip("{}").lower(), attempt or "1", body, payload)


def web_host(web_url: str) -> str:
    return (urlsplit(web_url).hostname or "").lower()


def repository_identity(repository: Any, *, web_url: str, installation: Installation) -> RepositoryIdentity:
    """The pipeline a payload's ``repository`` names (``links.html.href``, spelled as ``full_name``)."""
    if not isinstance(repository, Mapping):
        raise InvalidEvent("repository must be an object")
    links = repository.get("links") if isinstance(repository.get("links"), Mapping) else {}
    html = links.get("html") if isinstance(links.get("html"), Mapping) else {}
    href, full_name = html.get("href"), repository.get("full_name")
    if not isinstance(href, str) or not isinstance(full_name, str):
        raise InvalidEvent("repository.links.html.href and repository.full_name must be strings")
    identity = check_url("repository.links.html.href", href, web_url=web_url)
    workspace, _, slug = full_name.partition("/")
    if (workspace.casefold(), slug.casefold()) != (identity.owner, identity.name):
        raise InvalidEvent(f"repository.full_name {full_name!r} is not the repository of {href!r}")
    owner = repository.get("workspace") if isinstance(repository.get("workspace"), Mapping) else {}
    if installation.principal_uuid and str(owner.get("uuid") or "") != installation.principal_uuid:
        raise InvalidEvent(f"repository {full_name!r} is not in the workspace the app was installed in")
    return RepositoryIdentity(identity.source, workspace, slug)


def check_url(field: str, url: str, *, web_url: str) -> RepositoryIdentity:
    """``InvalidEvent`` unless ``url`` is a repository on the configured Bitbucket (``hosted.repository_on_forge``)."""
    setting = "ESTAFETTE_BITBUCKET_URL"
    return repository_on_forge(
        field, url, forge_url=web_url, host=web_host(web_url), setting=setting, error=InvalidEvent
    )


def clone_url_of(identity: RepositoryIdentity, *, web_url: str) -> str:
    """Where jobs clone a repository from: Bitbucket's https (or the configured site's) URL, ``….git``."""
    return f"{web_url.rstrip('/')}/{identity.owner}/{identity.name}.git"


def parse_event(event: Event, *, web_url: str, installation: Installation) -> list[IntakeEvent]:
    """The events one webhook event means (see the module's docstring), the trigger event first."""
    payload = event.payload
    repository = payload.get("repository")
    identity = (
        repository_identity(repository, web_url=web_url, installation=installation) if repository is not None else None
    )
    events = [
        IntakeEvent(
            subject=trigger_kind("bitbucket").subject,
            payload={
                "event": event.event,
                "repository": identity.full_name if identity is not None else "",
                "hookUUID": event.hook,
                "requestUUID": event.request,
                "attemptNumber": event.attempt,
                "payload": trigger_payload(event.body, event.payload),
            },
            id=f"bitbucket-{event.request}",
        )
    ]
    if identity is None:
        return events
    if event.event == "repo:push":
        events += _pushes(event, identity, web_url=web_url, installation=installation)
    change = _repository_change(event, identity, web_url=web_url)
    if change is not None:
        events.append(IntakeEvent(REPOSITORY_EVENTS, change.to_dict(), id=f"bitbucket-repository-{event.request}"))
    return events


def _pushes(
    event: Event, identity: RepositoryIdentity, *, web_url: str, installation: Installation
) -> list[IntakeEvent]:
    """A push per change that moves a branch to a commit (a new or updated branch; not a tag, not a deletion)."""
    push = event.payload.get("push")
    changes = push.get("changes") if isinstance(push, Mapping) else None
    if not isinstance(changes, list):
        raise InvalidEvent("a repo:push needs push.changes")
    found = []
    for index, change in enumerate(changes):
        if not isinstance(change, Mapping):
            raise InvalidEvent("push.changes must hold objects")
        new = change.get("new")
        if not isinstance(new, Mapping) or new.get("type") != "branch" or change.get("closed") is True:
            continue
        target = new.get("target") if isinstance(new.get("target"), Mapping) else {}
        try:
            branch = validate_branch(str(new.get("name") or ""))
            revision = check_revision(target.get("hash"))
        except InvalidPush as error:
            raise InvalidEvent(str(error)) from None
        pushed = ForgePush(
            forge=FORGE,
            clone_url=clone_url_of(identity, web_url=web_url),
            pipeline=identity.full_name,
            branch=branch,
            revision=revision,
            commits=tuple(_commits(change, target)),
            extra={"clientKey": installation.client_key},
        )
        found.append(
            IntakeEvent(trigger_kind("git").subject, pushed.to_dict(), id=f"bitbucket-push-{event.request}-{index}")
        )
    return found


def _commits(change: Mapping[str, Any], target: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The change's commits (Bitbucket lists up to five, newest first), else its new head; as a build records them."""
    commits = change.get("commits")
    listed = [item for item in commits if isinstance(item, Mapping)] if isinstance(commits, list) else []
    recorded = []
    for commit in (listed or [target])[:MAX_COMMITS]:
        author = commit.get("author") if isinstance(commit.get("author"), Mapping) else {}
        user = author.get("user") if isinstance(author.get("user"), Mapping) else {}
        name, email = parseaddr(str(author.get("raw") or ""))
        recorded.append(
            recorded_commit(
                message=commit.get("message"),
                email=email,
                name=name or user.get("display_name"),
                username=user.get("nickname"),
            )
        )
    return recorded


def _repository_change(event: Event, identity: RepositoryIdentity, *, web_url: str) -> RepositoryChange | None:
    if event.event == "repo:deleted":
        return RepositoryChange(change="archived", repository=identity.full_name)
    if event.event != "repo:updated":
        return None
    changes = event.payload.get("changes") if isinstance(event.payload.get("changes"), Mapping) else {}
    full_name = changes.get("full_name") if isinstance(changes.get("full_name"), Mapping) else None
    if full_name is None:
        return None  # a description, website or language changed: nothing happens to the pipeline
    old, new = full_name.get("old"), full_name.get("new")
    if not isinstance(old, str) or not isinstance(new, str) or old.count("/") != 1:
        raise InvalidEvent("a repo:updated of full_name needs changes.full_name.old and .new as workspace/slug")
    if new.casefold() != f"{identity.owner}/{identity.name}".casefold():
        raise InvalidEvent(f"changes.full_name.new {new!r} is not the repository {identity.full_name!r}")
    if old.casefold() == new.casefold():
        return None
    return RepositoryChange(change="renamed", repository=identity.full_name, previous=f"{identity.source}/{old}")
