"""The trigger kinds: one registry, one entry per kind of event a manifest trigger listens to.

A trigger kind is a key of a manifest trigger and of an event (``builder.manifest``: ``Trigger.git``,
``Event.git``). Its entry here says everything the server does with it: the queue subject its events arrive on and
the durable consumer that matches them against the pipelines' triggers, how a message's payload becomes the event,
and the name a trigger is filed under in the trigger index (and an event looks up).

Adding a trigger type touches the manifest library (its trigger filter and event part), the integration that
publishes its events (on ``trigger_kind(<name>).subject``), and one entry in ``TRIGGER_KINDS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from builder.manifest.events import Event, GitEvent
from estafette.queue import subjects
from triggers.forges import InvalidSource, forge


class UnknownEvent(ValueError):
    """The payload is not an event of its subject; the message says why."""


@dataclass(frozen=True)
class TriggerKind:
    name: str  # the manifest's trigger key, the event's part and the subject's last token
    durable: str  # the JetStream consumer matching its events: a stable name (it holds the consumer's position)
    # The field of a trigger naming what it listens to, and of the event naming what happened (the index key). None:
    # the kind's filters are regular expressions, so every trigger of the kind is a candidate for every event.
    named_by: str | None = None
    # The event part's name when it is not its ``named_by`` field (pipeline and release events: source/owner/name).
    event_name: Callable[[Any], str] | None = None
    # How a message's payload becomes the event. None: the payload is the event's part (``{"image": …}``).
    decode: Callable[[Mapping[str, Any]], Event] | None = None

    @property
    def subject(self) -> str:
        return subjects.event_subject(self.name)

    def event_from_payload(self, payload: Mapping[str, Any]) -> Event:
        """The event a message of this kind carries. Raises ``UnknownEvent``."""
        try:
            event = self.decode(payload) if self.decode is not None else Event.from_dict({self.name: payload})
        except (ValueError, TypeError, AttributeError) as error:
            raise UnknownEvent(f"not a {self.name} event: {error}") from None
        if getattr(event, self.name) is None:
            raise UnknownEvent(f"a message on {self.subject} needs a {self.name} part")
        return event

    def event_key_name(self, part: Any) -> str | None:
        """The name an event part is looked up by in the trigger index (None: the kind alone)."""
        if self.named_by is None:
            return None
        return self.event_name(part) if self.event_name is not None else str(getattr(part, self.named_by))


def _whole_event(payload: Mapping[str, Any]) -> Event:
    # Pipeline and release events are published as whole events (builds.events, releases.events).
    return Event.from_dict(payload)


def _pushed(payload: Mapping[str, Any]) -> Event:
    # A push names a repository location; the trigger index knows pipelines by name, which the forge gives.
    try:
        repository = forge(str(payload.get("forge") or "git")).identify(str(payload.get("repository") or ""))
    except (InvalidSource, LookupError) as error:
        raise UnknownEvent(f"git push: {error}") from None
    kind, branch = str(payload.get("event") or "push"), str(payload.get("branch") or "")
    return Event(git=GitEvent(event=kind, repository=repository.full_name, branch=branch))


def _repository_of_run(part: Any) -> str:
    return f"{part.repo_source}/{part.repo_owner}/{part.repo_name}"


TRIGGER_KINDS: tuple[TriggerKind, ...] = (
    TriggerKind("pipeline", "triggers-pipeline", "name", _repository_of_run, _whole_event),  # a build started/ended
    TriggerKind("release", "triggers-release", "name", _repository_of_run, _whole_event),  # a release started/ended
    TriggerKind("git", "triggers-git", "repository", decode=_pushed),  # a push (its own pipeline builds from it)
    TriggerKind("github", "triggers-github", "repository"),  # a GitHub webhook delivery (integrations/github)
    TriggerKind("bitbucket", "triggers-bitbucket", "repository"),  # a Bitbucket webhook delivery (no intake yet)
    TriggerKind("cron", "triggers-cron"),  # the minute's tick (estafette.queue.cron)
    TriggerKind("pubsub", "triggers-pubsub"),  # a Google Pub/Sub message (integrations/pubsub)
    TriggerKind("docker", "triggers-docker"),  # an image pushed to a registry (integrations/docker)
)
_BY_NAME = {kind.name: kind for kind in TRIGGER_KINDS}


def trigger_kinds() -> tuple[TriggerKind, ...]:
    return TRIGGER_KINDS


def trigger_kind(name: str) -> TriggerKind:
    """The kind of that name; ``LookupError`` for an unknown one."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise LookupError(f"no trigger kind {name!r}; known: {', '.join(_BY_NAME)}") from None
