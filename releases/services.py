"""Release and bot-run workflows. Each is one retried transaction that keeps the read model current."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone

from builds import selectors as build_selectors
from builds.models import Build
from estafette.lib.db import atomic_with_retry
from estafette.lib.errors import BadRequest, Conflict, NotFound
from pipelines.models import Pipeline
from pipelines.services import pipeline_refresh_read_model
from releases.events import publish_release_event
from releases.models import BotRun, Release
from runs.events import publish_run_created
from runs.job_control import job_stop_on_commit
from runs.manifests import parse_manifest
from runs.models import RunStatus

# -- releases ---------------------------------------------------------------------------------


@atomic_with_retry
def release_create(
    *,
    pipeline: Pipeline,
    name: str,
    release_version: str,
    action: str = "",
    triggered_by_events: Sequence[Mapping[str, Any]] = (),
    now: datetime | None = None,
) -> Release:
    """Record a pending release of ``release_version`` to target ``name`` (and ``action``).

    The version must have a succeeded build, and that build's manifest must define the target; a
    target with actions needs one of them, a target without actions takes none (ESTAFETTE.md §1.8).
    Raises ``NotFound`` (no build with that version), ``Conflict`` (no succeeded build of it, or the
    pipeline is archived) or ``BadRequest`` (unknown target or action). Starting a job is the caller's part.
    """
    now = now or timezone.now()
    pipeline.refresh_from_db(fields=["archived"])
    if pipeline.archived:
        raise Conflict(f"{pipeline.full_name} is archived; unarchive it before releasing")
    build = _succeeded_build(pipeline, release_version)
    _check_target_and_action(build, name=name, action=action)
    release = Release.objects.create(
        pipeline=pipeline,
        build=build,
        name=name,
        action=action,
        release_version=release_version,
        triggered_by_events=list(triggered_by_events),
        inserted_at=now,
        updated_at=now,
    )
    pipeline_refresh_read_model(pipeline=pipeline, now=now)
    publish_run_created(release)
    return release


def _succeeded_build(pipeline: Pipeline, release_version: str) -> Build:
    builds = build_selectors.builds_of_version(pipeline_id=pipeline.pk, build_version=release_version)
    if not builds:
        raise NotFound(f"{pipeline.full_name} has no build with version {release_version}")
    succeeded = next((build for build in builds if build.status == RunStatus.SUCCEEDED), None)
    if succeeded is None:
        raise Conflict(
            f"version {release_version} has no succeeded build (latest is {builds[0].status}); "
            "release a version whose build succeeded"
        )
    return succeeded


def _check_target_and_action(build: Build, *, name: str, action: str) -> None:
    targets = {target["name"]: target for target in build.release_targets}
    target = targets.get(name)
    if target is None:
        known = ", ".join(targets) or "none"
        raise BadRequest(f"{name!r} is not a release target of version {build.build_version} (targets: {known})")
    actions = [candidate["name"] for candidate in target.get("actions") or []]
    if actions and action not in actions:
        raise BadRequest(f"release target {name!r} needs one of the actions {', '.join(actions)}, got {action!r}")
    if not actions and action:
        raise BadRequest(f"release target {name!r} has no actions, got {action!r}")


@atomic_with_retry
def release_start(*, release: Release, now: datetime | None = None) -> bool:
    """pending → running. False, changing nothing, from any other status."""
    changed = release.start(now=now)
    if changed:
        pipeline_refresh_read_model(pipeline=release.pipeline, now=now)
        publish_release_event(release, event="started")
    return changed


@atomic_with_retry
def release_finish(*, release: Release, status: str, now: datetime | None = None) -> bool:
    """running → succeeded/failed, or pending/canceling → canceled. False when the guard refuses."""
    changed = release.finish(status=status, now=now)
    if changed:
        pipeline_refresh_read_model(pipeline=release.pipeline, now=now)
        publish_release_event(release, event="finished")
    return changed


@atomic_with_retry
def release_cancel(*, release: Release, now: datetime | None = None) -> Release:
    """pending → canceled, running → canceling, canceling → canceled; ``Conflict`` once finished."""
    if not (release.cancel(now=now) or release.request_cancel(now=now)):
        raise Conflict(f"release {release.pk} is {release.status}; only pending or running releases can be canceled")
    job_stop_on_commit(run=release)
    pipeline_refresh_read_model(pipeline=release.pipeline, now=now)
    return release


# -- bot runs ---------------------------------------------------------------------------------


@atomic_with_retry
def bot_create(
    *,
    pipeline: Pipeline,
    name: str,
    triggered_by_events: Sequence[Mapping[str, Any]] = (),
    now: datetime | None = None,
) -> BotRun:
    """Record a pending run of bot ``name`` from the manifest of the pipeline's latest valid build.

    Raises ``NotFound`` when the pipeline has no valid build yet and ``BadRequest`` when its manifest
    has no such bot.
    """
    now = now or timezone.now()
    build = build_selectors.build_latest_with_valid_manifest(pipeline_id=pipeline.pk)
    if build is None:
        raise NotFound(f"{pipeline.full_name} has no build with a valid manifest to take bot {name!r} from")
    bots = parse_manifest(build.manifest, pipeline_full_name=pipeline.full_name).bots
    if name not in bots:
        raise BadRequest(f"{name!r} is not a bot of {pipeline.full_name} (bots: {', '.join(bots) or 'none'})")
    run = BotRun.objects.create(
        pipeline=pipeline,
        build=build,
        name=name,
        triggered_by_events=list(triggered_by_events),
        inserted_at=now,
        updated_at=now,
    )
    publish_run_created(run)
    return run


@atomic_with_retry
def bot_start(*, bot_run: BotRun, now: datetime | None = None) -> bool:
    """pending → running. False, changing nothing, from any other status."""
    return bot_run.start(now=now)


@atomic_with_retry
def bot_finish(*, bot_run: BotRun, status: str, now: datetime | None = None) -> bool:
    """running → succeeded/failed, or pending/canceling → canceled. False when the guard refuses."""
    return bot_run.finish(status=status, now=now)


@atomic_with_retry
def bot_cancel(*, bot_run: BotRun, now: datetime | None = None) -> BotRun:
    """pending → canceled, running → canceling, canceling → canceled; ``Conflict`` once finished."""
    if not (bot_run.cancel(now=now) or bot_run.request_cancel(now=now)):
        raise Conflict(f"bot run {bot_run.pk} is {bot_run.status}; only pending or running bot runs can be canceled")
    job_stop_on_commit(run=bot_run)
    return bot_run
