"""Upserting a batch of rows by primary key, portable to PostgreSQL, CockroachDB and SQLite.

Used by imports that keep the ids of another system (``migrate_from_estafette``): a batch is compared with what the
table holds, so a re-run can say how many rows were new, changed or already there, and writes only the first two.
``bulk_create(update_conflicts=True)`` would upsert in one statement but could not tell the three apart, and it
rewrites unchanged rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # rows the caller could not place (each says why in its own report)

    def add(self, other: UpsertCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.skipped += other.skipped

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + self.skipped


def upsert_by_pk(model: type[models.Model], rows: Sequence[models.Model], *, fields: Sequence[str]) -> UpsertCounts:
    """Insert the rows whose primary key the table lacks, update ``fields`` of those that differ, leave the rest.

    ``fields`` are attribute names (``pipeline_id`` for a foreign key). Part of the caller's transaction.
    """
    counts = UpsertCounts()
    if not rows:
        return counts
    existing = {
        values["pk"]: values
        for values in model._base_manager.filter(pk__in=[row.pk for row in rows]).values("pk", *fields)
    }
    new: list[models.Model] = []
    changed: list[models.Model] = []
    for row in rows:
        stored = existing.get(row.pk)
        if stored is None:
            new.append(row)
        elif any(_differs(stored[name], getattr(row, name)) for name in fields):
            changed.append(row)
        else:
            counts.unchanged += 1
    if new:
        model._base_manager.bulk_create(new)
    if changed:
        model._base_manager.bulk_update(changed, list(fields))
    counts.created, counts.updated = len(new), len(changed)
    return counts


def _differs(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, float) or isinstance(wanted, float):
        # Floats that went through the database may come back as the nearest double of the text form.
        if stored is None or wanted is None:
            return stored is not wanted
        return abs(float(stored) - float(wanted)) > 1e-9 * max(1.0, abs(float(wanted)))
    return bool(stored != wanted)


def continue_id_sequences(*model_list: type[models.Model]) -> None:
    """Move the id sequences of ``model_list`` past the highest id their tables hold, so that rows inserted with ids
    of their own (an import keeping another system's ids) are not followed by a new row asking for one of them.

    PostgreSQL needs this (a sequence does not see explicit ids); SQLite's AUTOINCREMENT already continues after the
    highest id, and CockroachDB's ids (``unique_rowid()``) come from no sequence: Django's backends give no statement
    there. Part of the caller's transaction.
    """
    from django.core.management.color import no_style
    from django.db import connection

    statements = connection.ops.sequence_reset_sql(no_style(), list(model_list))
    if not statements:
        return
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
