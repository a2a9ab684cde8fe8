"""Consumers of the pipelines app: pushes become builds; events fire triggers; fired triggers act.

Each ``handle`` only calls services, and each is idempotent per event id: a redelivered event —
after a SIGKILLed consumer or a restarted nats-server — changes nothing the second time.
"""

from __future__ import annotations

from typing import Any

from estafette.queue import subjects
from estafette.queue.consumer import Consumer, PermanentError, ReceivedEvent, consumer
from integrations.git.intake import push_read
from integrations.git.webhook import InvalidPush
from pipelines.pushes import build_create_from_push
from pipelines.triggers import UnknownEvent, event_from_message, trigger_fire, triggers_match


@consumer(subjects.GIT, durable="pipelines-git-push")
class GitPushConsumer(Consumer):
    """A push to a repository with a ``.estafette.yaml`` creates that pipeline's build.

    Idempotent per resolved commit, not per event id: a push without a revision (identified by its body) and
    one naming the commit it resolved to are the same push, and make one build.
    """

    idempotent = True

    def prepare(self, event: ReceivedEvent) -> Any:
        # Git runs here, outside the handler's transaction: it may fetch from a remote. The payload is
        # checked again first (push_read): an event on the queue is input too.
        try:
            return push_read(payload=event.payload)
        except InvalidPush as error:
            raise PermanentError(f"not a push: {error}") from None

    def handled_key(self, event: ReceivedEvent) -> str:
        return str(event.prepared.event_id)

    def handle(self, event: ReceivedEvent) -> None:
        build_create_from_push(pushed=event.prepared)


class TriggerMatchConsumer(Consumer):
    """An event of one kind: publish a fired-trigger message per trigger it fires.

    Not ``idempotent`` in the queue's sense: matching only reads, and the messages it publishes have
    ids derived from (event, pipeline, trigger), so a second run publishes the same ids (JetStream
    drops them; ``triggers-fire`` acts once per id). An event that fires nothing writes nothing.
    """

    def handle(self, event: ReceivedEvent) -> None:
        try:
            trigger_event = event_from_message(event.subject, event.payload)
        except UnknownEvent as error:
            raise PermanentError(str(error)) from None
        triggers_match(event=trigger_event, event_id=event.id)


# One durable per event kind: a JetStream consumer filters one subject.


@consumer(subjects.GIT, durable="triggers-git")
class GitTriggerConsumer(TriggerMatchConsumer):
    """A push fires the git triggers of other pipelines (its own pipeline builds from the push)."""


@consumer(subjects.PIPELINE, durable="triggers-pipeline")
class PipelineTriggerConsumer(TriggerMatchConsumer):
    """A build started or finished."""


@consumer(subjects.RELEASE, durable="triggers-release")
class ReleaseTriggerConsumer(TriggerMatchConsumer):
    """A release started or finished."""


@consumer(subjects.CRON, durable="triggers-cron")
class CronTriggerConsumer(TriggerMatchConsumer):
    """The minute's cron tick."""


@consumer(subjects.PUBSUB, durable="triggers-pubsub")
class PubSubTriggerConsumer(TriggerMatchConsumer):
    """A Google Pub/Sub message (``integrations/pubsub``)."""


@consumer(subjects.DOCKER, durable="triggers-docker")
class DockerTriggerConsumer(TriggerMatchConsumer):
    """An image pushed to a registry (``integrations/docker``)."""


@consumer(subjects.GITHUB, durable="triggers-github")
class GithubTriggerConsumer(TriggerMatchConsumer):
    """A GitHub webhook delivery (no intake yet)."""


@consumer(subjects.BITBUCKET, durable="triggers-bitbucket")
class BitbucketTriggerConsumer(TriggerMatchConsumer):
    """A Bitbucket webhook delivery (no intake yet)."""


@consumer(subjects.TRIGGER_FIRED, durable="triggers-fire")
class TriggerFireConsumer(Consumer):
    """One fired trigger: create its build, release or bot run."""

    idempotent = True

    def handle(self, event: ReceivedEvent) -> None:
        trigger_fire(message=event.payload)
