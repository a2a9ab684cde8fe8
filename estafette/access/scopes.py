"""The groups and organizations of the pipeline a request names, for the pipeline rules of the policy.

Pipelines sit above this infrastructure app, so the pipelines app registers how a pipeline is found
(``register_pipeline_scope``, from its ``ready()``), as the run kinds register themselves with the run engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PipelineScope:
    full_name: str
    group_ids: frozenset[int]
    organization_ids: frozenset[int]


# (source, owner, name) → the pipeline's scope, or None when there is no such pipeline.
ScopeResolver = Callable[[str, str, str], PipelineScope | None]
_resolver: list[ScopeResolver] = []


def register_pipeline_scope(resolver: ScopeResolver) -> None:
    _resolver[:] = [resolver]


def pipeline_scope(source: str, owner: str, name: str) -> PipelineScope | None:
    if not _resolver:
        raise RuntimeError("no pipeline scope resolver registered (PipelinesConfig.ready registers it)")
    return _resolver[0](source, owner, name)
