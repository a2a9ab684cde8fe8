"""The single log store of every run kind (builds, releases, bot runs).

A ``LogRecord`` is one attempt of a run (a run re-run by Kubernetes after a lost pod gets a second
record). Its ``LogStep`` rows form the step tree: top-level stages, their parallel (nested) stages
and service containers, each identified by (parent stage, kind, name, run index). Lines arrive from
the builder in numbered batches; each batch is stored as one ``LogChunk`` per step it touches, keyed
(record, seq, step), so a re-sent batch is recognised and stored once, appends never rewrite old rows,
and a live tail reads "every chunk after seq N" from one index.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class StepKind(models.TextChoices):
    STAGE = "stage"
    SERVICE = "service"


class StepStatus(models.TextChoices):
    UNKNOWN = "UNKNOWN"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELED = "CANCELED"


class LogRecord(models.Model):
    """The log of one attempt of a run of any kind."""

    pipeline = models.ForeignKey("pipelines.Pipeline", on_delete=models.CASCADE, related_name="log_records")
    # A generic reference rather than a foreign key per kind: the run kinds live in the apps above this one and
    # register themselves (``runs.registry``); the name is the kind's (``Run.kind``), checked when a record opens.
    run_kind = models.CharField(max_length=8)
    run_id = models.BigIntegerField()
    attempt = models.PositiveIntegerField(default=1)
    # The builder process that writes this record (random per process, sent with its reports): a Kubernetes Job
    # re-running a lost pod starts a new builder, whose reports open the next record. NULL: not claimed by one.
    attempt_key = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 — NULLs are distinct keys
    inserted_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # The tables keep the names they had in the builds app, where the log store began: moving it here
        # moved no data (runs/migrations/0001_initial.py).
        db_table = "builds_logrecord"
        constraints = [
            models.UniqueConstraint(fields=["run_kind", "run_id", "attempt"], name="log_record_run_attempt"),
            models.UniqueConstraint(fields=["run_kind", "run_id", "attempt_key"], name="log_record_run_attempt_key"),
        ]
        indexes = [models.Index(fields=["inserted_at"], name="log_record_inserted")]

    def __str__(self) -> str:
        return f"{self.run_kind} {self.run_id} log #{self.attempt}"


class LogStep(models.Model):
    """One node of the step tree: a stage, a parallel stage (``parent_stage`` set) or a service."""

    record = models.ForeignKey(LogRecord, on_delete=models.CASCADE, related_name="steps")
    parent_stage = models.CharField(max_length=256, blank=True, default="")
    kind = models.CharField(max_length=8, choices=StepKind.choices, default=StepKind.STAGE)
    name = models.CharField(max_length=256)
    run_index = models.PositiveIntegerField(default=0)
    depth = models.PositiveSmallIntegerField(default=0)
    # Order of first appearance within the record: the tree is shown in the order stages ran.
    position = models.PositiveIntegerField(default=0)
    image = models.JSONField(null=True, blank=True)
    duration_ns = models.BigIntegerField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.UNKNOWN)
    auto_injected = models.BooleanField(default=False)

    class Meta:
        db_table = "builds_logstep"
        constraints = [
            models.UniqueConstraint(
                fields=["record", "parent_stage", "kind", "name", "run_index"], name="log_step_identity"
            ),
        ]

    def __str__(self) -> str:
        parent = f"{self.parent_stage}/" if self.parent_stage else ""
        return f"{parent}{self.name} ({self.kind}, run {self.run_index})"


class LogChunk(models.Model):
    """The part of one builder batch (``seq``) that belongs to one step: its entries in arrival order.

    Each entry is a TailLogLine without the step identity (which the step holds): ``logLine`` for a
    line of output, and/or the step's ``status``, ``exitCode``, ``duration``, ``image`` as reported.
    """

    record = models.ForeignKey(LogRecord, on_delete=models.CASCADE, related_name="chunks")
    # No database constraint and no cascade: chunks are always deleted together with their record,
    # and a constraint between two tables deleted in the same statement batch would force an order
    # that CockroachDB (no deferrable constraints) cannot defer.
    step = models.ForeignKey(
        LogStep, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    seq = models.PositiveBigIntegerField()
    entries = models.JSONField(default=list)
    line_count = models.PositiveIntegerField(default=0)
    inserted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "builds_logchunk"
        constraints = [
            models.UniqueConstraint(fields=["record", "seq", "step"], name="log_chunk_record_seq_step"),
        ]

    def __str__(self) -> str:
        return f"chunk {self.seq} of {self.record_id}"


class LogSearchLine(models.Model):
    """One line of output as the log search finds it (``runs.log_search``): written with its chunk, deleted with it.

    The chunk keeps the line for showing a log; this row keeps it for finding it, with what a search narrows by
    (the pipeline, the run, when) beside it. Each database indexes ``text`` in its own way, created by the migration
    that made this table (``runs/migrations/0002_log_line_search``): SQLite an FTS5 table kept by triggers,
    PostgreSQL and CockroachDB a generated ``tsvector`` column with an inverted (GIN) index.
    """

    # Like a chunk's: no database constraints, so the whole record's rows go in one batch of deletes in any order
    # (CockroachDB cannot defer a constraint); a record's deletion cascades here through Django (prune_logs deletes
    # the lines explicitly, first).
    record = models.ForeignKey(LogRecord, on_delete=models.CASCADE, db_constraint=False, related_name="+")
    step = models.ForeignKey(
        LogStep, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    # Copied from the record so that a search narrows by pipeline, run and time without joining it.
    pipeline_id = models.BigIntegerField()
    run_kind = models.CharField(max_length=8)
    run_id = models.BigIntegerField()
    line = models.PositiveIntegerField()
    text = models.TextField()
    inserted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "runs_logline"

    def __str__(self) -> str:
        return f"line {self.line} of step {self.step_id}"
