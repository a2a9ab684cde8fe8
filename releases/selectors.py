"""Reads of releases and bot runs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import QuerySet, Sum

from estafette.lib.errors import BadRequest, NotFound
from estafette.lib.listing import Filters, capped_count
from pipelines.models import Pipeline
from pipelines.selectors import filter_by_pipeline_facets
from releases.models import BotRun, Release

RELEASE_LIST_FILTERS = ("status", "since", "labels", "target", "search")
RELEASE_SORT_FIELDS = ("inserted_at", "started_at", "updated_at", "status", "name", "release_version")
BOT_LIST_FILTERS = ("status", "since", "labels", "bot", "search")
BOT_SORT_FIELDS = ("inserted_at", "started_at", "updated_at", "status", "name")


# -- releases ---------------------------------------------------------------------------------


def release_list(*, filters: Filters, pipeline_id: int | None = None) -> QuerySet[Release]:
    releases = Release.objects.select_related("pipeline")
    if pipeline_id is not None:
        releases = releases.filter(pipeline_id=pipeline_id)
    if filters.statuses:
        releases = releases.filter(status__in=filters.statuses)
    if filters.since:
        releases = releases.filter(inserted_at__gte=filters.since)
    if filters.target:
        releases = releases.filter(name=filters.target)
    return filter_by_pipeline_facets(releases, filters)


def release_total(*, filters: Filters, pipeline_id: int | None = None) -> int:
    """Like ``builds.selectors.build_total``: exact per pipeline and unfiltered, else capped."""
    if pipeline_id is None and filters.is_empty:
        return int(Pipeline.objects.aggregate(total=Sum("release_count"))["total"] or 0)
    queryset = release_list(filters=filters, pipeline_id=pipeline_id)
    if pipeline_id is not None:
        return queryset.order_by().count()
    return capped_count(queryset)


def release_get(*, pipeline_id: int, release_id: str) -> Release:
    if not release_id.isdigit():
        raise BadRequest(f"release id must be a number, got {release_id!r}")
    release = Release.objects.select_related("pipeline").filter(pipeline_id=pipeline_id, pk=int(release_id)).first()
    if release is None:
        raise NotFound(f"release {release_id} not found in this pipeline")
    return release


def release_latest(*, pipeline_id: int) -> dict[str, Any] | None:
    return (
        Release.objects.filter(pipeline_id=pipeline_id)
        .order_by("-inserted_at", "-id")
        .values("id", "updated_at")
        .first()
    )


def release_latest_id(*, pipeline_id: int, name: str, action: str) -> int | None:
    """The id of the latest release to a target and action: the one its badge shows."""
    return (
        Release.objects.filter(pipeline_id=pipeline_id, name=name, action=action)
        .order_by("-inserted_at", "-id")
        .values_list("id", flat=True)
        .first()
    )


def release_count_for_pipeline(*, pipeline_id: int) -> int:
    return Release.objects.filter(pipeline_id=pipeline_id).count()


def release_recent_manual_releasers(*, pipeline_id: int, since: datetime, limit: int) -> list[str]:
    """Emails of the people who started a release by hand since ``since``, most recent first."""
    emails: list[str] = []
    recent = (
        Release.objects.filter(pipeline_id=pipeline_id, inserted_at__gte=since)
        .order_by("-inserted_at", "-id")
        .values_list("triggered_by_events", flat=True)[:limit]
    )
    for events in recent:
        for event in events or []:
            email = ((event or {}).get("manual") or {}).get("userID")
            if email and email not in emails:
                emails.append(email)
    return emails


def pipeline_active_releases(pipelines: Iterable[Pipeline]) -> dict[int, Release]:
    """The active releases the pipelines' read models point at, by id, in one query."""
    by_id = {pipeline.pk: pipeline for pipeline in pipelines}
    wanted = {
        release_id
        for pipeline in by_id.values()
        for target in pipeline.release_targets
        for release_id in target.get("activeReleaseIds", [])
    }
    if not wanted:
        return {}
    releases = {release.pk: release for release in Release.objects.filter(pk__in=wanted)}
    for release in releases.values():
        release.pipeline = by_id[release.pipeline_id]  # known already: no join, no second fetch
    return releases


# -- bot runs ---------------------------------------------------------------------------------


def bot_run_list(*, filters: Filters, pipeline_id: int | None = None) -> QuerySet[BotRun]:
    runs = BotRun.objects.select_related("pipeline")
    if pipeline_id is not None:
        runs = runs.filter(pipeline_id=pipeline_id)
    if filters.statuses:
        runs = runs.filter(status__in=filters.statuses)
    if filters.since:
        runs = runs.filter(inserted_at__gte=filters.since)
    if filters.bot:
        runs = runs.filter(name=filters.bot)
    return filter_by_pipeline_facets(runs, filters)


def bot_run_total(*, filters: Filters, pipeline_id: int | None = None) -> int:
    queryset = bot_run_list(filters=filters, pipeline_id=pipeline_id)
    if pipeline_id is not None:
        return queryset.order_by().count()
    return capped_count(queryset)


def bot_run_get(*, pipeline_id: int, bot_run_id: str) -> BotRun:
    if not bot_run_id.isdigit():
        raise BadRequest(f"bot run id must be a number, got {bot_run_id!r}")
    run = BotRun.objects.select_related("pipeline").filter(pipeline_id=pipeline_id, pk=int(bot_run_id)).first()
    if run is None:
        raise NotFound(f"bot run {bot_run_id} not found in this pipeline")
    return run
