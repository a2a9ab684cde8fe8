"""Build workflows: create, rebuild, start, finish, cancel; and the log store (record, append).

Each service is one transaction, retried on serialization failures (SQLSTATE 40001), and keeps the
pipeline's read model current inside that same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError
from django.db.models import F, Max
from django.utils import timezone

from builds.events import publish_build_created, publish_pipeline_event
from builds.job_control import job_stop_on_commit
from builds.logs import normalise_batch
from builds.manifests import ManifestPreferences, ParsedManifest, parse_manifest
from builds.models import Build
from estafette.lib.crypt import restricted_secrets
from estafette.lib.db import atomic_with_retry
from estafette.lib.errors import BadRequest, Conflict, NotFound
from pipelines.models import Pipeline
from pipelines.services import pipeline_refresh_build_status, pipeline_refresh_read_model
from runs.models import LogChunk, LogRecord, LogStep, RunStatus

VALIDATE_MANIFEST_STEP = "validate-manifest"
VALIDATE_SECRETS_STEP = "validate-secrets"
REBUILDABLE = frozenset({RunStatus.FAILED, RunStatus.CANCELED})


def manual_event(user_email: str) -> dict[str, Any]:
    """The EstafetteEvent recorded on a run a person started from the UI or API."""
    return {"fired": True, "manual": {"userID": user_email}}


# -- builds -----------------------------------------------------------------------------------


def build_create(
    *,
    pipeline: Pipeline,
    repo_branch: str,
    repo_revision: str,
    manifest_text: str | bytes,
    commits: Sequence[Mapping[str, Any]] = (),
    triggered_by_events: Sequence[Mapping[str, Any]] = (),
    build_version: str | None = None,
    preferences: ManifestPreferences | None = None,
    now: datetime | None = None,
) -> Build:
    """Record a new build of ``repo_revision`` on ``repo_branch``, status ``pending``.

    Without ``build_version`` the pipeline's next counter is taken (consecutive under any number of
    concurrent callers; a failed build still consumes its number) and the version computed from the
    manifest; with it (a trigger re-running a version) no counter is taken. An invalid manifest gives
    a ``failed`` build whose log has one step, ``validate-manifest``, with the errors; its labels,
    release targets and triggers are copied from the previous build. Starting a job is the caller's part.
    ``manifest_text`` may be the file's bytes (a push): they are decoded by the manifest library, strictly.
    Raises ``BadRequest`` for an empty or over-long branch or revision.
    """
    for name, value in (("repo_branch", repo_branch), ("repo_revision", repo_revision)):
        if not value or len(value) > 256:
            raise BadRequest(f"{name} must be 1 to 256 characters, got {len(value or '')}")
    parsed = parse_manifest(manifest_text, pipeline_full_name=pipeline.full_name, preferences=preferences)
    return _build_insert(
        pipeline=pipeline,
        repo_branch=repo_branch,
        repo_revision=repo_revision,
        manifest_text=parsed.text,
        parsed=parsed,
        commits=list(commits),
        triggered_by_events=list(triggered_by_events),
        build_version=build_version,
        now=now,
    )


# Every build of a pipeline increments the same counter row: under a burst of pushes the losers
# of each round retry, so this transaction gets more attempts than the default.
COUNTER_ATTEMPTS = 60


@atomic_with_retry(attempts=COUNTER_ATTEMPTS)
def _build_insert(
    *,
    pipeline: Pipeline,
    repo_branch: str,
    repo_revision: str,
    manifest_text: str,
    parsed: ParsedManifest,
    commits: list[Any],
    triggered_by_events: list[Any],
    build_version: str | None,
    now: datetime | None,
    counter: int | None = None,
) -> Build:
    # Taken inside the (retried) transaction so creation times follow the order counters are taken.
    now = now or timezone.now()
    if build_version is None:
        counter = _next_counter(pipeline)
        build_version = parsed.version(counter=counter, branch=repo_branch, revision=repo_revision)
    elif counter is None:
        counter = parsed.counter_of(build_version)
    labels, release_targets, triggers = parsed.labels, parsed.release_targets, parsed.triggers
    # Secrets restricted to other pipelines fail the build up front, before a job could try them.
    refused = restricted_secrets(manifest_text, pipeline=pipeline.full_name) if parsed.valid else []
    if not parsed.valid:
        previous = Pipeline.objects.filter(pk=pipeline.pk).values_list("latest_build", flat=True).first()
        previous_build = Build.objects.filter(pk=previous).first() if previous else None
        if previous_build is not None:
            labels, release_targets, triggers = (
                previous_build.labels,
                previous_build.release_targets,
                previous_build.triggers,
            )
    build = Build.objects.create(
        pipeline=pipeline,
        repo_branch=repo_branch,
        repo_revision=repo_revision,
        build_version=build_version,
        counter=counter,
        status=RunStatus.PENDING if parsed.valid and not refused else RunStatus.FAILED,
        labels=labels,
        release_targets=release_targets,
        triggers=triggers,
        commits=commits,
        triggered_by_events=triggered_by_events,
        manifest=manifest_text,
        manifest_with_defaults=parsed.with_defaults,
        manifest_valid=parsed.valid,
        inserted_at=now,
        updated_at=now,
    )
    if not parsed.valid:
        _record_manifest_errors(pipeline=pipeline, run_kind=Build.kind, run_id=build.pk, errors=parsed.errors, now=now)
    elif refused:
        errors = [
            "The manifest uses secrets restricted to other pipelines; please recreate the following secrets "
            f"for {pipeline.full_name} (POST /api/manifest/encrypt):",
            *refused,
        ]
        _record_manifest_errors(
            pipeline=pipeline,
            run_kind=Build.kind,
            run_id=build.pk,
            errors=errors,
            now=now,
            step=VALIDATE_SECRETS_STEP,
        )
    else:
        publish_build_created(build)
    pipeline_refresh_read_model(pipeline=pipeline, now=now)
    return build


def _next_counter(pipeline: Pipeline) -> int:
    """Take the pipeline's next counter: an increment in place, then a re-read in the same transaction.

    Two transactions incrementing the same row conflict (a lock wait on SQLite, SQLSTATE 40001 on
    PostgreSQL/CockroachDB at SERIALIZABLE); the retried loser reads the winner's value, so the
    numbers stay distinct and consecutive without advisory locks.
    """
    Pipeline.objects.filter(pk=pipeline.pk).update(build_counter=F("build_counter") + 1)
    counter = Pipeline.objects.filter(pk=pipeline.pk).values_list("build_counter", flat=True).get()
    pipeline.build_counter = counter
    return int(counter)


def _record_manifest_errors(
    *,
    pipeline: Pipeline,
    run_kind: str,
    run_id: int,
    errors: Sequence[str],
    now: datetime,
    step: str = VALIDATE_MANIFEST_STEP,
) -> None:
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


@atomic_with_retry
def build_rebuild(
    *,
    pipeline: Pipeline,
    build_version: str,
    triggered_by_events: Sequence[Mapping[str, Any]] = (),
    now: datetime | None = None,
) -> Build:
    """Run a version again as a new build with the same branch, revision, manifest and version.

    Only a version whose builds all failed or were canceled can be rebuilt. Raises ``NotFound`` for
    an unknown version and ``Conflict`` when one of its builds is pending, running, canceling or
    succeeded, or the pipeline is archived.
    """
    now = now or timezone.now()
    pipeline.refresh_from_db(fields=["archived"])
    if pipeline.archived:
        raise Conflict(f"{pipeline.full_name} is archived; unarchive it before rebuilding")
    builds = list(Build.objects.filter(pipeline=pipeline, build_version=build_version).order_by("-inserted_at", "-id"))
    if not builds:
        raise NotFound(f"{pipeline.full_name} has no build with version {build_version}")
    blocking = next((build for build in builds if build.status not in REBUILDABLE), None)
    if blocking is not None:
        raise Conflict(
            f"version {build_version} has a {blocking.status} build ({blocking.pk}); "
            "only a version whose builds all failed or were canceled can be rebuilt"
        )
    source = builds[0]
    parsed = parse_manifest(source.manifest, pipeline_full_name=pipeline.full_name)
    return _build_insert(
        pipeline=pipeline,
        repo_branch=source.repo_branch,
        repo_revision=source.repo_revision,
        manifest_text=source.manifest,
        parsed=parsed,
        commits=source.commits,
        triggered_by_events=list(triggered_by_events),
        build_version=build_version,
        counter=source.counter,
        now=now,
    )


@atomic_with_retry
def build_start(*, build: Build, now: datetime | None = None) -> bool:
    """pending → running (the builder began). False, changing nothing, from any other status."""
    changed = build.start(now=now)
    if changed:
        pipeline_refresh_build_status(pipeline=build.pipeline, build=build)
        publish_pipeline_event(build, event="started")
    return changed


@atomic_with_retry
def build_finish(*, build: Build, status: str, now: datetime | None = None) -> bool:
    """running → succeeded/failed, or pending/canceling → canceled. False when the guard refuses."""
    changed = build.finish(status=status, now=now)
    if changed:
        pipeline_refresh_build_status(pipeline=build.pipeline, build=build)
        publish_pipeline_event(build, event="finished")
    return changed


@atomic_with_retry
def build_cancel(*, build: Build, now: datetime | None = None) -> Build:
    """Cancel a build (ESTAFETTE.md §3.5): pending → canceled, running → canceling.

    A build already ``canceling`` is forced to ``canceled`` (its job is gone or stuck). Its job is
    stopped (or removed) after commit through the queue (``builds/job_control.py``). Raises
    ``Conflict`` for a build that has finished.
    """
    if not (build.cancel(now=now) or build.request_cancel(now=now)):
        raise Conflict(f"build {build.pk} is {build.status}; only pending or running builds can be canceled")
    job_stop_on_commit(kind="build", run=build)
    pipeline_refresh_read_model(pipeline=build.pipeline, now=now)
    return build


# -- logs -------------------------------------------------------------------------------------


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
    """``log_append`` of a batch already checked by ``builds.logs.normalise_batch``.

    Its own transaction, or part of the caller's (``builds.reports`` stores a builder's batch in the transaction
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
