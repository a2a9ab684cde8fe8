"""GitHub App webhook deliveries: check the signature, then turn one delivery into the events it means.

GitHub signs the raw body with the app's webhook secret (``X-Hub-Signature-256: sha256=<hex HMAC-SHA256>``, the same
scheme as our git intake), names the event in ``X-GitHub-Event`` and the delivery in ``X-GitHub-Delivery`` (a
redelivery keeps it, so every event id below derives from it). A delivery becomes:

- always, the ``github`` trigger event (``event``, ``repository`` as ``<host>/<owner>/<name>``, ``delivery``, the raw
  ``payload``, or past 96 KiB a summary of it: ``hosted.trigger_payload``), for the manifests' github triggers and
  bots;
- a ``push`` to a branch (``refs/heads/…``; not a tag, not a deleted branch): a push on the git subject naming the
  ``github`` forge (``integrations/github/forge.py`` reads it: the manifest at the revision, through the contents
  API), with the installation and the pushed commits;
- a ``repository`` renamed, archived, unarchived or deleted: the repository event the trigger layer applies to the
  pipeline (``triggers.repositories``).

The repository's identity comes from ``repository.html_url`` (so GitHub Enterprise names its own host) and must be
the clone URL's too; both must be on the GitHub the server is configured for (``ESTAFETTE_GITHUB_API_URL``), so a
delivery cannot send the installation's token to another host. The clone URL passes the git intake's location checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from estafette.lib.json_input import InvalidJson, load_json
from integrations.git.identity import RepositoryIdentity
from integrations.git.webhook import InvalidPush, validate_branch
from integrations.github.client import web_host
from integrations.hosted import MAX_COMMITS, ForgePush, recorded_commit, repository_on_forge, trigger_payload
from integrations.intake import IntakeEvent
from triggers.forges import REPOSITORY_EVENTS, RepositoryChange
from triggers.kinds import trigger_kind

SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
FORGE = "github"

_DELIVERY = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_EVENT = re.compile(r"^[a-z_]{1,64}$")
_REVISION = re.compile(r"^[0-9a-f]{40}$")
_NO_COMMIT = "0" * 40
# What a repository event's action does to its pipeline.
_REPOSITORY_ACTIONS = {"renamed": "renamed", "archived": "archived", "deleted": "archived", "unarchived": "unarchived"}


class InvalidDelivery(ValueError):
    """The delivery is not one this server accepts; the message says why."""


@dataclass(frozen=True)
class Delivery:
    event: str
    delivery: str
    body: bytes
    payload: Mapping[str, Any]


def read_delivery(*, body: bytes, event: str | None, delivery: str | None) -> Delivery:
    """Check the headers and decode the body; ``InvalidDelivery`` naming the first problem."""
    if not event or not _EVENT.fullmatch(event):
        raise InvalidDelivery(f"{EVENT_HEADER} is missing or not an event name, got {event!r}")
    if not delivery or not _DELIVERY.fullmatch(delivery):
        raise InvalidDelivery(
            f"{DELIVERY_HEADER} is missing or not a delivery id (letters, digits, '-'), got {delivery!r}"
        )
    try:
        payload = load_json(body)
    except InvalidJson as error:
        raise InvalidDelivery(str(error)) from None
    if not isinstance(payload, dict):
        raise InvalidDelivery("the body must be a JSON object")
    return Delivery(event=event, delivery=delivery, body=body, payload=payload)


def repository_identity(repository: Any, *, api_url: str) -> RepositoryIdentity:
    """The pipeline a payload's ``repository`` names (from ``html_url``), checked against its ``clone_url``."""
    if not isinstance(repository, Mapping):
        raise InvalidDelivery("repository must be an object")
    html_url, clone_url = repository.get("html_url"), repository.get("clone_url")
    if not isinstance(html_url, str) or not isinstance(clone_url, str):
        raise InvalidDelivery("repository.html_url and repository.clone_url must be strings")
    identity = check_url("repository.html_url", html_url, api_url=api_url)
    if check_url("repository.clone_url", clone_url, api_url=api_url) != identity:
        raise InvalidDelivery(f"repository.clone_url {clone_url!r} is not the repository of {html_url!r}")
    return identity


def check_url(field: str, url: str, *, api_url: str) -> RepositoryIdentity:
    """The identity of an http(s) URL of a repository on the configured GitHub (``hosted.repository_on_forge``)."""
    setting = "ESTAFETTE_GITHUB_API_URL"
    return repository_on_forge(
        field, url, forge_url=api_url, host=web_host(api_url), setting=setting, error=InvalidDelivery
    )


def _name_of(repository: Any, *, api_url: str) -> RepositoryIdentity:
    """``html_url``'s identity, with the owner and name as GitHub spells them (``full_name``)."""
    identity = repository_identity(repository, api_url=api_url)
    owner, _, name = str(repository.get("full_name") or "").partition("/")
    if (owner.casefold(), name.casefold()) == (identity.owner, identity.name):
        return RepositoryIdentity(identity.source, owner, name)
    return identity


def parse_delivery(delivery: Delivery, *, api_url: str) -> list[IntakeEvent]:
    """The events one delivery means (see the module's docstring), the trigger event first."""
    payload = delivery.payload
    repository = payload.get("repository")
    identity = _name_of(repository, api_url=api_url) if repository is not None else None
    events = [
        IntakeEvent(
            subject=trigger_kind("github").subject,
            payload={
                "event": delivery.event,
                "repository": identity.full_name if identity is not None else "",
                "delivery": delivery.delivery,
                "payload": trigger_payload(delivery.body, delivery.payload),
            },
            id=f"github-{delivery.delivery}",
        )
    ]
    if delivery.event == "push" and identity is not None:
        push = _push(delivery, identity)
        if push is not None:
            events.append(push)
    if delivery.event == "repository" and identity is not None:
        change = _repository_change(delivery, identity)
        if change is not None:
            events.append(IntakeEvent(REPOSITORY_EVENTS, change.to_dict(), id=f"github-repository-{delivery.delivery}"))
    return events


def _push(delivery: Delivery, identity: RepositoryIdentity) -> IntakeEvent | None:
    """The build-making push of a branch; None for a tag, a deleted branch or a push of no commit."""
    payload = delivery.payload
    ref, after = payload.get("ref"), payload.get("after")
    if not isinstance(ref, str) or not isinstance(after, str):
        raise InvalidDelivery("a push needs ref and after")
    if not ref.startswith("refs/heads/") or payload.get("deleted") is True or after == _NO_COMMIT:
        return None
    try:
        branch = validate_branch(ref)
    except InvalidPush as error:
        raise InvalidDelivery(str(error)) from None
    if not _REVISION.fullmatch(after):
        raise InvalidDelivery(f"after {after!r} is not a commit id")
    installation = (
        (payload.get("installation") or {}).get("id") if isinstance(payload.get("installation"), dict) else None
    )
    if not isinstance(installation, int) or isinstance(installation, bool) or installation <= 0:
        raise InvalidDelivery("a push needs installation.id: install the GitHub App on the repository")
    push = ForgePush(
        forge=FORGE,
        clone_url=str(payload["repository"]["clone_url"]),
        pipeline=identity.full_name,
        branch=branch,
        revision=after,
        commits=tuple(_commits(payload)),
        extra={"installation": installation},
    )
    event_id = f"github-push-{delivery.delivery}"
    return IntakeEvent(subject=trigger_kind("git").subject, payload=push.to_dict(), id=event_id)


def _commits(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pushed commits, newest first (as Estafette lists a build's commits), as a build records them."""
    commits = payload.get("commits")
    if not isinstance(commits, list):
        commits = [payload["head_commit"]] if isinstance(payload.get("head_commit"), dict) else []
    recorded = []
    for commit in reversed(commits[-MAX_COMMITS:]):
        if not isinstance(commit, dict):
            continue
        author = commit.get("author") if isinstance(commit.get("author"), dict) else {}
        recorded.append(
            recorded_commit(
                message=commit.get("message"),
                email=author.get("email"),
                name=author.get("name"),
                username=author.get("username"),
            )
        )
    return recorded


def _repository_change(delivery: Delivery, identity: RepositoryIdentity) -> RepositoryChange | None:
    payload = delivery.payload
    change = _REPOSITORY_ACTIONS.get(str(payload.get("action") or ""))
    if change is None:
        return None
    previous = ""
    if change == "renamed":
        old_name = ((payload.get("changes") or {}).get("repository") or {}).get("name") or {}
        old = old_name.get("from") if isinstance(old_name, dict) else None
        if not isinstance(old, str) or not old:
            raise InvalidDelivery("a repository renamed needs changes.repository.name.from")
        previous = f"{identity.source}/{identity.owner}/{old}"
    return RepositoryChange(change=change, repository=identity.full_name, previous=previous)
