"""The builds' part of the pipeline read model (``pipelines.read_model``): registered by ``BuildsConfig.ready``.

The latest build (its status, labels, release targets and triggers), the recent committers, the medians of the
succeeded builds among the last few, and the number of builds.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from builds import selectors
from builds.models import Build
from pipelines.models import Pipeline
from pipelines.read_model import RECENT_RUNS_SCANNED, RECENT_WINDOW, ReadModelPart, ReadModelUpdate
from pipelines.selectors import pipeline_read_model_values
from pipelines.services import pipeline_change_read_model, pipeline_refresh_read_model, pipeline_update_read_model
from runs.models import RunStatus, nanoseconds

PART = "builds"
MEDIAN_OVER_LAST = 10  # medians over the succeeded builds among the last N builds


class BuildsReadModel(ReadModelPart):
    name = PART

    def refresh(self, *, pipeline: Pipeline, values: Mapping[str, Any], now: datetime) -> ReadModelUpdate:
        latest = selectors.build_latest(pipeline_id=pipeline.pk)
        recent = selectors.build_recent_summaries(pipeline_id=pipeline.pk, limit=RECENT_RUNS_SCANNED)
        median_duration, median_pending = median_durations(recent[:MEDIAN_OVER_LAST])
        return ReadModelUpdate(
            values={
                "latest_build": latest,
                "build_status": latest.status if latest else "",
                "labels": latest.labels if latest else [],
                "release_targets": latest.release_targets if latest else [],
                "triggers": latest.triggers if latest else [],
                "recent_committers": _recent_committers(recent, since=now - RECENT_WINDOW),
                "median_duration_ns": median_duration,
                "median_pending_duration_ns": median_pending,
                "build_count": selectors.build_count_for_pipeline(pipeline_id=pipeline.pk),
            },
            last_activity=latest.updated_at if latest else None,
        )

    def last_activity(self, *, pipeline_id: int) -> datetime | None:
        latest = selectors.build_latest_status(pipeline_id=pipeline_id)
        return latest["updated_at"] if latest else None


def pipeline_refresh_build_status(*, build: Build) -> None:
    """The read model after ``build`` started or finished, as a full refresh would compute it, with a fraction of its
    reads (two of every build's three refreshes are status changes).

    A status change alters only what follows the latest build's status and update time (``build_status``,
    ``last_updated_at``) and, once final, the medians; labels, release targets, triggers, committers, releasers,
    counts and facets depend on which builds and releases exist, and are refreshed by the services that create them.
    Call it in the transaction that changed the status.
    """
    pipeline = build.pipeline
    latest = selectors.build_latest_status(pipeline_id=pipeline.pk)
    values: dict[str, Any] = {}
    activity = None
    if latest is not None and latest["id"] == build.pk:
        values["build_status"] = latest["status"]
        activity = latest["updated_at"]
    if build.is_final:
        recent = selectors.build_recent_summaries(pipeline_id=pipeline.pk, limit=MEDIAN_OVER_LAST)
        values["median_duration_ns"], values["median_pending_duration_ns"] = median_durations(recent)
    if values:
        pipeline_update_read_model(pipeline=pipeline, part=PART, values=values, last_activity=activity)


def pipeline_refresh_build_created(*, build: Build, now: datetime, before: Mapping[str, Any] | None = None) -> None:
    """The read model after ``build`` was created at ``now``, as a full refresh would compute it, with a fraction of
    its reads and writes: the builds' values come from the new build and one read of the last builds, and the other
    parts follow only what changed (``pipelines.services.pipeline_change_read_model``). A build created before the
    latest one (``now`` earlier than its creation) takes the full refresh. Call it in the transaction that created
    the build, after the pipeline's row was written (its counter): the read model read then is the committed one;
    ``before`` is that read when the caller made it (``pipelines.selectors.pipeline_read_model_values``).
    """
    pipeline = build.pipeline
    if before is None:
        before = pipeline_read_model_values(pipeline_id=pipeline.pk)
    recent = selectors.build_recent_summaries(pipeline_id=pipeline.pk, limit=RECENT_RUNS_SCANNED)
    if recent[0]["id"] != build.pk:
        pipeline_refresh_read_model(pipeline=pipeline, now=now)
        return
    median_duration, median_pending = median_durations(recent[:MEDIAN_OVER_LAST])
    values = {
        "latest_build": build,
        "build_status": build.status,
        "labels": build.labels,
        "release_targets": build.release_targets,
        "triggers": build.triggers,
        "recent_committers": _recent_committers(recent, since=now - RECENT_WINDOW),
        "median_duration_ns": median_duration,
        "median_pending_duration_ns": median_pending,
        "build_count": before["build_count"] + 1,
    }
    pipeline_change_read_model(
        pipeline=pipeline, part=PART, before=before, values=values, last_activity=build.updated_at, now=now
    )


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


def median_durations(builds: list[dict[str, Any]]) -> tuple[int | None, int | None]:
    """The median run time and pending time (ns) of the succeeded runs among ``builds`` (dicts of status and times,
    any kind's); None, None when none succeeded."""
    succeeded = [b for b in builds if b["status"] == RunStatus.SUCCEEDED and b["started_at"] is not None]
    if not succeeded:
        return None, None
    durations = [nanoseconds(b["updated_at"] - b["started_at"]) for b in succeeded]
    pending = [nanoseconds(b["started_at"] - b["inserted_at"]) for b in succeeded]
    return int(statistics.median(durations)), int(statistics.median(pending))
