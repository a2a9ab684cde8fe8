"""The sweeper: fails runs whose builder died, ends cancels whose job is gone, and removes jobs of finished runs.

A builder reports a heartbeat every 15 s. A run whose builder has been quiet for ``check_after`` seconds is looked up
in the job runner: if its job ended (the process or pod died, was killed or deleted) the run fails at once; if
nothing was heard for ``heartbeat_timeout`` seconds (60: the builder hangs or lost the network) it fails too. Each
failure writes a ``job`` step into the run's log saying what happened and what to do. A run being canceled whose job
is gone becomes ``canceled``. Once a run is final its job is removed (after ``cleanup_grace`` seconds if the builder
still runs: it exits right after its last report).

**While the API is down, silence proves nothing.** A builder whose reports the API cannot take keeps them and retries
(its final status for up to 30 minutes, ``builder/reporting.py``), so its heartbeats stop landing through no fault of
its own. ``ApiWatch`` asks the API's ``/liveness`` (where jobs call back) before each pass: while it does not answer,
no run fails for silence, and once it answers again a builder's silence is counted from then, not from its last
heartbeat (``jobs_sweep(api_up_since=…)``). A job that ended still fails its run at once: it holds no report.

``jobs_sweep`` is one pass; ``manage.py sweep_jobs`` runs it once or every few seconds. Every change is a conditional
UPDATE through the runs' transitions, so several sweepers (one per API replica) and racing builder reports are safe.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max
from django.db.models.functions import Coalesce
from django.utils import timezone

from builder.contracts import LogLine, TailLogLine
from estafette.jobs import JobRunner, JobRunnerError, JobStatus, get_job_runner
from estafette.lib.db import atomic_with_retry
from estafette.lib.errors import Conflict
from estafette.queue.process import periodic_task
from runs.job_control import run_job_name
from runs.models import ACTIVE_STATUSES, LogChunk, Run, RunStatus
from runs.registry import RunKind, run_kinds
from runs.reports import log_record_for_attempt
from runs.services import log_append

logger = logging.getLogger(__name__)

LOST_STEP = "job"
ENDED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.NOT_FOUND})
ALIVE = frozenset({JobStatus.PENDING, JobStatus.RUNNING, JobStatus.CANCELED})


@dataclass(frozen=True)
class SweepPolicy:
    """The sweeper's timings in seconds (``ESTAFETTE_JOB_*`` settings)."""

    heartbeat_timeout: float = 60
    check_after: float = 20
    start_timeout: float = 6 * 3600
    cleanup_grace: float = 30
    batch_size: int = 500

    @classmethod
    def from_settings(cls) -> SweepPolicy:
        return cls(
            heartbeat_timeout=settings.JOB_HEARTBEAT_TIMEOUT_SECONDS,
            check_after=settings.JOB_CHECK_AFTER_SECONDS,
            start_timeout=settings.JOB_START_TIMEOUT_SECONDS,
            cleanup_grace=settings.JOB_CLEANUP_GRACE_SECONDS,
        )


@dataclass
class SweepResult:
    """What one pass did: ``kind id`` of each run failed or canceled, names of jobs removed, runner errors."""

    failed: list[str] = field(default_factory=list)
    canceled: list[str] = field(default_factory=list)
    cleaned_up: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.failed or self.canceled or self.cleaned_up or self.errors)

    def summary(self) -> str:
        return (
            f"failed {len(self.failed)} run(s), canceled {len(self.canceled)}, removed {len(self.cleaned_up)} job(s)"
            + (f", {len(self.errors)} runner error(s)" if self.errors else "")
        )


API_DOWN = "down"  # ``api_up_since`` while the API does not answer


class ApiWatch:
    """Whether the API that jobs report to answers, and since when (for ``jobs_sweep(api_up_since=…)``).

    ``url`` is its ``/liveness`` (``ESTAFETTE_SWEEPER_API_PROBE_URL``; empty: not watched, always up). Before the
    first answer the API counts as up since ever: a sweeper started beside a running API must not wait.
    """

    def __init__(self, url: str, *, timeout: float = 3.0) -> None:
        self.url = url
        self.timeout = timeout
        self.up_since: datetime | None = None  # None: up for as long as anyone knows
        self.down = False

    @classmethod
    def from_settings(cls) -> ApiWatch:
        return cls(settings.SWEEPER_API_PROBE_URL)

    def probe(self, *, now: datetime) -> datetime | str | None:
        """Ask the API now; what ``jobs_sweep`` takes as ``api_up_since``."""
        if not self.url:
            return None
        answered = self._answers()
        if not answered:
            if not self.down:
                logger.warning("sweeper: the API at %s does not answer; no run fails for silence meanwhile", self.url)
            self.down = True
            return API_DOWN
        if self.down:
            logger.info("sweeper: the API answers again; builders' silence counts from now")
            self.down = False
            self.up_since = now
        return self.up_since

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout) as response:  # noqa: S310 - our own setting
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError, ValueError):
            return False


def jobs_sweep(
    *,
    runner: JobRunner | None = None,
    policy: SweepPolicy | None = None,
    now: datetime | None = None,
    api_up_since: datetime | str | None = None,
) -> SweepResult:
    """One pass over every kind of run. Never raises for a runner failure (it is logged and counted).

    ``api_up_since``: when the API last came back (``ApiWatch.probe``): a builder's silence counts from then at most;
    ``API_DOWN`` while it does not answer (no run fails for silence); None when it has been up throughout.
    """
    runner = runner or get_job_runner()
    policy = policy or SweepPolicy.from_settings()
    now = now or timezone.now()
    result = SweepResult()
    for kind in run_kinds():
        for run in _quiet_runs(kind, policy=policy, now=now):
            try:
                _check_quiet_run(
                    kind, run, runner=runner, policy=policy, now=now, result=result, api_up_since=api_up_since
                )
            except JobRunnerError as error:
                result.errors.append(f"{kind.name} {run.pk}: {error}")
                logger.warning("sweeper: %s %s: %s", kind.name, run.pk, error)
        for run in _runs_with_jobs_to_remove(kind, policy=policy, now=now):
            try:
                _remove_job(kind, run, runner=runner, policy=policy, now=now, result=result)
            except JobRunnerError as error:
                result.errors.append(f"{kind.name} {run.pk}: {error}")
                logger.warning("sweeper: %s %s: %s", kind.name, run.pk, error)
    return result


# -- unfinished runs -------------------------------------------------------------------------------


def _quiet_runs(kind: RunKind, *, policy: SweepPolicy, now: datetime) -> list[Any]:
    """Unfinished runs not heard of for ``check_after`` seconds (healthy builders are never loaded)."""
    cutoff = now - timedelta(seconds=policy.check_after)
    return list(
        kind.model.objects.select_related(*kind.related)
        .filter(status__in=ACTIVE_STATUSES)
        .annotate(last_sign=Coalesce("last_heartbeat_at", "started_at", "inserted_at"))
        .filter(last_sign__lte=cutoff)
        .order_by("last_sign")[: policy.batch_size]
    )


def _check_quiet_run(
    kind: RunKind,
    run: Any,
    *,
    runner: JobRunner,
    policy: SweepPolicy,
    now: datetime,
    result: SweepResult,
    api_up_since: datetime | str | None = None,
) -> None:
    name = run_job_name(run=run)
    job = runner.status(name)
    quiet = _silence(run, now=now, api_up_since=api_up_since)
    label = f"{kind.name} {run.pk}"
    if run.status == RunStatus.CANCELING:
        if job in ENDED or quiet >= policy.heartbeat_timeout:
            if _cancel(kind, run, now=now):
                result.canceled.append(label)
                logger.info("sweeper: %s canceled: its job %s is gone (%s)", label, name, job.value)
        elif job in (JobStatus.PENDING, JobStatus.RUNNING):
            runner.cancel(name)  # in case the stop event was lost: idempotent
        return
    reason = _why_lost(run, job=job, quiet=quiet, policy=policy)
    if reason is not None and _fail_lost_run(kind, run, lines=reason, now=now):
        result.failed.append(label)
        logger.warning("sweeper: %s failed: %s", label, reason[0])
        # A hung builder may still run: its job goes now, not after the grace a finishing builder gets.
        if job is not JobStatus.NOT_FOUND:
            runner.cleanup(name)
            result.cleaned_up.append(name)
        run.job_cleaned_up()


def _silence(run: Any, *, now: datetime, api_up_since: datetime | str | None) -> float:
    """Seconds the builder could have been heard and was not: none while the API is down, and counted from the API's
    return at most (its reports wait in the builder meanwhile)."""
    if api_up_since == API_DOWN:
        return 0.0
    since = run.last_sign if not isinstance(api_up_since, datetime) else max(run.last_sign, api_up_since)
    return max(0.0, (now - since).total_seconds())


def _why_lost(run: Run, *, job: JobStatus, quiet: float, policy: SweepPolicy) -> list[str] | None:
    """The log lines explaining why ``run`` is lost, or None while it may still be alive."""
    again = "Start it again (rebuild the version, or release again)."
    if run.status == RunStatus.RUNNING:
        if job in ENDED:
            return [
                f"The builder's job ended ({job.value}) without reporting the outcome: its process or pod was killed "
                "(out of memory, node lost, deleted) or it crashed.",
                f"The run is marked failed. {again} If it happens again, look at the job's resources and node.",
            ]
        still_starting = job is JobStatus.PENDING and quiet < policy.start_timeout  # a re-run pod being scheduled
        if quiet >= policy.heartbeat_timeout and not still_starting:
            return [
                f"The builder stopped reporting: no heartbeat for {quiet:.0f} s (its process hangs or it lost the "
                "connection to the API).",
                f"The run is marked failed and its job removed. {again} If it happens again, check the network "
                "between jobs and the API (ESTAFETTE_SERVICE_URL).",
            ]
        return None
    # pending: no builder reported yet
    if job in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        return [
            f"The builder's job ended ({job.value}) before the builder reported: it could not read its configuration "
            "or reach the API.",
            f"The run is marked failed. The job's own log tells why. {again}",
        ]
    if quiet >= policy.start_timeout:
        return [
            f"No builder reported for this run within {policy.start_timeout / 60:.0f} minutes (its job is "
            f"{job.value.replace('_', ' ')}).",
            f"The run is marked failed. Check that jobs start and reach the API (the job runner, its capacity, "
            f"ESTAFETTE_SERVICE_URL). {again}",
        ]
    return None


@atomic_with_retry
def _fail_lost_run(kind: RunKind, run: Any, *, lines: list[str], now: datetime) -> bool:
    # The reason and the status commit together: a live tail that sees the run final has seen the reason too.
    if run.status == RunStatus.RUNNING:
        changed = kind.finish(run, RunStatus.FAILED, now)
    else:
        changed = run.lose(now=now)
        if changed:
            kind.refresh(run, now)
    if changed:
        _append_reason(kind, run, lines=lines, now=now)
    return bool(changed)


def _append_reason(kind: RunKind, run: Any, *, lines: list[str], now: datetime) -> None:
    record = log_record_for_attempt(kind=kind, run=run, attempt_key=None, now=now)
    last_seq = LogChunk.objects.filter(record=record).aggregate(last=Max("seq"))["last"] or 0
    timestamp = now.isoformat().replace("+00:00", "Z")
    tail = [
        TailLogLine(
            step=LOST_STEP,
            auto_injected=True,
            log_line=LogLine(line=number, timestamp=timestamp, stream_type="stderr", text=text),
        )
        for number, text in enumerate(lines, 1)
    ]
    tail.append(TailLogLine(step=LOST_STEP, auto_injected=True, status="FAILED", exit_code=-1))
    log_append(record=record, seq=last_seq + 1, lines=tail, now=now)


def _cancel(kind: RunKind, run: Any, *, now: datetime) -> bool:
    try:
        kind.cancel(run, now)
    except Conflict:
        return False  # finished meanwhile
    return bool(run.status == RunStatus.CANCELED)


# -- finished runs ---------------------------------------------------------------------------------


def _runs_with_jobs_to_remove(kind: RunKind, *, policy: SweepPolicy, now: datetime) -> list[Any]:
    return list(
        kind.model.objects.select_related("pipeline")
        .filter(job_cleanup_at__lte=now)
        .order_by("job_cleanup_at")[: policy.batch_size]
    )


def _remove_job(
    kind: RunKind, run: Any, *, runner: JobRunner, policy: SweepPolicy, now: datetime, result: SweepResult
) -> None:
    name = run_job_name(run=run)
    job = runner.status(name)
    if job in ALIVE and (now - run.job_cleanup_at).total_seconds() < policy.cleanup_grace:
        return  # the builder exits right after its last report; give it the time
    if job is not JobStatus.NOT_FOUND:
        runner.cleanup(name)
        result.cleaned_up.append(name)
    run.job_cleaned_up()


def sweeper_task(every: float | None = None) -> Callable[[asyncio.Event], Awaitable[int]]:
    """The sweeper as a worker task (``estafette.queue.process``): a pass every ``every`` seconds (default
    ``JOB_SWEEP_INTERVAL_SECONDS``) until stopped; returns the passes made."""
    interval = float(settings.JOB_SWEEP_INTERVAL_SECONDS if every is None else every)
    api = ApiWatch.from_settings()

    def report(result: SweepResult) -> None:
        if result:
            logger.info("sweep: %s", result.summary())

    return periodic_task(what="job sweeper", every=interval, run_pass=lambda: _sweep_pass(api), report=report)


def _sweep_pass(api: ApiWatch) -> SweepResult:
    now = timezone.now()
    return jobs_sweep(now=now, api_up_since=api.probe(now=now))
