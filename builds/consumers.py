"""Consumers of the builds app: a recorded build, release or bot run gets its job."""

from __future__ import annotations

from estafette.queue import subjects
from estafette.queue.consumer import Consumer, PermanentError, ReceivedEvent, consumer

RUN_KINDS = ("build", "release", "bot")


@consumer(subjects.RUN_CREATED, durable="jobs-dispatch")
class JobDispatchConsumer(Consumer):
    """``estafette.events.{build,release,bot}.created`` → ``job_dispatch``.

    Not ``idempotent`` in the queue's sense (no handled-event record): dispatch only reads, starts a
    job under a deterministic name and leaves runs that are no longer pending alone, so running it
    again is harmless — and no database transaction is held open while the job starts.
    """

    def start(self) -> None:
        # The local runner's standby builders start now, so the first job after a (re)start is not a cold one.
        from estafette.jobs import get_job_runner

        prestart = getattr(get_job_runner(), "prestart", None)
        if prestart is not None:
            prestart()

    def handle(self, event: ReceivedEvent) -> None:
        from builds.dispatch import job_dispatch

        kind, run_id = event.payload.get("kind"), str(event.payload.get("id") or "")
        if kind not in RUN_KINDS or not run_id.isdigit():
            raise PermanentError(f"a created event needs kind (build, release, bot) and a numeric id, got {kind!r}")
        job_dispatch(kind=kind, run_id=int(run_id))
