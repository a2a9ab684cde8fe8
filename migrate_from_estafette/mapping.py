"""Estafette's rows (ESTAFETTE.md §4) as this project's models: pure functions, one per table.

Ids, versions and timestamps are kept as they are; JSONB columns already hold the JSON of Estafette's contracts types,
which is the JSON this project keeps (labels, commits, release targets, triggers, events), so they are copied, with
a SQL NULL as an empty list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from builder.contracts import BuildLogStep, ContractError
from builds.models import Build
from pipelines.models import CatalogEntity
from releases.models import BotRun, Release
from runs.models import RunStatus

_STATUSES = {status.value for status in RunStatus}
# A catalog entity from a migrator version without timestamps: dated at the epoch rather than "now" (a re-run would
# otherwise see it changed every time).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RowError(ValueError):
    """A source row this project cannot hold; the message says which and why."""


def status(value: str | None) -> str:
    """Estafette's run status; one it never finished recording ("unknown", empty) is a failed run here."""
    value = (value or "").lower()
    return value if value in _STATUSES else RunStatus.FAILED


def json_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _usage(row: dict[str, Any], name: str) -> float | None:
    value = row.get(name)
    return float(value) if value is not None and value > 0 else None


def build(row: dict[str, Any], *, pipeline_id: int, counter: int | None, manifest_valid: bool) -> Build:
    return Build(
        id=row["id"],
        pipeline_id=pipeline_id,
        repo_branch=row["repo_branch"] or "",
        repo_revision=row["repo_revision"] or "",
        build_version=row["build_version"] or "",
        counter=counter,
        status=status(row["build_status"]),
        labels=json_list(row["labels"]),
        release_targets=json_list(row["release_targets"]),
        triggers=json_list(row["triggers"]),
        commits=json_list(row["commits"]),
        manifest=row["manifest"] or "",
        manifest_valid=manifest_valid,
        **_run_fields(row),
    )


def _run_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The columns every run kind of Estafette's has, as our ``Run``'s fields."""
    return {
        "triggered_by_events": json_list(row["triggered_by_event"]),
        "inserted_at": row["inserted_at"],
        "started_at": row["started_at"],
        "updated_at": row["updated_at"] or row["inserted_at"],
        "cpu_max_usage": _usage(row, "cpu_max_usage"),
        "memory_max_usage": _usage(row, "memory_max_usage"),
    }


def release(row: dict[str, Any], *, pipeline_id: int) -> Release:
    return Release(
        id=row["id"],
        pipeline_id=pipeline_id,
        name=row["release"] or "",
        action=row["release_action"] or "",
        release_version=row["release_version"] or "",
        status=status(row["release_status"]),
        **_run_fields(row),
    )


def bot_run(row: dict[str, Any], *, pipeline_id: int) -> BotRun:
    return BotRun(
        id=row["id"],
        pipeline_id=pipeline_id,
        name=row["bot"] or "",
        status=status(row["bot_status"]),
        **_run_fields(row),
    )


def _without_nulls(value: Any) -> Any:
    # Go writes nil slices and pointers as null; the contract types read a missing key as their default.
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def log_steps(value: Any) -> list[BuildLogStep]:
    """A log row's ``steps`` (``BuildLogStep[]``) as the contract's types."""
    try:
        return [BuildLogStep.from_dict(_without_nulls(step)) for step in json_list(value)]
    except ContractError as error:
        raise RowError(f"its steps are not Estafette's BuildLogStep JSON ({error})") from None


def catalog_entity(row: dict[str, Any]) -> CatalogEntity:
    metadata = row["entity_metadata"]
    return CatalogEntity(
        id=row["id"],
        parent_key=row["parent_key"] or "",
        parent_value=row["parent_value"] or "",
        key=row["entity_key"] or "",
        value=row["entity_value"] or "",
        linked_pipeline=row["linked_pipeline"] or "",
        labels=json_list(row["labels"]),
        metadata=metadata if isinstance(metadata, dict) else {},
        inserted_at=row.get("inserted_at") or EPOCH,
        updated_at=row.get("updated_at") or row.get("inserted_at") or EPOCH,
    )
