"""The run state machine shared by builds, releases and bot runs (ESTAFETTE.md §3.4).

Every status change is one conditional ``UPDATE … WHERE status IN (<allowed from>)``: two racing
callers (a cancel from the UI and the builder reporting ``running``) cannot both win, and a refused
transition changes nothing. Nothing else assigns ``status``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from django.db import models, transaction
from django.utils import timezone

from estafette.lib import metrics
from runs.models.logs import LogStep, StepStatus


class RunStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELING = "canceling"
    CANCELED = "canceled"


# new status -> the statuses it may be entered from (Estafette's UpdateBuildStatus guard).
ALLOWED_FROM: dict[str, frozenset[str]] = {
    RunStatus.RUNNING: frozenset({RunStatus.PENDING}),
    RunStatus.SUCCEEDED: frozenset({RunStatus.RUNNING}),
    RunStatus.FAILED: frozenset({RunStatus.RUNNING}),
    RunStatus.CANCELING: frozenset({RunStatus.RUNNING}),
    RunStatus.CANCELED: frozenset({RunStatus.PENDING, RunStatus.CANCELING}),
}
FINAL_STATUSES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED})
ACTIVE_STATUSES = frozenset({RunStatus.PENDING, RunStatus.RUNNING, RunStatus.CANCELING})
# The status a step still pending or running gets when its run ends this way (``Run._end_open_steps``).
_STEP_END: dict[str, str] = {RunStatus.FAILED: StepStatus.FAILED, RunStatus.CANCELED: StepStatus.CANCELED}
# Not a builder report: the API gives up on a run whose job was lost (no builder reports any more).
LOSABLE_STATUSES = frozenset({RunStatus.PENDING, RunStatus.RUNNING})


def nanoseconds(delta: timedelta) -> int:
    """A duration as Go's ``time.Duration`` counts it: whole nanoseconds."""
    return (delta // timedelta(microseconds=1)) * 1000


class Run(models.Model):
    """One run of a kind (a build, a release, a bot run): status, timestamps and the guarded transitions."""

    # The kind's name, set once by each concrete model: the job type, the log store's ``run_kind``, the callback
    # URL's kind and the key of the run-kind registry (``runs.registry``). A short lowercase word (8 characters).
    kind: ClassVar[str]

    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    inserted_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    # The builder's last sign of life (heartbeat or status report); the sweeper fails a run whose builder went quiet.
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Set when the run becomes final: from then on its job (if any) is to be removed. Cleared once removed.
    job_cleanup_at = models.DateTimeField(null=True, blank=True)
    # What the builder measured (its final status; builder/usage.py): the busiest stage's CPU in cores and the largest
    # peak memory of a stage in bytes. Estafette's columns of the same names; None where nothing was measured.
    cpu_max_usage = models.FloatField(null=True, blank=True)
    memory_max_usage = models.FloatField(null=True, blank=True)

    class Meta:
        abstract = True

    # -- transitions -------------------------------------------------------------------------
    def start(self, *, now: datetime | None = None) -> bool:
        """pending → running, recording ``started_at``. False (and nothing changed) from any other status."""
        now = now or timezone.now()
        return self._transition(RunStatus.RUNNING, now=now, started_at=now)

    def finish(self, *, status: str, now: datetime | None = None) -> bool:
        """running → succeeded/failed, or pending/canceling → canceled. False when the guard refuses.

        Raises ``ValueError`` for a status that is not final: that is a programming error, not a refusal.
        """
        if status not in FINAL_STATUSES:
            raise ValueError(f"finish() takes succeeded, failed or canceled, not {status!r}")
        return self._transition(status, now=now or timezone.now())

    def request_cancel(self, *, now: datetime | None = None) -> bool:
        """running → canceling (the job still has to stop). False from any other status."""
        return self._transition(RunStatus.CANCELING, now=now or timezone.now())

    def cancel(self, *, now: datetime | None = None) -> bool:
        """pending or canceling → canceled. False from any other status."""
        return self._transition(RunStatus.CANCELED, now=now or timezone.now())

    def lose(self, *, now: datetime | None = None) -> bool:
        """pending or running → failed because its job was lost (the builder died or never started).

        Not one of the builder's transitions (Estafette fails only running runs): the API decides this when no
        builder will ever report again. False from any other status.
        """
        return self._transition(RunStatus.FAILED, now=now or timezone.now(), allowed_from=LOSABLE_STATUSES)

    def record_heartbeat(
        self, *, now: datetime | None = None, cpu_max_usage: float | None = None, memory_max_usage: float | None = None
    ) -> bool:
        """Note the builder's sign of life, and what it measured when given (its end: see ``record_usage``), in one
        UPDATE. False (nothing written) once the run is final."""
        now = now or timezone.now()
        values = {
            name: value
            for name, value in (("cpu_max_usage", cpu_max_usage), ("memory_max_usage", memory_max_usage))
            if value is not None
        }
        changed = (
            type(self)
            ._base_manager.filter(pk=self.pk, status__in=ACTIVE_STATUSES)
            .update(last_heartbeat_at=now, **values)
        )
        if changed:
            self.last_heartbeat_at = now
            for name, value in values.items():
                setattr(self, name, value)
        return bool(changed)

    def record_usage(self, *, cpu_max_usage: float | None, memory_max_usage: float | None) -> bool:
        """Store what the builder measured (only the values it gives). Idempotent; False when nothing was given."""
        values = {
            name: value
            for name, value in (("cpu_max_usage", cpu_max_usage), ("memory_max_usage", memory_max_usage))
            if value is not None
        }
        if not values:
            return False
        type(self)._base_manager.filter(pk=self.pk).update(**values)
        for name, value in values.items():
            setattr(self, name, value)
        return True

    def job_cleaned_up(self) -> bool:
        """Note that the run's job was removed. False when another sweeper noted it first."""
        changed = (
            type(self)._base_manager.filter(pk=self.pk, job_cleanup_at=self.job_cleanup_at).update(job_cleanup_at=None)
        )
        if changed:
            self.job_cleanup_at = None
        return bool(changed)

    def _transition(
        self, status: str, *, now: datetime, allowed_from: frozenset[str] | None = None, **extra: datetime
    ) -> bool:
        allowed_from = ALLOWED_FROM[status] if allowed_from is None else allowed_from
        if status in FINAL_STATUSES:
            extra["job_cleanup_at"] = now  # whatever ran it is no longer needed
        changed = (
            type(self)
            ._base_manager.filter(pk=self.pk, status__in=allowed_from)
            .update(status=status, updated_at=now, **extra)
        )
        if changed:
            self.status = status
            self.updated_at = now
            for name, value in extra.items():
                setattr(self, name, value)
            self._end_open_steps(status)
            self._count_transition(status, now)
            return True
        # Refused: show the caller the status that won instead of the stale one it held.
        self.refresh_from_db(fields=["status", "started_at", "updated_at", "job_cleanup_at"])
        return False

    def _end_open_steps(self, status: str) -> None:
        """A run that ended failed or canceled ends the steps its log still shows pending or running.

        A builder that is killed (a cancel that had to force the job away, a lost pod) never reports its last
        stage's end, and the log would show that stage running forever. Its steps end as the run did; a
        succeeded run's steps are the builder's own final report and are left as they are.
        """
        step_status = _STEP_END.get(status)
        if step_status is None:
            return
        LogStep.objects.filter(
            record__run_kind=self.kind,
            record__run_id=self.pk,
            status__in=(StepStatus.PENDING, StepStatus.RUNNING),
        ).update(status=step_status)

    def _count_transition(self, status: str, now: datetime) -> None:
        """The metrics of a transition, counted once its transaction commits (a rolled-back one did not happen)."""
        kind, inserted_at, started_at = self.kind, self.inserted_at, self.started_at
        if status == RunStatus.RUNNING and started_at is not None:
            pending = (started_at - inserted_at).total_seconds()
            transaction.on_commit(lambda: metrics.run_pending.labels(kind).observe(max(0.0, pending)))
        elif status in FINAL_STATUSES:
            duration = (now - (started_at or inserted_at)).total_seconds()

            def count() -> None:
                metrics.runs_finished.labels(kind, status).inc()
                metrics.run_duration.labels(kind, status).observe(max(0.0, duration))

            transaction.on_commit(count)

    # -- derived values ----------------------------------------------------------------------
    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def duration_ns(self) -> int | None:
        """Run time in nanoseconds once the run has finished; None while it is unknown."""
        if not self.is_final:
            return None
        return nanoseconds(self.updated_at - (self.started_at or self.inserted_at))

    @property
    def pending_duration_ns(self) -> int | None:
        """Time from creation until the job started, in nanoseconds; None until it started."""
        if self.started_at is None:
            return None
        return nanoseconds(self.started_at - self.inserted_at)
