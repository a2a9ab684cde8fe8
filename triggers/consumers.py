"""Consumers of the trigger engine: pushes become builds; events fire triggers; fired triggers act.

Each ``handle`` only calls services, and each is idempotent per event id: a redelivered event —
after a SIGKILLed consumer or a restarted nats-server — changes nothing the second time.

The trigger-matching consumers are made from the trigger-kind registry (``triggers.kinds``): one durable per kind,
because a JetStream consumer filters one subject.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from estafette.lib.errors import DomainError
from estafette.queue.consumer import Consumer, PermanentError, ReceivedEvent, consumer
from triggers.forges import REPOSITORY_EVENTS, InvalidChange, InvalidSource, ReportError, RepositoryChange
from triggers.kinds import TriggerKind, UnknownEvent, trigger_kind, trigger_kinds
from triggers.pushes import build_create_from_push, push_forge
from triggers.reports import run_notice_send, run_report_send
from triggers.repositories import repository_change_apply
from triggers.requests import RELEASE_REQUESTS, InvalidRequest, ReleaseRequest
from triggers.services import TRIGGER_FIRED, release_request_fulfil, trigger_fire, triggers_match


@consumer(trigger_kind("git").subject, durable="pipelines-git-push")
class GitPushConsumer(Consumer):
    """A push to a repository with a ``.estafette.yaml`` creates that pipeline's build.

    The push's ``forge`` (default ``git``: the repository is read with git) reads the revision: GitHub's reads it
    through its API.

    Idempotent per resolved commit, not per event id: a push without a revision (identified by its body) and
    one naming the commit it resolved to are the same push, and make one build.
    """

    idempotent = True

    def prepare(self, event: ReceivedEvent) -> Any:
        # The forge reads the repository here, outside the handler's transaction: it may fetch from a remote. It
        # checks the payload again first: an event on the queue is input too.
        try:
            return push_forge(event.payload).read_push(event.payload)
        except InvalidSource as error:
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

    kind: TriggerKind

    def handle(self, event: ReceivedEvent) -> None:
        try:
            trigger_event = self.kind.event_from_payload(event.payload)
        except UnknownEvent as error:
            raise PermanentError(str(error)) from None
        triggers_match(event=trigger_event, event_id=event.id)


def _match_consumer(kind: TriggerKind) -> type[TriggerMatchConsumer]:
    name = f"{kind.name.capitalize()}TriggerConsumer"
    doc = f"Events of the {kind.name} trigger kind ({kind.subject}) fire the triggers that listen to them."
    return consumer(kind.subject, durable=kind.durable)(
        type(name, (TriggerMatchConsumer,), {"kind": kind, "__doc__": doc})
    )


MATCH_CONSUMERS: dict[str, type[TriggerMatchConsumer]] = {kind.name: _match_consumer(kind) for kind in trigger_kinds()}


@consumer(TRIGGER_FIRED, durable="triggers-fire")
class TriggerFireConsumer(Consumer):
    """One fired trigger: create its build, release or bot run."""

    idempotent = True

    def handle(self, event: ReceivedEvent) -> None:
        trigger_fire(message=event.payload)


@consumer(REPOSITORY_EVENTS, durable="triggers-repository")
class RepositoryChangeConsumer(Consumer):
    """A repository renamed, archived or unarchived on its forge: the same happens to its pipeline."""

    idempotent = True

    def handle(self, event: ReceivedEvent) -> None:
        try:
            change = RepositoryChange.from_dict(event.payload)
        except InvalidChange as error:
            raise PermanentError(f"not a repository change: {error}") from None
        repository_change_apply(change=change)


class RunReportConsumer(Consumer):
    """A build or release started or ended: its forge shows it on the commit (``triggers.reports``). A forge that
    refuses for good is a dead letter at once; one that cannot be reached is retried with the base class's back-off.
    Not ``idempotent``: it writes nothing here, and setting a commit status twice is setting it once."""

    part: str  # the event's part naming the run's status: "pipeline" or "release"
    send: ClassVar[Callable[..., Any]] = staticmethod(run_report_send)

    def handle(self, event: ReceivedEvent) -> None:
        part = event.payload.get(self.part)
        try:
            type(self).send(event_id=event.id, part=part if isinstance(part, dict) else {}, deliveries=event.deliveries)
        except ReportError as error:
            if error.permanent:
                raise PermanentError(f"report of {event.id}: {error}") from None
            raise


@consumer(trigger_kind("pipeline").subject, durable="triggers-build-report")
class BuildReportConsumer(RunReportConsumer):
    part = "pipeline"


@consumer(trigger_kind("release").subject, durable="triggers-release-report")
class ReleaseReportConsumer(RunReportConsumer):
    part = "release"


class RunNotifyConsumer(RunReportConsumer):
    """A build or release failed or recovered: the notifiers say so (``triggers.notifications``), with the reports'
    back-off and dead letters, in a durable of their own so that a chat that is down never holds a commit status.
    Not ``idempotent``: a notice sent twice is a second message, so nothing is retried once the notifiers took it."""

    send = staticmethod(run_notice_send)


@consumer(trigger_kind("pipeline").subject, durable="triggers-build-notify")
class BuildNotifyConsumer(RunNotifyConsumer):
    part = "pipeline"


@consumer(trigger_kind("release").subject, durable="triggers-release-notify")
class ReleaseNotifyConsumer(RunNotifyConsumer):
    part = "release"


@consumer(RELEASE_REQUESTS, durable="triggers-release-request")
class ReleaseRequestConsumer(Consumer):
    """A person asked for a release outside the API (a chat command), authorized where they asked: release it, as
    theirs. Idempotent per request id; a request the version or target refuses is a dead letter saying why."""

    idempotent = True

    def handle(self, event: ReceivedEvent) -> None:
        try:
            request = ReleaseRequest.from_dict(event.payload)
        except InvalidRequest as error:
            raise PermanentError(f"not a release request: {error}") from None
        try:
            release_request_fulfil(request=request)
        except DomainError as error:
            raise PermanentError(f"release request {event.id}: {error.message}") from None
