"""Stopping and removing the job of a run: cancel → job stop, through the queue so no request waits for a runner.

Each kind's cancel service (``build_cancel``, ``release_cancel``…) calls ``job_stop_on_commit`` in its transaction; the
``jobs-stop`` consumer (``runs/consumers.py``) then calls ``run_stop_job``, which asks the job runner to stop
the job (SIGTERM for a local process, deleting the Kubernetes Job). The builder reports ``canceled`` when its stages
stopped, which ends the run. A run canceled before its job started has its job (if any) removed at once.
"""

from __future__ import annotations

import logging

from estafette.jobs import JobRunner, JobStatus, get_job_runner, job_name
from estafette.queue import publish_on_commit, subjects
from runs.models import Run, RunStatus
from runs.registry import run_kind

logger = logging.getLogger(__name__)

JOB_STOP_SUBJECT = subjects.event_subject("jobs", "stop")


def run_job_name(*, run: Run) -> str:
    """The name of the job that runs ``run`` (``estafette.jobs.job_name``; the run's pipeline must be loaded)."""
    pipeline = run.pipeline  # type: ignore[attr-defined]
    return job_name(job_type=run.kind, repo_owner=pipeline.repo_owner, repo_name=pipeline.repo_name, run_id=run.pk)


def job_stop_on_commit(*, run: Run) -> None:
    """Queue the stop of ``run``'s job, published when the caller's transaction commits (call it inside it).

    One event per run and status reached (``canceling``, ``canceled``): a repeated cancel forces the job's removal.
    """
    publish_on_commit(
        JOB_STOP_SUBJECT,
        {"kind": run.kind, "runId": str(run.pk)},
        dedup_key=f"job-stop-{run.kind}-{run.pk}-{run.status}",
    )


def run_stop_job(*, kind: str, run_id: int, runner: JobRunner | None = None) -> bool:
    """Stop the job of a run that is being canceled, or remove it once the run is canceled. Idempotent.

    ``canceling``: the runner stops the job (the builder gets SIGTERM, reports ``canceled``). ``canceled`` (canceled
    while pending, or forced): the job and everything made for it is removed at once. Any other status: nothing to
    do (the run finished meanwhile; the sweeper removes its job). Returns whether the runner was asked to do
    something. Raises ``NotFound`` for an unknown run and ``JobRunnerError`` when the runner fails (retry later).
    """
    runner = runner or get_job_runner()
    run = run_kind(kind).get(run_id)
    name = run_job_name(run=run)
    if run.status == RunStatus.CANCELING:
        if runner.cancel(name):
            logger.info("%s %s: stopping job %s", kind, run.pk, name)
        return True
    if run.status == RunStatus.CANCELED:
        if runner.status(name) is not JobStatus.NOT_FOUND:
            logger.info("%s %s: removing job %s of the canceled run", kind, run.pk, name)
            runner.cleanup(name)
        run.job_cleaned_up()
        return True
    return False
