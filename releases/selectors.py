"""Reads of releases beyond those every run kind has (``runs.selectors``): the latest, releasers, active ones."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pipelines.models import Pipeline
from releases.models import Release


def release_latest(*, pipeline_id: int) -> dict[str, Any] | None:
    return (
        Release.objects.filter(pipeline_id=pipeline_id)
        .order_by("-inserted_at", "-id")
        .values("id", "updated_at")
        .first()
    )


def release_recent_summaries(*, pipeline_id: int, name: str, action: str, limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` releases to a target and action, newest first, as dicts of status and times."""
    return list(
        Release.objects.filter(pipeline_id=pipeline_id, name=name, action=action)
        .order_by("-inserted_at", "-id")
        .values("id", "status", "inserted_at", "started_at", "updated_at")[:limit]
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
    extra_info = {
        int(release_id): info
        for pipeline in by_id.values()
        for target in pipeline.release_targets
        for release_id, info in (target.get("activeReleaseExtraInfo") or {}).items()
    }
    releases = {release.pk: release for release in Release.objects.filter(pk__in=wanted)}
    for release in releases.values():
        release.pipeline = by_id[release.pipeline_id]  # known already: no join, no second fetch
        release.extra_info = extra_info.get(release.pk, {})
    return releases
