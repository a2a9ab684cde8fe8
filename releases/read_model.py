"""The releases' part of the pipeline read model (``pipelines.read_model``): registered by ``ReleasesConfig.ready``.

The active release of every release target and action of the latest build (its badge), the people who released
by hand recently, and the number of releases. Bot runs are not part of the read model.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from builds.read_model import MEDIAN_OVER_LAST, median_durations
from builds.read_model import PART as BUILDS_PART
from pipelines.models import Pipeline
from pipelines.read_model import RECENT_RUNS_SCANNED, RECENT_WINDOW, ReadModelPart, ReadModelUpdate
from releases import selectors


class ReleasesReadModel(ReadModelPart):
    name = "releases"
    needs = (BUILDS_PART,)  # the latest build's release targets

    def refresh(self, *, pipeline: Pipeline, values: Mapping[str, Any], now: datetime) -> ReadModelUpdate:
        latest = selectors.release_latest(pipeline_id=pipeline.pk)
        return ReadModelUpdate(
            values={
                "release_targets": _with_active_releases(pipeline, values["release_targets"]),
                "recent_releasers": selectors.release_recent_manual_releasers(
                    pipeline_id=pipeline.pk, since=now - RECENT_WINDOW, limit=RECENT_RUNS_SCANNED
                ),
                "release_count": selectors.release_count_for_pipeline(pipeline_id=pipeline.pk),
            },
            last_activity=latest["updated_at"] if latest else None,
        )

    def last_activity(self, *, pipeline_id: int) -> datetime | None:
        latest = selectors.release_latest(pipeline_id=pipeline_id)
        return latest["updated_at"] if latest else None

    def follow(
        self, *, pipeline: Pipeline, before: Mapping[str, Any], after: Mapping[str, Any], now: datetime
    ) -> ReadModelUpdate:
        """Of what the builds' part computes only the latest build's release targets count here: the same targets
        keep their active releases (no release changed), others get theirs looked up."""
        targets = after["release_targets"]
        if targets is before["release_targets"]:
            return ReadModelUpdate()
        if targets == _without_active_releases(before["release_targets"]):
            return ReadModelUpdate(values={"release_targets": before["release_targets"]})
        return ReadModelUpdate(values={"release_targets": _with_active_releases(pipeline, targets)})


ACTIVE_RELEASE_KEYS = ("activeReleaseIds", "activeReleaseExtraInfo")


def _without_active_releases(release_targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The release targets as a build records them: without what ``_with_active_releases`` added."""
    return [
        {key: value for key, value in target.items() if key not in ACTIVE_RELEASE_KEYS} for target in release_targets
    ]


def _with_active_releases(pipeline: Pipeline, release_targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest build's release targets, each with the ids of its active release per action and their
    ``extraInfo``: the medians of the succeeded releases among the last ones to that target and action (Estafette's
    ``computed_releases.extra_info``, which its web UI reads to draw a running release's progress)."""
    targets: list[dict[str, Any]] = []
    for target in release_targets:
        actions = [action.get("name", "") for action in target.get("actions") or []] or [""]
        active_ids = []
        extra_info: dict[str, dict[str, int]] = {}
        for action in actions:
            recent = selectors.release_recent_summaries(
                pipeline_id=pipeline.pk, name=target["name"], action=action, limit=MEDIAN_OVER_LAST
            )
            if recent:
                active_ids.append(recent[0]["id"])
                duration, pending = median_durations(recent)
                extra_info[str(recent[0]["id"])] = {
                    "medianPendingDuration": pending or 0,
                    "medianDuration": duration or 0,
                }
        targets.append({**target, "activeReleaseIds": active_ids, "activeReleaseExtraInfo": extra_info})
    return targets
