"""Services for pipelines imported from another Estafette installation (``manage.py import_estafette``)."""

from __future__ import annotations

from datetime import datetime

from estafette.lib.db import atomic_with_retry
from pipelines.models import Pipeline
from pipelines.services import pipeline_get_or_create


def pipeline_import(
    *,
    repo_source: str,
    repo_owner: str,
    repo_name: str,
    archived: bool | None = None,
    inserted_at: datetime | None = None,
) -> tuple[Pipeline, str]:
    """The pipeline of a repository the source knows, created on first sight; ``archived`` is the source's (None
    leaves it), ``inserted_at`` the earliest either side saw it. Returns it and ``"created"``, ``"updated"`` or
    ``"unchanged"``. Raises ``BadRequest`` for a malformed identity."""
    existed = Pipeline.objects.filter(repo_source=repo_source, repo_owner=repo_owner, repo_name=repo_name).exists()
    pipeline = pipeline_get_or_create(repo_source=repo_source, repo_owner=repo_owner, repo_name=repo_name)
    changed = _apply(pipeline=pipeline, archived=archived, inserted_at=inserted_at)
    return pipeline, "updated" if existed and changed else "unchanged" if existed else "created"


@atomic_with_retry
def _apply(*, pipeline: Pipeline, archived: bool | None, inserted_at: datetime | None) -> bool:
    changed = False
    if archived is not None and pipeline.archived != archived:
        Pipeline.objects.filter(pk=pipeline.pk).update(archived=archived)
        pipeline.archived = archived
        changed = True
    if inserted_at is not None and inserted_at < pipeline.inserted_at:
        Pipeline.objects.filter(pk=pipeline.pk, inserted_at__gt=inserted_at).update(inserted_at=inserted_at)
        pipeline.inserted_at = inserted_at
        changed = True
    return changed


@atomic_with_retry
def pipeline_counter_at_least(*, pipeline_id: int, counter: int) -> bool:
    """Raise the pipeline's build counter to ``counter`` when it is below (never lower it: a counter handed out is
    never reused), so the next build continues the source's sequence. One conditional UPDATE; True if raised."""
    return bool(Pipeline.objects.filter(pk=pipeline_id, build_counter__lt=counter).update(build_counter=counter))
