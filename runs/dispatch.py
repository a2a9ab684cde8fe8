"""Job dispatch: a pending run of any kind gets its job, with its own secret key.

The configuration comes from ``runs.jobconfig``, what differs by kind from the run-kind registry
(``runs.registry``). Before it leaves the API every secret envelope in
it is re-encrypted under a fresh per-job key (ESTAFETTE.md §6): the job gets that key, never the
installation key.

Dispatch is idempotent: only a ``pending`` run gets a job, and job names are deterministic, so a
redelivered ``*.created`` event finds the job started (runners leave an existing job alone).
"""

from __future__ import annotations

import json
import logging
import time

from django.db import transaction
from django.utils import timezone

from builder.contracts import LogLine, TailLogLine
from estafette.jobs import JobRunner, JobSpec, get_job_runner
from estafette.lib import metrics
from estafette.lib.crypt import reencrypt_for_job
from estafette.lib.errors import NotFound
from runs.jobconfig import RunToDispatch, builder_config, run_builder
from runs.manifests import parse_manifest
from runs.models import RunStatus
from runs.registry import MissingJobEvent, job_events, run_kind
from runs.services import log_append, log_record_create

logger = logging.getLogger(__name__)

VALIDATE_TRIGGERS_STEP = "validate-triggers"


def job_dispatch(*, kind: str, run_id: int, runner: JobRunner | None = None) -> str | None:
    """Start the job of a pending run; returns the job's name, or None when there is nothing to start.

    Nothing is started for a run that is gone or no longer ``pending`` (its job started before, or it
    was canceled); a job started while its run was being canceled is removed again (None). A run whose
    named trigger has no event to describe (ESTAFETTE.md §1.10) is canceled, with a ``validate-triggers``
    log step saying why. Idempotent; raises ``NotFound`` for an unknown kind and ``JobRunnerError`` when the runner
    fails (the caller retries).
    """
    target = _load(kind, run_id)
    if target is None:
        return None
    try:
        named = job_events(
            manifest=target.manifest,
            pipeline_full_name=target.pipeline.full_name,
            fired=target.run.triggered_by_events,  # type: ignore[attr-defined]
        )
    except MissingJobEvent as error:
        _cancel_for_missing_event(target, str(error))
        return None
    config = builder_config(target, named_events=named)
    config_json, job_key = reencrypt_for_job(json.dumps(config.to_dict()))
    spec = JobSpec.for_run(
        job_type=kind,
        repo_owner=target.pipeline.repo_owner,
        repo_name=target.pipeline.repo_name,
        run_id=run_id,
        config=json.loads(config_json),
        secret_key=job_key,
        operating_system="windows" if run_builder(target).os == "windows" else "linux",
    )
    runner = runner or get_job_runner()
    starting = time.monotonic()
    name = runner.start(spec)
    metrics.job_start.labels(kind).observe(time.monotonic() - starting)
    if _canceled_while_starting(target):
        runner.cleanup(name)
        logger.info(
            "%s %s of %s was canceled while its job started: job %s removed",
            kind,
            run_id,
            target.pipeline.full_name,
            name,
        )
        return None
    logger.info("%s %s of %s: job %s started", kind, run_id, target.pipeline.full_name, name)
    return name


def _canceled_while_starting(target: RunToDispatch) -> bool:
    """Whether the run was canceled after it was loaded as pending. That cancel's job stop
    (``runs.job_control.run_stop_job``) may have looked for the job before it existed and found nothing to
    remove; the job just started would then run a canceled run to its end and never be cleaned up."""
    run = target.run
    status = type(run)._base_manager.filter(pk=run.pk).values_list("status", flat=True).first()
    return status == RunStatus.CANCELED


def _load(kind_name: str, run_id: int) -> RunToDispatch | None:
    kind = run_kind(kind_name)
    try:
        run = kind.get(run_id)
    except NotFound:
        run = None
    if run is None:
        logger.warning("%s %s is gone; no job", kind_name, run_id)
        return None
    if run.status != RunStatus.PENDING:
        logger.info("%s %s is %s, not pending; no job", kind_name, run_id, run.status)
        return None
    job = kind.job(run)
    pipeline = run.pipeline
    manifest = parse_manifest(job.manifest, pipeline_full_name=pipeline.full_name).manifest
    if manifest is None:
        logger.warning("%s %s: the manifest it runs from is invalid; no job", kind_name, run_id)
        return None
    return RunToDispatch(kind=kind, run=run, job=job, pipeline=pipeline, manifest=manifest)


# -- a named trigger without its event -------------------------------------------------------------


@transaction.atomic
def _cancel_for_missing_event(target: RunToDispatch, reason: str) -> None:
    """Estafette leaves such a run pending for ever; here it is canceled with the reason in its log."""
    run, kind = target.run, target.kind
    now = timezone.now()
    record = log_record_create(pipeline=target.pipeline, run_kind=kind.name, run_id=run.pk, now=now)
    timestamp = now.isoformat().replace("+00:00", "Z")
    text = f"{reason}; the {kind.name} cannot start"
    line = LogLine(line=1, timestamp=timestamp, stream_type="stderr", text=text)
    log_append(
        record=record,
        seq=1,
        lines=[
            TailLogLine(step=VALIDATE_TRIGGERS_STEP, log_line=line),
            TailLogLine(step=VALIDATE_TRIGGERS_STEP, status="FAILED", exit_code=1, duration=0),
        ],
        now=now,
    )
    kind.cancel(run, now)
    logger.warning("%s %s of %s canceled: %s", kind.name, run.pk, target.pipeline.full_name, reason)
