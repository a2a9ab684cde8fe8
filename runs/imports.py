"""Services for logs imported from another Estafette installation (``manage.py import_estafette``).

An imported log is a whole log (Estafette's ``BuildLog.steps``), stored as one attempt of its run in the same layout
as a log a builder posts whole (``runs.reports.run_store_posted_log``): its lines in batches of
``POSTED_LOG_BATCH_LINES``. Many logs are written with a handful of bulk statements, not a few per log: an import of a
million lines must not take a million round trips. Logs are keyed by ``attempt_key`` (the source's log id), so an
import run again stores each log once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Max

from builder.contracts import BuildLogStep, TailLogLine
from builder.wire import Invalid
from estafette.lib.bulk import UpsertCounts
from estafette.lib.db import atomic_with_retry
from runs.logs import log_entries
from runs.models import LogChunk, LogRecord, LogStep
from runs.registry import run_kind
from runs.reports import POSTED_LOG_BATCH_LINES, posted_log_lines


@dataclass(frozen=True)
class ImportedLog:
    """One log of a run as the source kept it. ``key`` is unique per run kind (it names the source's log row)."""

    run_kind: str
    run_id: int
    pipeline_id: int
    key: str
    inserted_at: datetime
    steps: list[BuildLogStep]


@dataclass(frozen=True)
class RefusedLog:
    key: str
    reason: str


def logs_stored(*, run_kind: str, keys: Sequence[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which of these (run id, key) logs of ``run_kind`` were imported before: an import reads a log's lines only for
    the others."""
    if not keys:
        return set()
    found = LogRecord.objects.filter(
        run_kind=run_kind, run_id__in={run_id for run_id, _ in keys}, attempt_key__in={key for _, key in keys}
    ).values_list("run_id", "attempt_key")
    return set(found) & set(keys)


@atomic_with_retry
def logs_import(*, logs: Sequence[ImportedLog]) -> tuple[UpsertCounts, list[RefusedLog]]:
    """Store the logs not stored before (by run kind and key); a log stored before is left as it is (a source's logs
    do not change once written). Returns the counts and the logs refused, each with its reason."""
    counts = UpsertCounts()
    refused: list[RefusedLog] = []
    if not logs:
        return counts, refused
    stored, present, last_attempt = _what_is_here(logs)
    new: list[tuple[ImportedLog, list[TailLogLine]]] = []
    for log in logs:
        if (log.run_kind, log.run_id, log.key) in stored:
            counts.unchanged += 1
            continue
        reason = None if (log.run_kind, log.run_id) in present else f"its {log.run_kind} {log.run_id} is not here"
        lines = posted_log_lines(log.steps) if reason is None else []
        for line in lines:
            try:
                line._check()  # the log store's limits, as for a log a builder posts
            except Invalid as error:
                reason = f"step {line.step[:80]!r}: {'.'.join(error.path)}: {error.message}"
                break
        if reason is not None:
            refused.append(RefusedLog(log.key, reason))
            counts.skipped += 1
            continue
        new.append((log, lines))
    counts.created = _write(new, last_attempt)
    return counts, refused


def _what_is_here(
    logs: Sequence[ImportedLog],
) -> tuple[set[tuple[str, int, str]], set[tuple[str, int]], dict[tuple[str, int], int]]:
    """The logs stored before, the runs that are here, and the last attempt of each run, for these logs' runs."""
    stored: set[tuple[str, int, str]] = set()
    present: set[tuple[str, int]] = set()
    last_attempt: dict[tuple[str, int], int] = {}
    for kind in {log.run_kind for log in logs}:
        of_kind = [log for log in logs if log.run_kind == kind]
        run_ids = {log.run_id for log in of_kind}
        present |= {
            (kind, run_id)
            for run_id in run_kind(kind).model._base_manager.filter(pk__in=run_ids).values_list("pk", flat=True)
        }
        records = LogRecord.objects.filter(run_kind=kind, run_id__in=run_ids)
        keyed = records.filter(attempt_key__in=[log.key for log in of_kind]).values_list("run_id", "attempt_key")
        stored |= {(kind, run_id, key) for run_id, key in keyed}
        for row in records.values("run_id").annotate(last=Max("attempt")):
            last_attempt[(kind, row["run_id"])] = row["last"]
    return stored, present, last_attempt


def _write(new: list[tuple[ImportedLog, list[TailLogLine]]], last_attempt: dict[tuple[str, int], int]) -> int:
    records_to_create = []
    for log, _ in new:
        attempt = last_attempt.get((log.run_kind, log.run_id), 0) + 1
        last_attempt[(log.run_kind, log.run_id)] = attempt
        records_to_create.append(
            LogRecord(
                pipeline_id=log.pipeline_id,
                run_kind=log.run_kind,
                run_id=log.run_id,
                attempt=attempt,
                attempt_key=log.key,
                inserted_at=log.inserted_at,
                updated_at=log.inserted_at,
            )
        )
    records = LogRecord.objects.bulk_create(records_to_create)

    # Steps first (the chunks name them), then every chunk of every log.
    steps: list[LogStep] = []
    pending_chunks: list[tuple[LogRecord, int, LogStep, list[dict[str, Any]]]] = []
    for record, (_, lines) in zip(records, new, strict=True):
        by_identity: dict[tuple[str, str, str, int], LogStep] = {}
        for seq, start in enumerate(range(0, len(lines), POSTED_LOG_BATCH_LINES), start=1):
            per_step: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
            for tail, entry in log_entries(lines[start : start + POSTED_LOG_BATCH_LINES]):
                identity = (tail.parent_stage, tail.type, tail.step, tail.run_index)
                step = by_identity.get(identity)
                if step is None:
                    step = by_identity[identity] = LogStep(
                        record=record,
                        parent_stage=tail.parent_stage,
                        kind=tail.type,
                        name=tail.step,
                        run_index=tail.run_index,
                        depth=tail.depth,
                        position=len(by_identity),
                        auto_injected=bool(tail.auto_injected),
                    )
                    steps.append(step)
                _apply_state(step, tail, entry)
                per_step.setdefault(identity, []).append(entry)
            pending_chunks.extend(
                (record, seq, by_identity[identity], entries) for identity, entries in per_step.items()
            )
    LogStep.objects.bulk_create(steps)
    LogChunk.objects.bulk_create(
        [
            LogChunk(
                record=record,
                step=step,
                seq=seq,
                entries=entries,
                line_count=sum(1 for entry in entries if "logLine" in entry),
                inserted_at=record.inserted_at,
            )
            for record, seq, step, entries in pending_chunks
        ],
        batch_size=500,
    )
    return len(records)


def _apply_state(step: LogStep, tail: TailLogLine, entry: dict[str, Any]) -> None:
    if tail.status is not None:
        step.status = tail.status
    if tail.exit_code is not None:
        step.exit_code = tail.exit_code
    if tail.duration is not None:
        step.duration_ns = tail.duration
    if entry.get("image") is not None:
        step.image = entry["image"]
    if tail.auto_injected:
        step.auto_injected = True
