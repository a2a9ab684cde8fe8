"""Catalog entities (Estafette's catalog tree, ESTAFETTE.md §3.9): the services that write them and the selector
that lists them. The pipelines app holds them: the catalog describes what the pipelines build, and an entity may name
one (``linkedPipeline``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from estafette.lib.db import atomic_with_retry
from estafette.lib.errors import BadRequest
from pipelines.models import CatalogEntity

MAX_NAME_CHARS = 256
MAX_LABELS = 64
# The metadata is free-form JSON; a catalog node's description, links and owners fit well within this.
MAX_METADATA_CHARS = 64 * 1024


@dataclass(frozen=True)
class CatalogEntityFields:
    """What a caller sets of an entity (Estafette's ``CatalogEntity`` without id and timestamps)."""

    key: str
    value: str
    parent_key: str = ""
    parent_value: str = ""
    linked_pipeline: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    metadata: dict[str, Any] | None = None


def _checked(fields: CatalogEntityFields) -> dict[str, Any]:
    for name, text in (
        ("key", fields.key),
        ("value", fields.value),
        ("parentKey", fields.parent_key),
        ("parentValue", fields.parent_value),
    ):
        if len(text) > MAX_NAME_CHARS or "\x00" in text or "\n" in text:
            raise BadRequest(f"{name} must be at most {MAX_NAME_CHARS} characters on one line")
    if not fields.key.strip() or not fields.value.strip():
        raise BadRequest("key and value must not be empty")
    if bool(fields.parent_key) != bool(fields.parent_value):
        raise BadRequest("parentKey and parentValue go together: give both (a child) or neither (a top-level entity)")
    if fields.linked_pipeline:
        parts = fields.linked_pipeline.split("/")
        if len(parts) != 3 or not all(part.strip() for part in parts) or len(fields.linked_pipeline) > 770:
            raise BadRequest(f"linkedPipeline must be source/owner/name, got {fields.linked_pipeline[:100]!r}")
    if len(fields.labels) > MAX_LABELS:
        raise BadRequest(f"an entity has at most {MAX_LABELS} labels")
    for key, value in fields.labels:
        if (
            not key
            or len(key) > MAX_NAME_CHARS
            or len(value) > MAX_NAME_CHARS
            or any(bad in key + value for bad in ("\n", "\x00"))
        ):
            raise BadRequest(f"labels: {key[:80]!r} must be a key and value of 1 to {MAX_NAME_CHARS} characters")
        if "=" in key:
            raise BadRequest(f"labels: the key {key[:80]!r} must not contain '='")
    metadata = fields.metadata or {}
    if len(json.dumps(metadata)) > MAX_METADATA_CHARS:
        raise BadRequest(f"metadata must be at most {MAX_METADATA_CHARS} characters of JSON")
    labels = sorted(dict(fields.labels).items())
    return {
        "key": fields.key,
        "value": fields.value,
        "parent_key": fields.parent_key,
        "parent_value": fields.parent_value,
        "linked_pipeline": fields.linked_pipeline,
        "labels": [{"key": key, "value": value} for key, value in labels],
        "label_pairs": label_pairs(labels),
        "metadata": metadata,
    }


def label_pairs(labels: Sequence[tuple[str, str]]) -> str:
    return "".join(f"\n{key}={value}\n" for key, value in labels)


@atomic_with_retry
def catalog_entity_create(*, fields: CatalogEntityFields, now: datetime | None = None) -> CatalogEntity:
    now = now or timezone.now()
    return CatalogEntity.objects.create(**_checked(fields), inserted_at=now, updated_at=now)


@atomic_with_retry
def catalog_entity_update(
    *, entity: CatalogEntity, fields: CatalogEntityFields, now: datetime | None = None
) -> CatalogEntity:
    """Replace what the caller sets of ``entity`` (Estafette's update writes the whole entity)."""
    values = _checked(fields)
    values["updated_at"] = now or timezone.now()
    CatalogEntity.objects.filter(pk=entity.pk).update(**values)
    for name, value in values.items():
        setattr(entity, name, value)
    return entity


@atomic_with_retry
def catalog_entity_delete(*, entity: CatalogEntity) -> None:
    """Remove the entity (Estafette deletes the row; its children keep naming it as their parent)."""
    CatalogEntity.objects.filter(pk=entity.pk).delete()


@dataclass(frozen=True)
class CatalogEntityFilters:
    """``filter[parent]``, ``filter[entity]`` (``key`` or ``key=value``), ``filter[pipeline]``, ``filter[labels]``
    (``key=value``, all of them), ``filter[search]`` (part of the key or value)."""

    parent: tuple[str, str | None] | None = None
    entity: tuple[str, str | None] | None = None
    pipeline: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    search: str | None = None


def catalog_entity_list(*, filters: CatalogEntityFilters) -> QuerySet[CatalogEntity]:
    entities = CatalogEntity.objects.all()
    for (key_field, value_field), pair in (
        (("parent_key", "parent_value"), filters.parent),
        (("key", "value"), filters.entity),
    ):
        if pair is not None:
            entities = entities.filter(**{key_field: pair[0]})
            if pair[1] is not None:
                entities = entities.filter(**{value_field: pair[1]})
    if filters.pipeline:
        entities = entities.filter(linked_pipeline=filters.pipeline)
    for key, value in filters.labels:
        entities = entities.filter(label_pairs__contains=f"\n{key}={value}\n")
    if filters.search:
        entities = entities.filter(Q(key__icontains=filters.search) | Q(value__icontains=filters.search))
    return entities
