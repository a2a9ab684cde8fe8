"""Services for pipelines imported from another Estafette installation (``manage.py import_estafette``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from estafette.lib.bulk import UpsertCounts, continue_id_sequences, upsert_by_pk
from estafette.lib.db import atomic_with_retry
from pipelines.catalog import label_pairs
from pipelines.models import CatalogEntity, Pipeline
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


# What an import sets of a catalog entity, and compares when it runs again.
IMPORTED_CATALOG_ENTITY_FIELDS = (
    "parent_key",
    "parent_value",
    "key",
    "value",
    "linked_pipeline",
    "labels",
    "label_pairs",
    "metadata",
    "inserted_at",
    "updated_at",
)


@atomic_with_retry
def catalog_entities_import(*, entities: Sequence[CatalogEntity]) -> UpsertCounts:
    """Insert or update catalog entities by id (the source's), as the source has them."""
    for entity in entities:
        entity.labels = sorted(
            (label for label in entity.labels if isinstance(label, dict) and label.get("key")),
            key=lambda label: str(label["key"]),
        )
        entity.label_pairs = label_pairs([(str(label["key"]), str(label.get("value", ""))) for label in entity.labels])
    counts = upsert_by_pk(CatalogEntity, entities, fields=IMPORTED_CATALOG_ENTITY_FIELDS)
    continue_id_sequences(CatalogEntity)
    return counts
