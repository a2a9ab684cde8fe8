"""Build workflows: create, rebuild, start, finish, cancel.

Each service is one transaction, retried on serialization failures (SQLSTATE 40001), and keeps the
pipeline's read model current inside that same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db.models import F
from django.utils import timezone

from builds.events import publish_pipeline_event
from builds.models import Build
from builds.read_model import pipeline_refresh_build_created, pipeline_refresh_build_status
from builds.selectors import build_latest_with_valid_manifest
from estafette.lib.crypt import restricted_secrets
from estafette.lib.db import atomic_with_retry
from estafette.lib.errors import BadRequest, Conflict, NotFound
from pipelines.models import Pipeline
from pipelines.selectors import pipeline_read_model_values
from runs.events import publish_run_created
from runs.job_control import job_stop_on_commit
from runs.manifests import ManifestPreferences, ParsedManifest, parse_manifest
from runs.models import RunStatus
from runs.services import log_record_errors

VALIDATE_MANIFEST_STEP = "validate-manifest"
VALIDATE_SECRETS_STEP = "validate-secrets"
REBUILDABLE = frozenset({RunStatus.FAILED, RunStatus.CANCELED})


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


# No savepoint inside a caller's transaction (a push's, a trigger's): it raises no error a caller catches to carry on
# (``build_create`` checks its input before).
@atomic_with_retry(attempts=COUNTER_ATTEMPTS, savepoint=False)
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
    read_model: dict[str, Any] | None = None
    if build_version is None:
        counter, read_model = _next_counter(pipeline)
        build_version = _versioning(pipeline, parsed).version(
            counter=counter, branch=repo_branch, revision=repo_revision
        )
    elif counter is None:
        counter = parsed.counter_of(build_version)
    labels, release_targets, triggers = parsed.labels, parsed.release_targets, parsed.triggers
    # Secrets restricted to other pipelines fail the build up front, before a job could try them.
    refused = restricted_secrets(manifest_text, pipeline=pipeline.full_name) if parsed.valid else []
    if not parsed.valid:
        previous = (
            read_model["latest_build"]
            if read_model is not None
            else Pipeline.objects.filter(pk=pipeline.pk).values_list("latest_build", flat=True).first()
        )
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
        log_record_errors(
            pipeline=pipeline,
            run_kind=Build.kind,
            run_id=build.pk,
            errors=parsed.errors,
            now=now,
            step=VALIDATE_MANIFEST_STEP,
        )
    elif refused:
        errors = [
            "The manifest uses secrets restricted to other pipelines; please recreate the following secrets "
            f"for {pipeline.full_name} (POST /api/manifest/encrypt):",
            *refused,
        ]
        log_record_errors(
            pipeline=pipeline,
            run_kind=Build.kind,
            run_id=build.pk,
            errors=errors,
            now=now,
            step=VALIDATE_SECRETS_STEP,
        )
    else:
        publish_run_created(build)
    pipeline_refresh_build_created(build=build, now=now, before=read_model)
    return build


def _versioning(pipeline: Pipeline, parsed: ParsedManifest) -> ParsedManifest:
    """The manifest whose ``version`` section versions a new build: its own, or for an invalid one the pipeline's
    latest valid manifest's (ESTAFETTE.md §1.5: what Estafette intends, its inverted condition aside).

    An invalid manifest of a pipeline that never had a valid one gets the bare counter, as in Estafette. Versioning
    it by its counter alone in a pipeline of ``1.2.x`` versions would name it ``3`` among them.
    """
    if parsed.valid:
        return parsed
    previous = build_latest_with_valid_manifest(pipeline_id=pipeline.pk)
    if previous is None:
        return parsed
    earlier = parse_manifest(previous.manifest, pipeline_full_name=pipeline.full_name)
    return earlier if earlier.valid else parsed


def _next_counter(pipeline: Pipeline) -> tuple[int, dict[str, Any]]:
    """Take the pipeline's next counter: an increment in place, then a re-read in the same transaction, which also
    reads the read model as it stands (what the build's creation changes in it). Returns both.

    Two transactions incrementing the same row conflict (a lock wait on SQLite, SQLSTATE 40001 on
    PostgreSQL/CockroachDB at SERIALIZABLE); the retried loser reads the winner's value, so the
    numbers stay distinct and consecutive without advisory locks.
    """
    Pipeline.objects.filter(pk=pipeline.pk).update(build_counter=F("build_counter") + 1)
    read_model = pipeline_read_model_values(pipeline_id=pipeline.pk, with_counter=True)
    counter = read_model.pop("build_counter")
    pipeline.build_counter = counter
    return int(counter), read_model


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
    succeeded, the pipeline is archived, or the version was built from an invalid manifest.
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
    if not source.manifest_valid:
        # Its manifest would fail the same way again: a second failed build of the same version, nothing more.
        raise Conflict(
            f"version {build_version} was built from an invalid manifest and cannot be rebuilt; "
            "fix .estafette.yaml and push a new commit"
        )
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
        pipeline_refresh_build_status(build=build)
        publish_pipeline_event(build, event="started")
    return changed


@atomic_with_retry
def build_finish(*, build: Build, status: str, now: datetime | None = None) -> bool:
    """running → succeeded/failed, or pending/canceling → canceled. False when the guard refuses."""
    changed = build.finish(status=status, now=now)
    if changed:
        pipeline_refresh_build_status(build=build)
        publish_pipeline_event(build, event="finished")
    return changed


@atomic_with_retry
def build_cancel(*, build: Build, now: datetime | None = None) -> Build:
    """Cancel a build (ESTAFETTE.md §3.5): pending → canceled, running → canceling.

    A build already ``canceling`` is forced to ``canceled`` (its job is gone or stuck). Its job is
    stopped (or removed) after commit through the queue (``runs/job_control.py``). Raises
    ``Conflict`` for a build that has finished.
    """
    if not (build.cancel(now=now) or build.request_cancel(now=now)):
        raise Conflict(f"build {build.pk} is {build.status}; only pending or running builds can be canceled")
    job_stop_on_commit(run=build)
    pipeline_refresh_build_status(build=build)
    return build
