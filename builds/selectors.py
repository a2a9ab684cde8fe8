"""Reads of builds beyond those every run kind has (``runs.selectors``): by branch, by version, the latest."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Count, F, QuerySet

from builds.models import Build
from estafette.lib.errors import NotFound
from estafette.lib.listing import Filters

REVISION = re.compile(r"^[0-9a-f]{40}$")
# Fields a list item does not show: the manifest texts are only in a build's detail.
LIST_DEFERRED = ("manifest", "manifest_with_defaults")


def build_recent_per_branch(*, pipeline_id: int, branches: int = 5, scanned: int = 50) -> list[Build]:
    """The latest build of each of up to ``branches`` branches among the last ``scanned`` builds, newest first.

    Estafette's ``recentbuilds``: what the pipeline overview shows per branch.
    """
    latest: dict[str, Build] = {}
    recent = (
        Build.objects.select_related("pipeline")
        .defer(*LIST_DEFERRED)
        .filter(pipeline_id=pipeline_id)
        .order_by("-inserted_at", "-id")[:scanned]
    )
    for build in recent:
        latest.setdefault(build.repo_branch, build)
        if len(latest) == branches:
            break
    return list(latest.values())


def build_of_version(*, pipeline_id: int, build_version: str) -> Build:
    """The build of a version: its succeeded build when there is one (what a release runs), else the latest.

    Raises ``NotFound`` when the pipeline has no build with that version.
    """
    builds = Build.objects.select_related("pipeline").filter(pipeline_id=pipeline_id, build_version=build_version)
    build = builds.filter(status="succeeded").order_by("-inserted_at", "-id").first()
    build = build or builds.order_by("-inserted_at", "-id").first()
    if build is None:
        raise NotFound(f"no build with version {build_version} in this pipeline")
    return build


def build_latest(*, pipeline_id: int) -> Build | None:
    return Build.objects.filter(pipeline_id=pipeline_id).order_by("-inserted_at", "-id").first()


def build_latest_status(*, pipeline_id: int) -> dict[str, Any] | None:
    """The id, status and update time of the pipeline's latest build."""
    return (
        Build.objects.filter(pipeline_id=pipeline_id)
        .order_by("-inserted_at", "-id")
        .values("id", "status", "updated_at")
        .first()
    )


def build_latest_with_valid_manifest(*, pipeline_id: int) -> Build | None:
    return Build.objects.filter(pipeline_id=pipeline_id, manifest_valid=True).order_by("-inserted_at", "-id").first()


def build_recent_summaries(*, pipeline_id: int, limit: int) -> list[dict[str, Any]]:
    """The pipeline's last ``limit`` builds, newest first, as dicts of id, status, times and commits."""
    return list(
        Build.objects.filter(pipeline_id=pipeline_id)
        .order_by("-inserted_at", "-id")
        .values("id", "status", "inserted_at", "started_at", "updated_at", "commits")[:limit]
    )


def build_count_for_pipeline(*, pipeline_id: int) -> int:
    return Build.objects.filter(pipeline_id=pipeline_id).count()


def builds_of_version(*, pipeline_id: int, build_version: str) -> list[Build]:
    return list(
        Build.objects.filter(pipeline_id=pipeline_id, build_version=build_version).order_by("-inserted_at", "-id")
    )


def build_latest_counters(*, pipeline_id: int, branch: str) -> tuple[int, int]:
    """The {{auto}} counters of the pipeline's latest build and of its latest build on ``branch`` (0 for none)."""
    latest = Build.objects.filter(pipeline_id=pipeline_id).order_by("-inserted_at", "-id")
    latest_counter = latest.values_list("counter", flat=True).first() or 0
    branch_counter = latest.filter(repo_branch=branch).values_list("counter", flat=True).first() or 0
    return int(latest_counter), int(branch_counter)


def build_branches(*, pipeline_id: int, filters: Filters) -> QuerySet[Any]:
    """The branches of the pipeline's builds matching ``filters`` (status, since), each with its number of builds,
    most first: rows of ``name`` and ``count``."""
    builds = Build.objects.filter(pipeline_id=pipeline_id)
    if filters.statuses:
        builds = builds.filter(status__in=filters.statuses)
    if filters.since:
        builds = builds.filter(inserted_at__gte=filters.since)
    return builds.values(name=F("repo_branch")).annotate(count=Count("id")).order_by("-count", "name")
