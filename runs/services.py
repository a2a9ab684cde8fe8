"""The log store's writes: open a run's log record, append the builder's batches, record a failure's reason.

Every kind's logs live in one store (``runs.models``); a record names its run by kind and id. Appends are
idempotent per (record, seq): the builder retries a batch until it is acknowledged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError
from django.db.models import Max
from django.utils import timezone

from builder.contracts import LogLine, TailLogLine
from estafette.lib.db import atomic_with_retry
from pipelines.models import Pipeline
from runs.logs import LogEntry, log_entries
from runs.models import LogChunk, LogRecord, LogSearchLine, LogStep

# Rows per INSERT of the log search's lines: a builder's batch holds up to 10 000 lines, SQLite binds at most 32 766
# parameters a statement (8 columns a row).
LOG_LINE_BATCH = 2_000


def log_record_errors(
    *,
    pipeline: Pipeline,
    run_kind: str,
    run_id: int,
    errors: Sequence[str],
    now: datetime,
    step: str,
) -> LogRecord:
    """Open a new attempt's log of a run that fails before any job (an invalid manifest, a refused secret), with
    one failed ``step`` whose lines are ``errors``. Part of the caller's transaction."""
    record = _log_record_insert(pipeline=pipeline, run_kind=run_kind, run_id=run_id, now=now)
    timestamp = now.isoformat().replace("+00:00", "Z")
    lines = [
        TailLogLine(step=step, log_line=LogLine(line=number, timestamp=timestamp, stream_type="stderr", text=error))
        for number, error in enumerate(errors, start=1)
    ]
    lines.append(TailLogLine(step=step, exit_code=1, status="FAILED", duration=0))
    _log_insert_batch(record=record, seq=1, entries=log_entries(lines), now=now)
    return record


@atomic_with_retry
def log_record_create(*, pipeline: Pipeline, run_kind: str, run_id: int, now: datetime | None = None) -> LogRecord:
    """Open the log of a new attempt of a run (attempt 1, 2, … — a re-run pod gets its own log)."""
    return _log_record_insert(pipeline=pipeline, run_kind=run_kind, run_id=run_id, now=now or timezone.now())


def _log_record_insert(*, pipeline: Pipeline, run_kind: str, run_id: int, now: datetime) -> LogRecord:
    last = LogRecord.objects.filter(run_kind=run_kind, run_id=run_id).aggregate(last=Max("attempt"))["last"]
    return LogRecord.objects.create(
        pipeline=pipeline, run_kind=run_kind, run_id=run_id, attempt=(last or 0) + 1, inserted_at=now, updated_at=now
    )


def log_append(*, record: LogRecord, seq: int, lines: Sequence[TailLogLine], now: datetime | None = None) -> bool:
    """Store one batch of TailLogLines, idempotently on (record, seq).

    Returns True when the batch was stored, False when a batch with this ``seq`` was stored before
    (a retry of the same POST): then nothing changes. Step status, exit code, duration and image in
    the lines update the step tree. The lines are the contract's types, checked when they were parsed.
    """
    return log_append_entries(record=record, seq=seq, entries=log_entries(lines), now=now)


def log_append_entries(*, record: LogRecord, seq: int, entries: list[LogEntry], now: datetime | None = None) -> bool:
    """``log_append`` of lines already turned into the store's entries (``runs.logs.log_entries``, which masks them).

    Its own transaction, or part of the caller's (``runs.reports`` stores a builder's batch in the transaction
    that checks the run has not ended).
    """
    try:
        return _log_append(record=record, seq=seq, entries=entries, now=now or timezone.now())
    except IntegrityError:
        # A concurrent identical POST won the unique (record, seq, step) race.
        if LogChunk.objects.filter(record=record, seq=seq).exists():
            return False
        raise


@atomic_with_retry
def _log_append(*, record: LogRecord, seq: int, entries: list[LogEntry], now: datetime) -> bool:
    if LogChunk.objects.filter(record=record, seq=seq).exists():
        return False
    _log_insert_batch(record=record, seq=seq, entries=entries, now=now)
    return True


def _log_insert_batch(*, record: LogRecord, seq: int, entries: list[LogEntry], now: datetime) -> None:
    steps = {
        (step.parent_stage, step.kind, step.name, step.run_index): step
        for step in LogStep.objects.filter(record=record)
    }
    next_position = max((step.position for step in steps.values()), default=-1) + 1
    chunks: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
    changed: dict[int, LogStep] = {}
    # A step first seen in this batch is inserted once, with the state the batch leaves it in (one INSERT for all of
    # them), rather than inserted and then updated: most of a short build's steps start and end in one batch.
    new_steps: list[LogStep] = []
    for tail, entry in entries:
        key = (tail.parent_stage, tail.type, tail.step, tail.run_index)
        step = steps.get(key)
        if step is None:
            step = LogStep(
                record=record,
                parent_stage=tail.parent_stage,
                kind=tail.type,
                name=tail.step,
                run_index=tail.run_index,
                depth=tail.depth,
                position=next_position,
                auto_injected=bool(tail.auto_injected),
            )
            next_position += 1
            steps[key] = step
            new_steps.append(step)
        if _apply_step_state(step, tail, entry) and step.pk is not None:
            changed[step.pk] = step
        chunks.setdefault(key, []).append(entry)
    LogStep.objects.bulk_create(new_steps)  # sets their ids (RETURNING) for the chunks below
    for step in changed.values():
        LogStep.objects.filter(pk=step.pk).update(
            status=step.status,
            exit_code=step.exit_code,
            duration_ns=step.duration_ns,
            image=step.image,
            auto_injected=step.auto_injected,
        )
    LogChunk.objects.bulk_create(
        [
            LogChunk(
                record=record,
                step=steps[key],
                seq=seq,
                entries=chunk_entries,
                line_count=sum(1 for entry in chunk_entries if "logLine" in entry),
                inserted_at=now,
            )
            for key, chunk_entries in chunks.items()
        ]
    )
    # The log search's rows, in the same transaction: a stored line is findable as soon as it is visible.
    LogSearchLine.objects.bulk_create(
        [
            LogSearchLine(
                record_id=record.pk,
                step_id=steps[key].pk,
                pipeline_id=record.pipeline_id,
                run_kind=record.run_kind,
                run_id=record.run_id,
                line=entry["logLine"]["line"],
                text=entry["logLine"]["text"],
                inserted_at=now,
            )
            for key, chunk_entries in chunks.items()
            for entry in chunk_entries
            if "logLine" in entry and entry["logLine"]["text"].strip()
        ],
        batch_size=LOG_LINE_BATCH,
    )
    LogRecord.objects.filter(pk=record.pk).update(updated_at=now)


def _apply_step_state(step: LogStep, tail: TailLogLine, entry: dict[str, Any]) -> bool:
    updates = {
        "status": tail.status,
        "exit_code": tail.exit_code,
        "duration_ns": tail.duration,
        "image": entry.get("image"),
    }
    changed = False
    for name, value in updates.items():
        if value is not None and getattr(step, name) != value:
            setattr(step, name, value)
            changed = True
    if tail.auto_injected and not step.auto_injected:
        step.auto_injected = True
        changed = True
    return changed
