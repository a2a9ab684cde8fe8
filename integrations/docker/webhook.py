"""Docker registry notifications → docker trigger events.

The registry (``distribution``) POSTs an envelope ``{"events": [{"id", "timestamp", "action",
"target": {"mediaType", "digest", "repository", "tag", …}, "request": {…}, "actor", "source"}]}``
with media type ``application/vnd.docker.distribution.events.v1+json``. Every event whose target
has a tag (a manifest pushed, pulled or deleted by tag) becomes ``{"event": <action>, "image":
<repository>, "tag": <tag>}``; blob events (layers, no tag) are left out.
"""

from __future__ import annotations

from builder.manifest.events import DockerEvent
from estafette.lib.json_input import InvalidJson, load_json
from integrations.intake import IntakeEvent
from triggers.kinds import trigger_kind


class InvalidNotification(ValueError):
    """The body is not a registry notification envelope; the message says why."""


def parse_notification(body: bytes) -> list[IntakeEvent]:
    """The tagged events of an envelope, in order, for docker triggers under the registry's event ids. Raises
    ``InvalidNotification`` naming the problem."""
    try:
        payload = load_json(body)
    except InvalidJson as error:
        raise InvalidNotification(str(error)) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise InvalidNotification('body must be an envelope {"events": [...]}')
    subject = trigger_kind("docker").subject
    found: list[IntakeEvent] = []
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
        event = DockerEvent(event=item["action"], image=target["repository"], tag=tag)
        found.append(IntakeEvent(subject=subject, payload=event.to_dict(), id=f"docker-{item['id']}"[:200]))
    return found
