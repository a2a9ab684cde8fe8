"""Pipeline workflows: identity and the read model the list pages read."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from builds import selectors as build_selectors
from builds.models import Build
from estafette.lib.db import atomic_with_retry
from estafette.lib.errors import BadRequest
from pipelines.models import FacetKind, Pipeline, PipelineFacet
from pipelines.trigger_index import trigger_keys
from releases import selectors as release_selectors
from runs.models import RunStatus, nanoseconds

RECENT_WINDOW = timedelta(days=7)
RECENT_RUNS_SCANNED = 50  # builds/releases inspected for recent committers/releasers
MEDIAN_OVER_LAST = 10  # medians over the succeeded builds among the last N builds


def pipeline_get_or_create(*, repo_source: str, repo_owner: str, repo_name: str) -> Pipeline:
    """The pipeline of a repository, created on first sight.

    Safe under concurrency: when two callers create the same pipeline at once, the loser of the
    unique constraint reads the winner's row. Raises ``BadRequest`` for an empty or malformed identity.
    """
    for label, value in (("repo_source", repo_source), ("repo_owner", repo_owner), ("repo_name", repo_name)):
        if not value or not value.strip() or "/" in value or len(value) > 256:
            raise BadRequest(f"{label} must be a non-empty name without '/', got {value!r}")
    try:
        return _get_or_create(repo_source=repo_source, repo_owner=repo_owner, repo_name=repo_name)
    except IntegrityError:
        # A concurrent transaction created it first; ours saw a snapshot without it.
        return Pipeline.objects.get(repo_source=repo_source, repo_owner=repo_owner, repo_name=repo_name)


@atomic_with_retry
def _get_or_create(*, repo_source: str, repo_owner: str, repo_name: str) -> Pipeline:
    pipeline, _ = Pipeline.objects.get_or_create(repo_source=repo_source, repo_owner=repo_owner, repo_name=repo_name)
    return pipeline


@atomic_with_retry
def pipeline_set_repo_url(*, pipeline: Pipeline, repo_url: str) -> bool:
    """Remember where jobs of the pipeline clone from (credentials must already be removed). True if it changed."""
    changed = Pipeline.objects.filter(pk=pipeline.pk).exclude(repo_url=repo_url).update(repo_url=repo_url)
    pipeline.repo_url = repo_url
    return bool(changed)


@atomic_with_retry
def pipeline_archive(*, pipeline: Pipeline, archived: bool = True) -> bool:
    """Archive (or with ``archived=False`` unarchive) a pipeline: it leaves the default lists.

    Returns whether anything changed. Archived pipelines refuse rebuilds and releases.
    """
    changed = Pipeline.objects.filter(pk=pipeline.pk).exclude(archived=archived).update(archived=archived)
    pipeline.archived = archived
    return bool(changed)


@atomic_with_retry
def pipeline_refresh_read_model(*, pipeline: Pipeline, now: datetime | None = None) -> Pipeline:
    """Recompute the pipeline's read model from its builds and releases (Estafette's computed_pipelines).

    Call it in the same transaction as any change to a build or release of the pipeline. It reads the
    latest build, the last few builds and releases, and the active release of every release target
    and action; it writes only read-model fields (never ``build_counter`` or ``archived``) and the
    pipeline's facet rows. Idempotent. Returns the pipeline with the new values set.
    """
    now = now or timezone.now()
    latest = build_selectors.build_latest(pipeline_id=pipeline.pk)
    recent_builds = build_selectors.build_recent_summaries(pipeline_id=pipeline.pk, limit=RECENT_RUNS_SCANNED)
    release_targets = _release_targets_with_active_releases(pipeline, latest)
    latest_release = release_selectors.release_latest(pipeline_id=pipeline.pk)
    committers = _recent_committers(recent_builds, since=now - RECENT_WINDOW)
    releasers = release_selectors.release_recent_manual_releasers(
        pipeline_id=pipeline.pk, since=now - RECENT_WINDOW, limit=RECENT_RUNS_SCANNED
    )
    median_duration, median_pending = _medians(recent_builds[:MEDIAN_OVER_LAST])

    values: dict[str, Any] = {
        "latest_build": latest,
        "build_status": latest.status if latest else "",
        "labels": latest.labels if latest else [],
        "release_targets": release_targets,
        "triggers": latest.triggers if latest else [],
        "recent_committers": committers,
        "recent_releasers": releasers,
        "median_duration_ns": median_duration,
        "median_pending_duration_ns": median_pending,
        "build_count": build_selectors.build_count_for_pipeline(pipeline_id=pipeline.pk),
        "release_count": release_selectors.release_count_for_pipeline(pipeline_id=pipeline.pk),
        "last_updated_at": _last_updated_at(latest, latest_release),
    }
    Pipeline.objects.filter(pk=pipeline.pk).update(**values)
    for name, value in values.items():
        setattr(pipeline, name, value)
    _replace_facets(pipeline, _facets(values))
    return pipeline


@atomic_with_retry
def pipeline_refresh_build_status(*, pipeline: Pipeline, build: Build) -> None:
    """The read model after ``build`` of ``pipeline`` started or finished, as ``pipeline_refresh_read_model`` would
    compute it, with a fraction of its reads (two of every build's three refreshes are status changes).

    A status change alters only what follows the latest build's status and update time (``build_status``,
    ``last_updated_at``) and, once final, the medians; labels, release targets, triggers, committers, releasers,
    counts and facets depend on which builds and releases exist, and are refreshed by the services that create them.
    Call it in the transaction that changed the status.
    """
    latest = build_selectors.build_latest_status(pipeline_id=pipeline.pk)
    values: dict[str, Any] = {}
    if latest is not None and latest["id"] == build.pk:
        latest_release = release_selectors.release_latest(pipeline_id=pipeline.pk)
        values["build_status"] = latest["status"]
        values["last_updated_at"] = max(
            [latest["updated_at"], *([latest_release["updated_at"]] if latest_release else [])]
        )
    if build.is_final:
        recent = build_selectors.build_recent_summaries(pipeline_id=pipeline.pk, limit=MEDIAN_OVER_LAST)
        values["median_duration_ns"], values["median_pending_duration_ns"] = _medians(recent)
    if values:
        Pipeline.objects.filter(pk=pipeline.pk).update(**values)
        for name, value in values.items():
            setattr(pipeline, name, value)


def _release_targets_with_active_releases(pipeline: Pipeline, latest: Build | None) -> list[dict[str, Any]]:
    """The latest build's release targets, each with the ids of its active release per action."""
    targets: list[dict[str, Any]] = []
    for target in latest.release_targets if latest else []:
        actions = [action.get("name", "") for action in target.get("actions") or []] or [""]
        active_ids = []
        for action in actions:
            release_id = release_selectors.release_latest_id(
                pipeline_id=pipeline.pk, name=target["name"], action=action
            )
            if release_id is not None:
                active_ids.append(release_id)
        targets.append({**target, "activeReleaseIds": active_ids})
    return targets


def _recent_committers(recent_builds: list[dict[str, Any]], *, since: datetime) -> list[str]:
    emails: list[str] = []
    for build in recent_builds:
        if build["inserted_at"] < since:
            break
        for commit in build["commits"] or []:
            email = ((commit or {}).get("author") or {}).get("email")
            if email and email not in emails:
                emails.append(email)
    return emails


def _medians(builds: list[dict[str, Any]]) -> tuple[int | None, int | None]:
    succeeded = [b for b in builds if b["status"] == RunStatus.SUCCEEDED and b["started_at"] is not None]
    if not succeeded:
        return None, None
    durations = [nanoseconds(b["updated_at"] - b["started_at"]) for b in succeeded]
    pending = [nanoseconds(b["started_at"] - b["inserted_at"]) for b in succeeded]
    return int(statistics.median(durations)), int(statistics.median(pending))


def _last_updated_at(latest: Build | None, latest_release: dict[str, Any] | None) -> datetime | None:
    moments = []
    if latest is not None:
        moments.append(latest.updated_at)
    if latest_release is not None:
        moments.append(latest_release["updated_at"])
    return max(moments) if moments else None


def _facets(values: dict[str, Any]) -> set[tuple[str, str]]:
    facets = {(FacetKind.LABEL.value, f"{label['key']}={label['value']}") for label in values["labels"]}
    facets |= {(FacetKind.TARGET.value, target["name"]) for target in values["release_targets"]}
    facets |= {(FacetKind.COMMITTER.value, email) for email in values["recent_committers"]}
    facets |= {(FacetKind.RELEASER.value, email) for email in values["recent_releasers"]}
    facets |= {(FacetKind.TRIGGER.value, key) for key in trigger_keys(values["triggers"])}
    return {(kind, value[:512]) for kind, value in facets}


def _replace_facets(pipeline: Pipeline, wanted: Iterable[tuple[str, str]]) -> None:
    wanted = set(wanted)
    existing = {(kind, value): pk for pk, kind, value in pipeline.facets.values_list("pk", "kind", "value")}
    stale = [pk for key, pk in existing.items() if key not in wanted]
    if stale:
        PipelineFacet.objects.filter(pk__in=stale).delete()
    missing = [PipelineFacet(pipeline=pipeline, kind=kind, value=value) for kind, value in wanted - existing.keys()]
    if missing:
        PipelineFacet.objects.bulk_create(missing)
