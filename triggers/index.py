"""Index keys of triggers, so an event finds its candidate pipelines with one indexed lookup.

Each trigger of a pipeline's read model (flattened, ``self`` resolved) is filed under the key of what it listens to;
an event looks up the keys it can match. What a kind is named by comes from its entry in the trigger-kind registry
(``triggers.kinds``). Names are compared case-insensitively, as ``Trigger.fires`` does. Kinds whose filters are
regular expressions (cron, pubsub, docker) file all their triggers under the kind alone; ``Trigger.fires`` decides
among those candidates.

The keys are the read model's ``trigger`` facets (``TriggerIndexPart``, registered by ``TriggersConfig.ready``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from builder.manifest.events import Event
from pipelines.models import FacetKind
from pipelines.read_model import ReadModelPart, ReadModelUpdate
from triggers.kinds import trigger_kinds


def _key(kind: str, name: str | None) -> str:
    return f"{kind}:{name.strip().casefold()}" if name is not None else kind


def trigger_keys(triggers: Iterable[Mapping[str, Any]]) -> set[str]:
    """The keys of a list of triggers in their JSON form (``Trigger.to_dict()``)."""
    keys: set[str] = set()
    for trigger in triggers:
        for kind in trigger_kinds():
            part = trigger.get(kind.name)
            if not isinstance(part, Mapping):
                continue
            keys.add(_key(kind.name, str(part.get(kind.named_by) or "")) if kind.named_by else _key(kind.name, None))
    return keys


def event_keys(event: Event) -> list[str]:
    """The keys of the triggers that may fire for ``event``."""
    keys: list[str] = []
    for kind in trigger_kinds():
        part = getattr(event, kind.name, None)
        if part is not None:
            keys.append(_key(kind.name, kind.event_key_name(part)))
    return keys


class TriggerIndexPart(ReadModelPart):
    """The trigger facets of the read model: every trigger of the latest build filed under its key."""

    name = "triggers"
    needs = ("builds",)  # the latest build's triggers

    def refresh(self, *, pipeline: Any, values: Mapping[str, Any], now: datetime) -> ReadModelUpdate:
        return ReadModelUpdate()

    def facets(self, values: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        return [(FacetKind.TRIGGER.value, key) for key in trigger_keys(values["triggers"])]
