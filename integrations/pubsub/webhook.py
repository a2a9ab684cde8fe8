"""Google Cloud Pub/Sub push messages → pub/sub trigger events (ESTAFETTE.md §3.8).

A push subscription POSTs ``{"message": {"attributes", "data", "messageId", "publishTime",
"orderingKey"}, "subscription": "projects/<project>/subscriptions/<name>"}``. As in Estafette the
subscription is named after its topic plus a suffix (``ESTAFETTE_PUBSUB_SUBSCRIPTION_SUFFIX``,
default ``~estafette-ci-pubsub-trigger``), so the topic is the name without it.
"""

from __future__ import annotations

import hashlib
import re

from builder.manifest.events import PubSubEvent, PubSubMessage
from estafette.lib.json_input import InvalidJson, load_json
from integrations.intake import IntakeEvent
from triggers.kinds import trigger_kind

_SUBSCRIPTION = re.compile(r"^projects/(?P<project>[^/]+)/subscriptions/(?P<name>[^/]+)$")


class InvalidPubSubPush(ValueError):
    """The body is not a Pub/Sub push message; the message says why."""


def parse_push_message(body: bytes, *, subscription_suffix: str) -> PubSubEvent:
    """Decode and check a push body. Raises ``InvalidPubSubPush`` naming the problem."""
    try:
        payload = load_json(body)
    except InvalidJson as error:
        raise InvalidPubSubPush(str(error)) from None
    if not isinstance(payload, dict):
        raise InvalidPubSubPush("body must be a JSON object")
    match = _SUBSCRIPTION.match(str(payload.get("subscription") or ""))
    if match is None:
        raise InvalidPubSubPush("subscription must look like projects/<project>/subscriptions/<name>")
    message = payload.get("message")
    if not isinstance(message, dict):
        raise InvalidPubSubPush("message is required and must be an object")
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(isinstance(value, str) for value in attributes.values()):
        raise InvalidPubSubPush("message.attributes must map names to strings")
    fields: dict[str, str] = {}
    for key, alias in (("data", "data"), ("messageId", "message_id"), ("publishTime", "publish_time")):
        value = message.get(key, message.get(alias, ""))
        if not isinstance(value, str):
            raise InvalidPubSubPush(f"message.{key} must be a string")
        fields[key] = value
    if not fields["messageId"]:
        raise InvalidPubSubPush("message.messageId is required")
    name = match.group("name")
    topic = name[: -len(subscription_suffix)] if subscription_suffix and name.endswith(subscription_suffix) else name
    return PubSubEvent(
        project=match.group("project"),
        topic=topic,
        message=PubSubMessage(
            attributes=attributes,
            data=fields["data"],
            message_id=fields["messageId"],
            publish_time=fields["publishTime"],
            ordering_key=str(message.get("orderingKey") or ""),
        ),
    )


def pubsub_event_id(event: PubSubEvent) -> str:
    """Pub/Sub redelivers a message with the same id: one event per (project, topic, message id)."""
    assert event.message is not None
    natural = f"{event.project}\n{event.topic}\n{event.message.message_id}"
    return f"pubsub-{hashlib.sha256(natural.encode()).hexdigest()[:40]}"


def pubsub_intake_event(event: PubSubEvent) -> IntakeEvent:
    """The message as pub/sub triggers receive it, under ``pubsub_event_id``."""
    return IntakeEvent(subject=trigger_kind("pubsub").subject, payload=event.to_dict(), id=pubsub_event_id(event))
