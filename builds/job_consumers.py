"""The consumer stopping jobs of canceled runs (``builds/job_control.py``).

Registered when the app loads (``BuildsConfig.ready``) rather than from ``builds/consumers.py``, the module the
dispatch consumer lives in: the two were written in parallel.
"""

from __future__ import annotations

from builds.job_control import JOB_STOP_SUBJECT
from estafette.queue.consumer import Consumer, PermanentError, ReceivedEvent, consumer

RUN_KINDS = ("build", "release", "bot")


@consumer(JOB_STOP_SUBJECT, durable="jobs-stop")
class JobStopConsumer(Consumer):
    """``estafette.events.jobs.stop`` ``{kind, runId}`` → ``run_stop_job``.

    Not ``idempotent`` in the queue's sense: stopping and removing a job are idempotent themselves, and no database
    transaction is held open while the runner works. A runner failure is retried with the queue's delays.
    """

    def handle(self, event: ReceivedEvent) -> None:
        from builds.job_control import run_stop_job
        from estafette.lib.errors import NotFound

        kind, run_id = event.payload.get("kind"), str(event.payload.get("runId") or "")
        if kind not in RUN_KINDS or not run_id.isdigit():
            raise PermanentError(f"a job stop event needs kind (build, release, bot) and a numeric runId, got {kind!r}")
        try:
            run_stop_job(kind=kind, run_id=int(run_id))
        except NotFound as error:
            raise PermanentError(error.message) from None
