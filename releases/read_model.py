"""The releases' part of the pipeline read model (``pipelines.read_model``): registered by ``ReleasesConfig.ready``.

The active release of every release target and action of the latest build (its badge), the people who released
by hand recently, and the number of releases. Bot runs are not part of the read model.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

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


def _with_active_releases(pipeline: Pipeline, release_targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest build's release targets, each with the ids of its active release per action."""
    targets: list[dict[str, Any]] = []
    for target in release_targets:
        actions = [action.get("name", "") for action in target.get("actions") or []] or [""]
        active_ids = []
        for action in actions:
            release_id = selectors.release_latest_id(pipeline_id=pipeline.pk, name=target["name"], action=action)
            if release_id is not None:
                active_ids.append(release_id)
        targets.append({**target, "activeReleaseIds": active_ids})
    return targets
