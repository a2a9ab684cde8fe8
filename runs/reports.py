"""What the builder reports, applied to the run: status events, heartbeats and log batches (ESTAFETTE.md §3.4).

The builder endpoints (``runs/api.py``) call these after checking the job token and parsing the
``builder.contracts`` types. Every function is idempotent: the builder retries until it sees a 2xx.

Each builder process reports with its own ``attempt``; the first report of an attempt opens a log record of the run
(attempt 1, 2, … — a Kubernetes Job re-running a lost pod starts a second builder), later ones find it again.

A job token ends with its run: once the run has finished (succeeded, failed or canceled — by its builder, a cancel or
the sweeper) every report, of any attempt, is refused with 409 (``RunEnded``) and changes nothing: no status, no
heartbeat, no new log record, no line. A builder treats the 409 as final (``builder/reporting.py``), which also ends
the retries of a final status whose first answer was lost. A run being canceled (``canceling``) still takes reports.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, connection
from django.utils import timezone

from builder.contracts import BuildLogStep, EndReport, LogBatch, StatusEvent, TailLogLine
from builder.wire import Invalid
from estafette.lib import metrics
from estafette.lib.db import atomic_with_retry, retry_on_serialization_failure
from estafette.lib.errors import BadRequest, Conflict, Unavailable
from runs.logs import LogEntry, log_entries
from runs.masking import run_masker
from runs.models import LogRecord, Run, RunStatus
from runs.registry import RunKind
from runs.services import log_append_entries

logger = logging.getLogger(__name__)

OPEN_ATTEMPTS = 5
# A final status writes the pipeline's read model, which every start and finish of the pipeline's runs reads and
# writes: on PostgreSQL and CockroachDB a busy pipeline's finishes lose serialization conflicts to each other often.
# Each attempt is a few statements (the log batch is stored before, in its own transaction); running out of them
# answers 500 and the builder sends its whole report again. 12: the back-offs (estafette.lib.db) add up to ~3 s,
# under 5 s at worst: within the builder's 10 s request timeout (builder/reporting.py).
FINAL_ATTEMPTS = 12


class RunEnded(Conflict):
    """A report for a run that has finished (409): its job token reports nothing any more."""


def _ended(kind: RunKind, run: Run) -> RunEnded:
    return RunEnded(
        f"{kind.name} {run.pk} has ended ({run.status}): its job takes no more reports; stop reporting this run"
    )


REPORTABLE = frozenset({RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED})


def run_report_status(*, kind: RunKind, run: Run, event: StatusEvent, now: datetime | None = None) -> str:
    """Apply one ``updateStatus`` or ``heartbeat`` event of the builder; returns the run's status afterwards.

    ``running`` starts a pending run and opens the attempt's log record. A final status finishes a running run; on a
    run being canceled (``canceling``) any final report ends it ``canceled`` (the cancel wins, and the run must not
    hang in ``canceling``); ``canceled`` on a running run (its job was stopped from outside) cancels it. Transitions
    the state machine refuses change nothing, as in Estafette. Raises ``BadRequest`` when the event names another run
    or reports a status a builder never reports (``pending``, ``canceling``).
    """
    now = now or timezone.now()
    if event.job_type != kind.name or event.id != str(run.pk):
        raise BadRequest(
            f"the event is for {event.job_type} {event.id} but was sent to the URL of {kind.name} {run.pk}; "
            "post each run's events to its own statusUrl"
        )
    status = event.status or ""
    if event.event_type != "heartbeat" and status not in REPORTABLE:
        raise BadRequest(f"status: a builder reports running, succeeded, failed or canceled, not {status!r}")
    if run.is_final:
        raise _ended(kind, run)
    if event.event_type == "heartbeat":
        if not _record_heartbeat(run=run, now=now):
            run.refresh_from_db(fields=["status"])
            raise _ended(kind, run)
        return run.status
    if status == RunStatus.RUNNING:
        _report_running(kind=kind, run=run, attempt_key=event.attempt, now=now)
    else:
        _report_final(kind=kind, run=run, event=event, now=now)
    return run.status


@atomic_with_retry(attempts=FINAL_ATTEMPTS)
def _report_final(*, kind: RunKind, run: Run, event: StatusEvent, now: datetime) -> None:
    # The usage and the transition in one transaction: on SQLite each transaction queues for the write lock.
    run.record_usage(cpu_max_usage=event.cpu_max_usage, memory_max_usage=event.memory_max_usage)
    _apply_final(kind=kind, run=run, status=event.status or "", now=now)


def _apply_final(*, kind: RunKind, run: Run, status: str, now: datetime) -> None:
    """Within the caller's transaction: the transition a final status asks for (see ``run_report_status``)."""
    if run.status == RunStatus.CANCELING or (status == RunStatus.CANCELED and run.status == RunStatus.RUNNING):
        _cancel_until_canceled(kind=kind, run=run, now=now)
    elif not kind.finish(run, status, now):
        if run.is_final:  # it ended between loading and this report (the sweeper, a cancel)
            raise _ended(kind, run)
        logger.info("%s %s reported %s while %s: ignored", kind.name, run.pk, status, run.status)


def run_report_end(*, kind: RunKind, run: Run, report: EndReport, now: datetime | None = None) -> tuple[str, bool]:
    """Apply the builder's end of the run: its last log batch (if any), then its final status; the run's status
    afterwards and whether the batch was stored (False: none, or that seq was stored before).

    The same rules and the same two transactions as ``run_append_log_batch`` followed by ``run_report_status``, in
    one request: ``RunEnded`` once the run is final (nothing is stored then: a builder retrying an end whose answer
    was lost gets 409 and stops), ``BadRequest`` for an event naming another run (checked before anything is
    stored). The batch is committed before the status is applied, in its own transaction: the final status's
    transaction writes what every run of the pipeline reads and writes (the read model), and on PostgreSQL it loses
    serialization conflicts to its neighbours often; retried alone it is a few statements, where retried with the
    batch it re-inserted every line (issue 17: ten attempts per end were most of the web process's CPU). A batch
    stored before a refused or failed status is what the builder would have stored with ``…/logs`` then
    ``…/status``; its retried end finds the batch stored and applies the status.
    """
    now = now or timezone.now()
    event = report.status
    if event.job_type != kind.name or event.id != str(run.pk):
        raise BadRequest(
            f"the event is for {event.job_type} {event.id} but was sent to the URL of {kind.name} {run.pk}; "
            "post each run's end to its own endUrl"
        )
    if run.is_final:
        raise _ended(kind, run)
    usage = (event.cpu_max_usage, event.memory_max_usage)
    batch = report.batch
    if batch is None:
        _end(kind=kind, run=run, event=event, now=now)
        return run.status, False
    entries = log_entries(batch.lines, run_masker(run))  # before the transaction: it holds the run's row
    # The usage rides on the UPDATE that holds the run's row (and refuses a final one) while the batch is stored.
    stored = _append_unless_ended(
        kind=kind, run=run, attempt_key=batch.attempt, seq=batch.seq, entries=entries, now=now, usage=usage
    )
    if stored:
        _count_batch(kind.name, batch)
    _apply_final_alone(kind=kind, run=run, status=event.status or "", now=now)
    return run.status, stored


@atomic_with_retry(attempts=FINAL_ATTEMPTS)
def _end(*, kind: RunKind, run: Run, event: StatusEvent, now: datetime) -> None:
    # The usage rides on the UPDATE that holds the run's row (and refuses a final one) for this transaction.
    _hold_unfinished(kind=kind, run=run, now=now, usage=(event.cpu_max_usage, event.memory_max_usage))
    _apply_final(kind=kind, run=run, status=event.status or "", now=now)


@atomic_with_retry(attempts=FINAL_ATTEMPTS)
def _apply_final_alone(*, kind: RunKind, run: Run, status: str, now: datetime) -> None:
    # The transition refuses a run that ended since the batch was stored (and shows its status: RunEnded).
    _apply_final(kind=kind, run=run, status=status, now=now)


def _cancel_until_canceled(*, kind: RunKind, run: Run, now: datetime) -> None:
    # running → canceling → canceled: the API's own cancel (which also stops the job, harmless when it has stopped).
    for _ in range(2):
        try:
            kind.cancel(run, now)
        except Conflict:
            return  # finished meanwhile
        if run.status == RunStatus.CANCELED:
            return


@retry_on_serialization_failure
def _record_heartbeat(*, run: Run, now: datetime) -> bool:
    return run.record_heartbeat(now=now)


def _hold_unfinished(
    *, kind: RunKind, run: Run, now: datetime, usage: tuple[float | None, float | None] = (None, None)
) -> None:
    """Within the caller's transaction: note the builder's sign of life, or raise ``RunEnded`` when the run is final.

    The heartbeat is a conditional UPDATE of the run's row (``WHERE status IN`` the unfinished ones), so it also
    keeps the row locked until the caller commits: a finish racing the report (the sweeper, a cancel) either waits
    for it or has committed first, and then the report is refused and the caller's writes are rolled back.
    """
    if not run.record_heartbeat(now=now, cpu_max_usage=usage[0], memory_max_usage=usage[1]):
        run.refresh_from_db(fields=["status"])
        raise _ended(kind, run)


def _report_running(*, kind: RunKind, run: Run, attempt_key: str | None, now: datetime) -> None:
    # Two transactions, as for an end (run_report_end): the attempt's log record is opened at READ COMMITTED on
    # PostgreSQL (see _read_committed_on_postgresql), the start writes what the pipeline's other runs read and write
    # (the read model) and is retried alone when it loses a serialization conflict. The start's transition refuses a
    # run that ended meanwhile.
    _open_attempt(kind=kind, run=run, attempt_key=attempt_key, now=now)
    kind.start(run, now)  # each kind's start is its own retried transaction


@atomic_with_retry
def _open_attempt(*, kind: RunKind, run: Run, attempt_key: str | None, now: datetime) -> None:
    _read_committed_on_postgresql()
    _hold_unfinished(kind=kind, run=run, now=now)
    log_record_for_attempt(kind=kind, run=run, attempt_key=attempt_key, now=now)


def run_append_log_batch(*, kind: RunKind, run: Run, batch: LogBatch, now: datetime | None = None) -> bool:
    """Store one log batch of the builder in its attempt's log record, masked; False when that seq was stored before.

    ``batch`` was checked as it was parsed; the log store keeps its lines as they are apart from masking and cutting
    overlong lines. Raises ``RunEnded`` once the run has finished (nothing is stored then).
    """
    now = now or timezone.now()
    if run.is_final:
        raise _ended(kind, run)
    entries = log_entries(batch.lines, run_masker(run))  # before the transaction: it holds the run's row
    stored = _append_unless_ended(
        kind=kind, run=run, attempt_key=batch.attempt, seq=batch.seq, entries=entries, now=now
    )
    if stored:  # a retried batch is counted once
        _count_batch(kind.name, batch)
    return stored


FINAL_STEP_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})


def _count_batch(kind: str, batch: LogBatch) -> None:
    lines = 0
    size = 0
    for tail in batch.lines:
        if tail.log_line is not None:
            lines += 1
            size += len(tail.log_line.text.encode())
        if tail.status in FINAL_STEP_STATUSES and tail.type == "stage":
            if tail.duration is not None:
                metrics.stage_duration.labels(kind, tail.status).observe(tail.duration / 1e9)
            if tail.cpu_seconds is not None:
                metrics.stage_cpu.labels(kind).observe(tail.cpu_seconds)
            if tail.memory_max_bytes is not None:
                metrics.stage_memory.labels(kind).observe(tail.memory_max_bytes)
    if lines:
        metrics.log_lines.labels(kind).inc(lines)
        metrics.log_bytes.labels(kind).inc(size)


@atomic_with_retry
def _append_unless_ended(
    *,
    kind: RunKind,
    run: Run,
    attempt_key: str | None,
    seq: int,
    entries: list[LogEntry],
    now: datetime,
    usage: tuple[float | None, float | None] = (None, None),
) -> bool:
    _read_committed_on_postgresql()
    _hold_unfinished(kind=kind, run=run, now=now, usage=usage)
    record = log_record_for_attempt(kind=kind, run=run, attempt_key=attempt_key, now=now)
    return log_append_entries(record=record, seq=seq, entries=entries, now=now)


def _read_committed_on_postgresql() -> None:
    """Run the log append's transaction (just opened) at READ COMMITTED on PostgreSQL.

    PostgreSQL's SERIALIZABLE tracks what a transaction read by index page, not by key: every append reads the
    record's steps and whether its seq was stored, and inserts into the same last pages of those indexes as every
    other run's append, so two appends of different runs at the same moment form a cycle and one is aborted (issue
    17 measured ~10 attempts per builder report on PostgreSQL, most of the web process's CPU). The append needs none
    of what SERIALIZABLE adds: it writes only its own record's rows, a re-sent or racing batch is refused by the
    unique (record, seq, step) key (``runs.services.log_append_entries``), and the conditional UPDATE of the run's
    row (``_hold_unfinished``) re-reads the latest committed status and holds the row until commit at any level, so
    a finish racing the append is still either refused by it or refuses it.

    CockroachDB keeps SERIALIZABLE (it tracks reads by key: no such false conflicts); SQLite has one writer at a
    time. Only in a transaction of its own (the first statement of the outermost block): inside a caller's
    transaction the level is the caller's.
    """
    if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
        with connection.cursor() as cursor:
            # Standard SQL, sent only to PostgreSQL; nothing the user sends reaches it.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")


def log_record_for_attempt(
    *, kind: RunKind, run: Run, attempt_key: str | None, now: datetime | None = None
) -> LogRecord:
    """The log record the builder process ``attempt_key`` writes; opened on its first report.

    A new attempt claims the run's latest record when no builder has claimed it yet (one opened before the job
    started), else it opens the next one. Reports without an attempt (older builders) go to the latest record.
    Safe under concurrent first reports of the same attempt (the unique key decides; the loser reads the winner's).
    """
    records = LogRecord.objects.filter(run_kind=kind.name, run_id=run.pk)
    for _ in range(OPEN_ATTEMPTS):
        if attempt_key is None:
            found = records.order_by("-attempt").first()
        else:
            # At most one (a unique key): no ORDER BY for first() to compile and the database to sort by.
            found = next(iter(records.filter(attempt_key=attempt_key)[:1]), None)
        if found is not None:
            return found
        try:
            return _open_record(kind=kind, run=run, attempt_key=attempt_key, now=now or timezone.now())
        except IntegrityError:
            continue  # a concurrent report opened this attempt's record, or took the next attempt number
    raise Unavailable(f"could not open a log record for {kind.name} {run.pk} among concurrent reports; retry")


@atomic_with_retry
def _open_record(*, kind: RunKind, run: Run, attempt_key: str | None, now: datetime) -> LogRecord:
    records = LogRecord.objects.filter(run_kind=kind.name, run_id=run.pk)
    latest = records.order_by("-attempt").first()
    unclaimed = attempt_key is not None and latest is not None and latest.attempt_key is None
    if unclaimed and records.filter(pk=latest.pk, attempt_key__isnull=True).update(attempt_key=attempt_key):
        latest.attempt_key = attempt_key
        return latest
    last = latest.attempt if latest is not None else 0  # the latest record has the highest attempt
    return LogRecord.objects.create(
        pipeline_id=run.pipeline_id,  # type: ignore[attr-defined]
        run_kind=kind.name,
        run_id=run.pk,
        attempt=last + 1,
        attempt_key=attempt_key,
        inserted_at=now,
        updated_at=now,
    )


# A log posted whole (Estafette's ``POST …/logs``) is kept as its own attempt, stored in batches of this many lines.
POSTED_LOG_ATTEMPT = "posted-log"
POSTED_LOG_BATCH_LINES = 5_000


def posted_log_lines(steps: list[BuildLogStep]) -> list[TailLogLine]:
    """A whole log (Estafette's BuildLog ``steps``) as the tail lines the log store takes: each step's lines, then
    its state (status, exit code, duration, image); parallel stages and services under their stage."""
    lines: list[TailLogLine] = []

    def add(step: BuildLogStep, *, parent: str = "", kind: str = "stage") -> None:
        identity = {
            "step": step.step,
            "parent_stage": parent,
            "type": kind,
            "depth": step.depth,
            "run_index": step.run_index,
        }
        lines.extend(TailLogLine(**identity, log_line=line) for line in step.log_lines)
        lines.append(
            TailLogLine(
                **identity,
                status=step.status,
                exit_code=step.exit_code,
                duration=step.duration,
                image=step.image,
                auto_injected=step.auto_injected,
            )
        )
        for nested in step.nested_steps:
            add(nested, parent=step.step)
        for service in step.services:
            add(service, parent=step.step, kind="service")

    for step in steps:
        add(step)
    return lines


def run_store_posted_log(*, kind: RunKind, run: Run, steps: list[BuildLogStep], now: datetime | None = None) -> bool:
    """Store a log posted whole by a builder (Estafette's builders post their log once, at the end) as the run's
    ``posted-log`` attempt. Idempotent: the same log posted again stores nothing more (False). Raises ``RunEnded``
    once the run is final, as for every report of a job token."""
    lines = posted_log_lines(steps)
    for line in lines:
        try:
            # The log store's limits (a step's name, depth…) are the tail line's checks, which from_dict runs for a
            # builder's batches; these lines were made here, so they are checked here.
            line._check()
        except Invalid as error:
            field = ".".join(error.path)
            raise BadRequest(f"steps: step {line.step!r}: {field}: {error.message}") from None
    stored = False
    for seq, start in enumerate(range(0, max(len(lines), 1), POSTED_LOG_BATCH_LINES), start=1):
        batch = LogBatch(
            seq=seq, lines=tuple(lines[start : start + POSTED_LOG_BATCH_LINES]), attempt=POSTED_LOG_ATTEMPT
        )
        stored = run_append_log_batch(kind=kind, run=run, batch=batch, now=now) or stored
    return stored
