"""Index keys of triggers, so an event finds its candidate pipelines with one indexed lookup.

Each trigger of a pipeline's read model (flattened, ``self`` resolved) is filed under the key of what
it listens to; an event looks up the keys it can match. Names are compared case-insensitively, as
``Trigger.fires`` does. Filters that are regular expressions (cron, pubsub, docker) file all their
triggers under the type alone; ``Trigger.fires`` decides among those candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from builder.manifest.events import Event
from pipelines.models import FacetKind
from pipelines.read_model import ReadModelPart, ReadModelUpdate

# filter type → the field naming what it listens to; None: every trigger of the type is a candidate
_NAMED_BY: dict[str, str | None] = {
    "pipeline": "name",
    "release": "name",
    "git": "repository",
    "github": "repository",
    "bitbucket": "repository",
    "cron": None,
    "pubsub": None,
    "docker": None,
}
# event part → the field naming its source
_EVENT_NAMED_BY: dict[str, str | None] = {
    "pipeline": None,  # source/owner/name from three fields
    "release": None,
    "git": "repository",
    "github": "repository",
    "bitbucket": "repository",
    "cron": None,
    "pubsub": None,
    "docker": None,
}


def _key(kind: str, name: str | None) -> str:
    return f"{kind}:{name.strip().casefold()}" if name is not None else kind


def trigger_keys(triggers: Iterable[Mapping[str, Any]]) -> set[str]:
    """The keys of a list of triggers in their JSON form (``Trigger.to_dict()``)."""
    keys: set[str] = set()
    for trigger in triggers:
        for kind, named_by in _NAMED_BY.items():
            part = trigger.get(kind)
            if not isinstance(part, Mapping):
                continue
            keys.add(_key(kind, str(part.get(named_by) or "")) if named_by else _key(kind, None))
    return keys


def event_keys(event: Event) -> list[str]:
    """The keys of the triggers that may fire for ``event``."""
    keys: list[str] = []
    for kind, named_by in _EVENT_NAMED_BY.items():
        part = getattr(event, kind, None)
        if part is None:
            continue
        if kind in ("pipeline", "release"):
            keys.append(_key(kind, f"{part.repo_source}/{part.repo_owner}/{part.repo_name}"))
        elif named_by is not None:
            keys.append(_key(kind, getattr(part, named_by)))
        else:
            keys.append(_key(kind, None))
    return keys


class TriggerIndexPart(ReadModelPart):
    """The trigger facets of the read model: every trigger of the latest build filed under its key."""

    name = "triggers"

    def refresh(self, *, pipeline: Any, values: Mapping[str, Any], now: datetime) -> ReadModelUpdate:
        return ReadModelUpdate()

    def facets(self, values: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        return [(FacetKind.TRIGGER.value, key) for key in trigger_keys(values["triggers"])]
