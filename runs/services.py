"""The log store's writes: open a run's log record, append the builder's batches, record a failure's reason.

Every kind's logs live in one store (``runs.models``); a record names its run by kind and id. Appends are
idempotent per (record, seq): the builder retries a batch until it is acknowledged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError
from django.db.models import Max
from django.utils import timezone

from estafette.lib.db import atomic_with_retry
from pipelines.models import Pipeline
from runs.logs import normalise_batch
from runs.models import LogChunk, LogRecord, LogStep


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
    lines: list[dict[str, Any]] = [
        {
            "step": step,
            "type": "stage",
            "depth": 0,
            "runIndex": 0,
            "logLine": {"line": number, "timestamp": timestamp, "streamType": "stderr", "text": error},
        }
        for number, error in enumerate(errors, start=1)
    ]
    lines.append({"step": step, "type": "stage", "exitCode": 1, "status": "FAILED", "duration": 0})
    _log_insert_batch(record=record, seq=1, lines=normalise_batch(lines), now=now)
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


def log_append(*, record: LogRecord, seq: int, lines: Sequence[Mapping[str, Any]], now: datetime | None = None) -> bool:
    """Store one batch of TailLogLines sent by the builder, idempotently on (record, seq).

    Returns True when the batch was stored, False when a batch with this ``seq`` was stored before
    (a retry of the same POST): then nothing changes. Step status, exit code, duration and image in
    the lines update the step tree. Raises ``BadRequest`` for a malformed line, naming it.
    """
    return log_append_checked(record=record, seq=seq, batch=normalise_batch(lines), now=now)


def log_append_checked(
    *, record: LogRecord, seq: int, batch: list[dict[str, Any]], now: datetime | None = None
) -> bool:
    """``log_append`` of a batch already checked by ``runs.logs.normalise_batch``.

    Its own transaction, or part of the caller's (``runs.reports`` stores a builder's batch in the transaction
    that checks the run has not ended).
    """
    try:
        return _log_append(record=record, seq=seq, batch=batch, now=now or timezone.now())
    except IntegrityError:
        # A concurrent identical POST won the unique (record, seq, step) race.
        if LogChunk.objects.filter(record=record, seq=seq).exists():
            return False
        raise


@atomic_with_retry
def _log_append(*, record: LogRecord, seq: int, batch: list[dict[str, Any]], now: datetime) -> bool:
    if LogChunk.objects.filter(record=record, seq=seq).exists():
        return False
    _log_insert_batch(record=record, seq=seq, lines=batch, now=now)
    return True


def _log_insert_batch(*, record: LogRecord, seq: int, lines: list[dict[str, Any]], now: datetime) -> None:
    steps = {
        (step.parent_stage, step.kind, step.name, step.run_index): step
        for step in LogStep.objects.filter(record=record)
    }
    next_position = max((step.position for step in steps.values()), default=-1) + 1
    chunks: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
    changed: dict[int, LogStep] = {}
    for line in lines:
        key = (line["parentStage"], line["type"], line["step"], line["runIndex"])
        step = steps.get(key)
        if step is None:
            step = LogStep.objects.create(
                record=record,
                parent_stage=line["parentStage"],
                kind=line["type"],
                name=line["step"],
                run_index=line["runIndex"],
                depth=line["depth"],
                position=next_position,
                auto_injected=line["autoInjected"],
            )
            next_position += 1
            steps[key] = step
        if _apply_step_state(step, line):
            changed[step.pk] = step
        chunks.setdefault(key, []).append(line["entry"])
    for step in changed.values():
        step.save(update_fields=["status", "exit_code", "duration_ns", "image", "auto_injected"])
    LogChunk.objects.bulk_create(
        [
            LogChunk(
                record=record,
                step=steps[key],
                seq=seq,
                entries=entries,
                line_count=sum(1 for entry in entries if "logLine" in entry),
                inserted_at=now,
            )
            for key, entries in chunks.items()
        ]
    )
    LogRecord.objects.filter(pk=record.pk).update(updated_at=now)


def _apply_step_state(step: LogStep, line: Mapping[str, Any]) -> bool:
    entry = line["entry"]
    updates = {
        "status": entry.get("status"),
        "exit_code": entry.get("exitCode"),
        "duration_ns": entry.get("duration"),
        "image": entry.get("image"),
    }
    changed = False
    for name, value in updates.items():
        if value is not None and getattr(step, name) != value:
            setattr(step, name, value)
            changed = True
    if line["autoInjected"] and not step.auto_injected:
        step.auto_injected = True
        changed = True
    return changed
