"""Docker registry notifications → docker trigger events.

The registry (``distribution``) POSTs an envelope ``{"events": [{"id", "timestamp", "action",
"target": {"mediaType", "digest", "repository", "tag", …}, "request": {…}, "actor", "source"}]}``
with media type ``application/vnd.docker.distribution.events.v1+json``. Every event whose target
has a tag (a manifest pushed, pulled or deleted by tag) becomes ``{"event": <action>, "image":
<repository>, "tag": <tag>}``; blob events (layers, no tag) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from builder.manifest.events import DockerEvent
from estafette.lib.db import retry_on_serialization_failure
from estafette.lib.json_input import InvalidJson, load_json
from estafette.queue import publish_on_commit
from triggers.kinds import trigger_kind


class InvalidNotification(ValueError):
    """The body is not a registry notification envelope; the message says why."""


@dataclass(frozen=True)
class RegistryEvent:
    id: str
    event: DockerEvent


def parse_notification(body: bytes) -> list[RegistryEvent]:
    """The tagged events of an envelope, in order. Raises ``InvalidNotification`` naming the problem."""
    try:
        payload = load_json(body)
    except InvalidJson as error:
        raise InvalidNotification(str(error)) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise InvalidNotification('body must be an envelope {"events": [...]}')
    found: list[RegistryEvent] = []
    for index, item in enumerate(payload["events"]):
        if not isinstance(item, dict):
            raise InvalidNotification(f"events[{index}] must be an object")
        target = item.get("target") or {}
        if not isinstance(target, dict):
            raise InvalidNotification(f"events[{index}].target must be an object")
        for key, value in (
            ("id", item.get("id")),
            ("action", item.get("action")),
            ("repository", target.get("repository")),
        ):
            if not isinstance(value, str) or not value:
                raise InvalidNotification(f"events[{index}]: {key} is required and must be a string")
        tag = target.get("tag")
        if not isinstance(tag, str) or not tag:
            continue
        found.append(
            RegistryEvent(
                id=f"docker-{item['id']}"[:200],
                event=DockerEvent(event=item["action"], image=target["repository"], tag=tag),
            )
        )
    return found


@retry_on_serialization_failure
def docker_publish(*, events: list[RegistryEvent]) -> list[str]:
    """Publish each event for docker triggers after commit; returns their ids (the registry's event ids)."""
    with transaction.atomic():
        for item in events:
            publish_on_commit(trigger_kind("docker").subject, item.event.to_dict(), dedup_key=item.id)
    return [item.id for item in events]
