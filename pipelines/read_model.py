"""The parts of a pipeline's read model, each computed by the app that owns what it describes.

The read model (the read-model fields of ``Pipeline`` and its facets) plays the role of Estafette's
``computed_pipelines``: the pipeline list reads it and never aggregates over runs. Its values describe the run kinds,
which live in apps above this one — the latest build, the medians and the counts come from builds, the active
releases and recent releasers from releases, the trigger index keys from triggers — so this app owns a registry of
parts, each registered from its app's ``ready``, and imports none of them.

``pipelines.services.pipeline_refresh_read_model`` asks every part, in the order they were registered; a part sees
the values of the parts it ``needs``, which must have registered before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# What "recent" means in the read model: committers and releasers of the last week, among the last runs.
RECENT_WINDOW = timedelta(days=7)
RECENT_RUNS_SCANNED = 50

# The read-model fields of ``Pipeline`` and their values for a pipeline without runs.
READ_MODEL_DEFAULTS: Mapping[str, Any] = {
    "latest_build": None,
    "build_status": "",
    "labels": [],
    "release_targets": [],
    "triggers": [],
    "recent_committers": [],
    "recent_releasers": [],
    "median_duration_ns": None,
    "median_pending_duration_ns": None,
    "build_count": 0,
    "release_count": 0,
    "last_updated_at": None,
}


@dataclass(frozen=True)
class ReadModelUpdate:
    """What a part computed: read-model field values, and when its runs last changed (for ``last_updated_at``)."""

    values: dict[str, Any] = field(default_factory=dict)
    last_activity: datetime | None = None


class ReadModelPart:
    """One app's part of the read model. Subclasses name it and implement ``refresh`` with their own selectors."""

    name: str
    needs: tuple[str, ...] = ()  # parts whose values ``refresh`` reads

    def refresh(self, *, pipeline: Any, values: Mapping[str, Any], now: datetime) -> ReadModelUpdate:
        """The part's values for ``pipeline``, given the values of the parts before it. Called inside the
        transaction of the change that made the refresh necessary."""
        raise NotImplementedError

    def last_activity(self, *, pipeline_id: int) -> datetime | None:
        """When the part's latest run last changed (None: it has none)."""
        return None

    def follow(
        self, *, pipeline: Any, before: Mapping[str, Any], after: Mapping[str, Any], now: datetime
    ) -> ReadModelUpdate:
        """The part's values after a part it ``needs`` changed some values (``before`` → ``after``: the whole read
        model), without a full refresh. By default the full ``refresh`` when a value changed, nothing otherwise;
        a part whose values depend on only some of the ones it needs says so by overriding it."""
        if all(before.get(name) == value for name, value in after.items()):
            return ReadModelUpdate()
        return self.refresh(pipeline=pipeline, values=after, now=now)

    def facets(self, values: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        """``(FacetKind, value)`` rows the list filters on, from the whole read model's values."""
        return ()


_parts: dict[str, ReadModelPart] = {}


def register_read_model_part(part: ReadModelPart) -> None:
    """Register a part (from its app's ``ready``). Raises ``ValueError`` when a part it needs is not registered yet."""
    missing = [name for name in part.needs if name not in _parts]
    if missing:
        raise ValueError(f"read model part {part.name!r} needs {', '.join(missing)} registered before it")
    _parts[part.name] = part


def read_model_parts() -> list[ReadModelPart]:
    return list(_parts.values())
