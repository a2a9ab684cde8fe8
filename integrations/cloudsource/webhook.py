"""Google Cloud Source Repositories notifications, pushed by Pub/Sub: one message → a push per updated branch.

A repository's Pub/Sub notification (Google's "Cloud Source Repositories: Pub/Sub notifications") is a push message
(``integrations.pubsub.webhook`` reads its envelope) whose ``message.data`` is the base64 of a JSON object::

    {"name": "projects/<project>/repos/<repo>", "url": "…", "eventTime": "…",
     "refUpdateEvent": {"email": "<who pushed>",
                        "refUpdates": {"refs/heads/main": {"refName": "refs/heads/main",
                                                            "updateType": "UPDATE_FAST_FORWARD",
                                                            "oldId": "<sha>", "newId": "<sha>"}}}}

Each update of a branch (``refs/heads/…``) that is not a ``DELETE`` becomes a push on the git subject naming the
``cloudsource`` forge (``forge.CloudSourceForge`` reads the manifest at the revision with git), for the pipeline
``<git host>/<project>/<repo>``. Other messages (a repository created or deleted, tags) publish nothing. Each push's id
derives from the message's ``messageId`` and the branch: Pub/Sub redelivers a message under the same id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from estafette.lib.json_input import InvalidJson, load_json
from integrations.git.webhook import InvalidPush, validate_branch
from integrations.intake import IntakeEvent
from integrations.pubsub.webhook import InvalidPubSubPush, parse_push_message
from triggers.kinds import trigger_kind

FORGE = "cloudsource"
MAX_REF_UPDATES = 50
_NAME = re.compile(r"^projects/(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])/repos/(?P<repo>[A-Za-z0-9_.-]{1,100})$")
_REVISION = re.compile(r"^[0-9a-f]{40}$")
_UPDATE_TYPES = ("CREATE", "UPDATE_FAST_FORWARD", "UPDATE_NON_FAST_FORWARD", "DELETE")


class InvalidNotification(ValueError):
    """The message is not a Cloud Source notification this server reads; the message says why."""


def git_host(git_url: str) -> str:
    """The pipelines' source: the host repositories are cloned from (``source.developers.google.com``)."""
    return (urlsplit(git_url).hostname or "").lower()


def clone_url(git_url: str, project: str, repo: str) -> str:
    """Where a repository is cloned from: ``<git url>/p/<project>/r/<repo>``."""
    return f"{git_url.rstrip('/')}/p/{project}/r/{repo}"


def parse_notification(body: bytes, *, git_url: str) -> list[IntakeEvent]:
    """The pushes a (verified) push message means; ``InvalidNotification`` naming the first problem."""
    try:
        message = parse_push_message(body, subscription_suffix="").message
    except InvalidPubSubPush as error:
        raise InvalidNotification(str(error)) from None
    assert message is not None
    try:
        data = load_json(base64.b64decode(message.data, validate=True))
    except (binascii.Error, ValueError, InvalidJson):
        raise InvalidNotification("message.data must be the base64 of a JSON object") from None
    if not isinstance(data, dict):
        raise InvalidNotification("message.data must be the base64 of a JSON object")
    update = data.get("refUpdateEvent")
    if update is None:
        return []  # a repository created or deleted: nothing to build
    match = _NAME.fullmatch(str(data.get("name") or ""))
    if match is None:
        raise InvalidNotification("name must be projects/<project>/repos/<repo>")
    if not isinstance(update, dict) or not isinstance(update.get("refUpdates"), dict):
        raise InvalidNotification("refUpdateEvent.refUpdates must be an object")
    refs: Mapping[str, Any] = update["refUpdates"]
    if len(refs) > MAX_REF_UPDATES:
        raise InvalidNotification(f"more than {MAX_REF_UPDATES} refUpdates")
    author = str(update.get("email") or "")[:256]
    project, repo = match["project"], match["repo"]
    pipeline = f"{git_host(git_url)}/{project}/{repo}"
    events = []
    for ref, change in refs.items():
        push = _push(ref, change, pipeline=pipeline, repository=clone_url(git_url, project, repo), author=author)
        if push is not None:
            natural = f"{message.message_id}\n{push['branch']}"
            events.append(
                IntakeEvent(
                    subject=trigger_kind("git").subject,
                    payload=push,
                    id=f"cloudsource-{hashlib.sha256(natural.encode()).hexdigest()[:40]}",
                )
            )
    return events


def _push(ref: str, change: Any, *, pipeline: str, repository: str, author: str) -> dict[str, Any] | None:
    """The push of one branch update; None for a tag or a deleted branch."""
    if not isinstance(change, dict):
        raise InvalidNotification(f"refUpdates[{ref!r}] must be an object")
    update_type, revision = change.get("updateType"), change.get("newId")
    if update_type not in _UPDATE_TYPES:
        raise InvalidNotification(f"refUpdates[{ref!r}].updateType must be one of {', '.join(_UPDATE_TYPES)}")
    if not ref.startswith("refs/heads/") or update_type == "DELETE":
        return None
    try:
        branch = validate_branch(ref)
    except InvalidPush as error:
        raise InvalidNotification(str(error)) from None
    if not isinstance(revision, str) or not _REVISION.fullmatch(revision):
        raise InvalidNotification(f"refUpdates[{ref!r}].newId is not a commit id")
    return {
        "event": "push",
        "forge": FORGE,
        "repository": repository,
        "pipeline": pipeline,
        "branch": branch,
        "revision": revision,
        "author": author,
    }
