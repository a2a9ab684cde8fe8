"""Figures of the runs of any kind, read from the kinds' tables (Estafette's ``/api/stats/*`` and a pipeline's
``…/stats/*``, ESTAFETTE.md §3.3): counts, total run time, adoption (each pipeline's first run), the pipelines with
the most runs, and per run of one pipeline its durations and its measured CPU and memory.

Durations are computed from the run's times as everywhere in this API (``runs.models.Run``): pending is
``started_at - inserted_at``, running ``updated_at - (started_at or inserted_at)``, in nanoseconds.

CPU and memory are the run's ``cpu_max_usage`` and ``memory_max_usage`` columns where the kind's table has them (the
builder's measurements); a table without them answers no measurements, not an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count, Min, QuerySet

from estafette.lib.listing import Filters
from runs.models import FINAL_STATUSES, nanoseconds
from runs.registry import RunKind
from runs.selectors import run_list

# Estafette's default and this API's ceiling for ``filter[last]`` (the UI offers up to 500 runs).
DEFAULT_LAST = 100
MAX_LAST = 1000
# The measured figures a run may carry: Estafette's JSON name → the column.
MEASUREMENTS = {"cpu": ("cpuMaxUsage", "cpu_max_usage"), "memory": ("memoryMaxUsage", "memory_max_usage")}
# Adoption reads each pipeline's first run; totals are summed a bounded page of runs at a time.
_SUM_PAGE = 5_000


def run_count(kind: RunKind, *, filters: Filters) -> int:
    """How many runs of ``kind`` match ``filters`` (status, since), across all pipelines."""
    return run_list(kind, filters=filters).order_by().count()


def run_total_duration_ns(kind: RunKind, *, filters: Filters) -> int:
    """The summed run time (ns) of the finished runs of ``kind`` matching ``filters``.

    Summed here rather than in SQL: a timestamp difference is spelled differently by each of the three databases
    (and ``EXTRACT(epoch …)`` is what CockroachDB and PostgreSQL share, SQLite not). Read by primary key in pages, so
    memory stays bounded however many runs there are.
    """
    runs = run_list(kind, filters=filters).filter(status__in=FINAL_STATUSES).order_by("pk")
    total, after = 0, 0
    while True:
        page = list(runs.filter(pk__gt=after).values_list("pk", "inserted_at", "started_at", "updated_at")[:_SUM_PAGE])
        if not page:
            return total
        for _, inserted_at, started_at, updated_at in page:
            total += nanoseconds(updated_at - (started_at or inserted_at))
        after = page[-1][0]


def run_adoption(kind: RunKind) -> list[datetime]:
    """When each pipeline ran its first run of ``kind``, oldest first (the adoption curve)."""
    firsts = kind.model.objects.values("pipeline_id").annotate(first=Min("inserted_at")).order_by("first")
    return [row["first"] for row in firsts]


_REPOSITORY = ("pipeline__repo_source", "pipeline__repo_owner", "pipeline__repo_name")


def pipelines_with_most_runs(kind: RunKind, *, filters: Filters) -> QuerySet[Any]:
    """Pipelines ranked by their number of runs of ``kind`` matching ``filters``, most first (``ranking_row`` gives
    each its JSON)."""
    return (
        run_list(kind, filters=filters)
        .order_by()
        .values(*_REPOSITORY)
        .annotate(nr_records=Count("id"))
        .order_by("-nr_records", *_REPOSITORY)
    )


def ranking_row(row: dict[str, Any]) -> dict[str, Any]:
    """A ranked pipeline as Estafette answers it: its column names (``repo_source``…, ``nr_records``)."""
    return {
        "repo_source": row["pipeline__repo_source"],
        "repo_owner": row["pipeline__repo_owner"],
        "repo_name": row["pipeline__repo_name"],
        "nr_records": row["nr_records"],
    }


def _last_runs(kind: RunKind, *, pipeline_id: int, filters: Filters, last: int) -> QuerySet[Any]:
    return run_list(kind, filters=filters, pipeline_id=pipeline_id).order_by("-inserted_at", "-id")[:last]


def run_durations(kind: RunKind, *, pipeline_id: int, filters: Filters, last: int) -> list[dict[str, Any]]:
    """The pipeline's last ``last`` runs of ``kind`` matching ``filters``, oldest first: each its ``insertedAt``,
    ``pendingDuration`` and ``duration`` (ns; 0 while unknown), and the kind's own ``stats_fields``."""
    own = dict(kind.stats_fields)
    rows = _last_runs(kind, pipeline_id=pipeline_id, filters=filters, last=last).values(
        "inserted_at", "started_at", "updated_at", "status", *own.values()
    )
    return [
        {
            "insertedAt": row["inserted_at"],
            **{name: row[column] for name, column in own.items()},
            "pendingDuration": nanoseconds(row["started_at"] - row["inserted_at"]) if row["started_at"] else 0,
            "duration": (
                nanoseconds(row["updated_at"] - (row["started_at"] or row["inserted_at"]))
                if row["status"] in FINAL_STATUSES
                else 0
            ),
        }
        for row in reversed(list(rows))
    ]


def has_measurement(kind: RunKind, measurement: str) -> bool:
    """Whether the kind's table holds ``measurement`` (``cpu`` or ``memory``)."""
    try:
        kind.model._meta.get_field(MEASUREMENTS[measurement][1])
    except FieldDoesNotExist:
        return False
    return True


def run_measurements(
    kind: RunKind, *, measurement: str, pipeline_id: int, filters: Filters, last: int
) -> list[dict[str, Any]]:
    """The measured maximum ``measurement`` of the pipeline's last ``last`` runs of ``kind`` that have one, oldest
    first (``insertedAt``, the kind's ``stats_fields``, ``cpuMaxUsage`` or ``memoryMaxUsage``); none when the
    kind's table has no such column."""
    if not has_measurement(kind, measurement):
        return []
    wire, column = MEASUREMENTS[measurement]
    own = dict(kind.stats_fields)
    runs = run_list(kind, filters=filters, pipeline_id=pipeline_id).filter(**{f"{column}__isnull": False})
    rows = runs.order_by("-inserted_at", "-id").values("inserted_at", column, *own.values())[:last]
    return list(_measured(reversed(list(rows)), own=own, wire=wire, column=column))


def _measured(rows: Iterator[dict[str, Any]], *, own: dict[str, str], wire: str, column: str) -> Iterator[dict]:
    for row in rows:
        yield {"insertedAt": row["inserted_at"], **{name: row[c] for name, c in own.items()}, wire: row[column]}


def run_name_counts(kind: RunKind, *, filters: Filters, pipeline_id: int | None = None) -> QuerySet[Any]:
    """The names of ``kind``'s runs (a release's target, a bot run's bot) matching ``filters``, each with its number
    of runs, most first: rows of ``name`` and ``count``."""
    return (
        run_list(kind, filters=filters, pipeline_id=pipeline_id)
        .order_by()
        .values("name")
        .annotate(count=Count("id"))
        .order_by("-count", "name")
    )
