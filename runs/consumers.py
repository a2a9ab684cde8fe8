"""Consumers of the run engine: a recorded run of any kind gets its job; a canceled run's job is stopped.

The payloads name a run by kind and id; an unknown kind or a malformed id is a permanent error (no retry helps).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from estafette.jobs import get_job_runner
from estafette.lib.errors import NotFound
from estafette.lib.ids import is_id
from estafette.queue.consumer import Consumer, PermanentError, ReceivedEvent, consumer
from runs.dispatch import job_dispatch
from runs.events import RUN_CREATED
from runs.job_control import JOB_STOP_SUBJECT, run_stop_job
from runs.registry import run_kind


def _run_named(payload: Mapping[str, Any], *, id_field: str, what: str) -> tuple[str, int]:
    """(kind, id) of the run a payload names; ``PermanentError`` unless the kind is registered and the id numeric."""
    kind, run_id = payload.get("kind"), str(payload.get(id_field) or "")
    try:
        name = run_kind(str(kind)).name
    except NotFound as error:
        raise PermanentError(f"{what} needs the kind of a run: {error.message}") from None
    if not is_id(run_id):
        raise PermanentError(f"{what} needs a numeric {id_field}, got {run_id!r}")
    return name, int(run_id)


@consumer(RUN_CREATED, durable="jobs-dispatch")
class JobDispatchConsumer(Consumer):
    """``estafette.events.<kind>.created`` → ``job_dispatch``.

    Not ``idempotent`` in the queue's sense (no handled-event record): dispatch only reads, starts a
    job under a deterministic name and leaves runs that are no longer pending alone, so running it
    again is harmless — and no database transaction is held open while the job starts.
    """

    def start(self) -> None:
        # The local runner's standby builders start now, so the first job after a (re)start is not a cold one.
        prestart = getattr(get_job_runner(), "prestart", None)
        if prestart is not None:
            prestart()

    def handle(self, event: ReceivedEvent) -> None:
        kind, run_id = _run_named(event.payload, id_field="id", what="a created event")
        job_dispatch(kind=kind, run_id=run_id)


@consumer(JOB_STOP_SUBJECT, durable="jobs-stop")
class JobStopConsumer(Consumer):
    """``estafette.events.jobs.stop`` ``{kind, runId}`` → ``run_stop_job``.

    Not ``idempotent`` in the queue's sense: stopping and removing a job are idempotent themselves, and no database
    transaction is held open while the runner works. A runner failure is retried with the queue's delays.
    """

    def handle(self, event: ReceivedEvent) -> None:
        kind, run_id = _run_named(event.payload, id_field="runId", what="a job stop event")
        try:
            run_stop_job(kind=kind, run_id=run_id)
        except NotFound as error:
            raise PermanentError(error.message) from None
