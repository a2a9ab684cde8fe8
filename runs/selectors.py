"""Reads of the runs of any kind (lists with Estafette's filters, one run of a pipeline) and of the log store (a run's
records, a record's step tree and its lines, and the lines after a cursor)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet, Sum

from estafette.lib.errors import BadRequest, NotFound
from estafette.lib.ids import is_id
from estafette.lib.listing import Filters, capped_count
from pipelines.models import Pipeline
from pipelines.selectors import filter_by_pipeline_facets
from runs.models import LogChunk, LogRecord, LogStep
from runs.registry import RunKind

# -- runs -------------------------------------------------------------------------------------


def run_list(kind: RunKind, *, filters: Filters, pipeline_id: int | None = None) -> QuerySet[Any]:
    """Runs of ``kind`` matching Estafette's list filters, of one pipeline or of all.

    ``filter[labels]`` and ``filter[search]`` match the pipeline's current labels and repository name, which keeps
    them index lookups on a million runs.
    """
    runs = (
        kind.model.objects.select_related("pipeline")
        .prefetch_related("pipeline__groups", "pipeline__organizations")
        .defer(*kind.list_deferred)
    )
    if pipeline_id is not None:
        runs = runs.filter(pipeline_id=pipeline_id)
    if filters.statuses:
        runs = runs.filter(status__in=filters.statuses)
    if filters.since:
        runs = runs.filter(inserted_at__gte=filters.since)
    for name, model_field in kind.own_filters.items():
        value = getattr(filters, name.replace("-", "_"))
        if value:
            runs = runs.filter(**{model_field: value})
    return filter_by_pipeline_facets(runs, filters)


def run_total(kind: RunKind, *, filters: Filters, pipeline_id: int | None = None) -> int:
    """The number of runs ``run_list`` matches.

    Exact for one pipeline, and for the unfiltered list of a kind whose count the read model keeps per pipeline; a
    filtered list over all pipelines counts up to ``COUNT_CAP`` matches.
    """
    if pipeline_id is None and filters.is_empty and kind.pipeline_count_field:
        return int(Pipeline.objects.aggregate(total=Sum(kind.pipeline_count_field))["total"] or 0)
    queryset = run_list(kind, filters=filters, pipeline_id=pipeline_id)
    if pipeline_id is not None:
        return queryset.order_by().count()
    return capped_count(queryset)


def run_get(kind: RunKind, *, pipeline_id: int, key: str) -> Any:
    """The run of ``kind`` that ``key`` names (``RunKind.find``: its id; a build's revision too) within one pipeline.

    Raises ``BadRequest`` for a key that cannot name one and ``NotFound`` when the pipeline has no such run.
    """
    runs = kind.model.objects.select_related("pipeline").prefetch_related("pipeline__groups", "pipeline__organizations")
    run = kind.find(runs.filter(pipeline_id=pipeline_id), key)
    if run is None:
        raise NotFound(f"{kind.label} {key} not found in this pipeline")
    return run


# -- the log store ----------------------------------------------------------------------------


def log_record_latest(*, run_kind: str, run_id: int) -> LogRecord | None:
    return LogRecord.objects.filter(run_kind=run_kind, run_id=run_id).order_by("-attempt").first()


def log_records_of_run(*, run_kind: str, run_id: int) -> QuerySet[LogRecord]:
    return LogRecord.objects.filter(run_kind=run_kind, run_id=run_id).order_by("-attempt")


def log_record_get(*, run_kind: str, run_id: int, record_id: str) -> LogRecord:
    if not is_id(record_id):
        raise BadRequest(f"log id must be a number, got {record_id!r}")
    record = LogRecord.objects.filter(run_kind=run_kind, run_id=run_id, pk=int(record_id)).first()
    if record is None:
        raise NotFound(f"log {record_id} of {run_kind} {run_id} not found")
    return record


@dataclass
class LogStepNode:
    """A step of a record's tree without its lines (those are read step by step: ``log_lines_of_step``)."""

    step: LogStep
    nested_steps: list[LogStepNode] = field(default_factory=list)
    services: list[LogStepNode] = field(default_factory=list)


def log_step_tree(*, record: LogRecord) -> list[LogStepNode]:
    """The record's step tree (one query, no lines): Estafette's BuildLogStep nesting.

    Top-level stages in the order they first appeared; parallel stages under ``nested_steps`` of their parent stage
    and service containers under ``services`` of the stage that declared them; a child whose parent is unknown is a
    top-level step after the stages.
    """
    steps = list(LogStep.objects.filter(record=record).order_by("position", "pk"))
    nodes = {step.pk: LogStepNode(step) for step in steps}
    top_level: list[LogStepNode] = []
    by_name: dict[str, LogStepNode] = {}
    for step in steps:
        if step.kind == "stage" and not step.parent_stage:
            top_level.append(nodes[step.pk])
            by_name[step.name] = nodes[step.pk]  # a re-run (higher run index) becomes the parent
    for step in steps:
        if step.kind == "stage" and step.parent_stage:
            parent = by_name.get(step.parent_stage)
            if parent is None:
                top_level.append(nodes[step.pk])
            else:
                parent.nested_steps.append(nodes[step.pk])
                by_name.setdefault(step.name, nodes[step.pk])
    for step in steps:
        if step.kind == "service":
            parent = by_name.get(step.parent_stage)
            (parent.services if parent is not None else top_level).append(nodes[step.pk])
    return top_level


# How many log lines one read of a step's lines holds at most (unless a single stored chunk is larger): what a log
# reader keeps in memory at a time, however long the log.
LINES_PER_READ = 5_000
_CHUNKS_LOOKED_AHEAD = 256


def log_lines_of_step(*, record_id: int, step_id: int, lines_per_read: int = LINES_PER_READ) -> Iterator[list[Any]]:
    """The step's log lines (``{line, timestamp, streamType, text}``) in order, one list per stored chunk.

    Read in pages of whole chunks holding at most ``lines_per_read`` lines, by seq (keyset pagination on the
    ``(record, seq, step)`` index): memory stays bounded for any log length, and no server-side cursor is needed
    (``QuerySet.iterator()`` would open one ``WITH HOLD``, which CockroachDB does not offer).
    """
    chunks = LogChunk.objects.filter(record_id=record_id, step_id=step_id).order_by("seq")
    after = 0
    while True:
        sizes = list(chunks.filter(seq__gt=after).values_list("seq", "line_count")[:_CHUNKS_LOOKED_AHEAD])
        if not sizes:
            return
        upto, lines = sizes[0][0], 0
        for seq, count in sizes:
            if lines and lines + count > lines_per_read:
                break
            upto, lines = seq, lines + count
        for entries in chunks.filter(seq__gt=after, seq__lte=upto).values_list("entries", flat=True):
            yield [entry["logLine"] for entry in entries if entry.get("logLine") is not None]
        after = upto


def log_step_fields(step: LogStep) -> dict[str, Any]:
    """A step in Estafette's BuildLogStep shape (camelCase), up to its lists (logLines, nestedSteps, services).
    ``image`` is always there, null until the builder reported the step's image (Go's ``json:"image"``)."""
    data: dict[str, Any] = {
        "step": step.name,
        "depth": step.depth,
        "runIndex": step.run_index,
        "image": step.image,
        "duration": step.duration_ns or 0,
        "exitCode": step.exit_code or 0,
        "status": step.status,
        "autoInjected": step.auto_injected,
    }
    return data


def log_steps(*, record: LogRecord) -> list[dict[str, Any]]:
    """The record's whole step tree with every line, as dicts. For small logs (tests, a step's reason); the API
    streams its log documents instead (``runs.log_document``), never holding a whole log."""

    def render(node: LogStepNode) -> dict[str, Any]:
        lines = [line for chunk in log_lines_of_step(record_id=record.pk, step_id=node.step.pk) for line in chunk]
        return {
            **log_step_fields(node.step),
            "logLines": lines,
            "nestedSteps": [render(child) for child in node.nested_steps],
            "services": [render(child) for child in node.services],
        }

    return [render(node) for node in log_step_tree(record=record)]


def log_entries_after(*, record: LogRecord, after_seq: int = 0, limit: int = 500) -> tuple[list[dict[str, Any]], int]:
    """TailLogLines stored after batch ``after_seq``, oldest first, and the cursor to pass next time.

    Reads at most ``limit`` chunks through the (record, seq) index. A cursor only moves forward: the
    builder sends batch seq N+1 after N was acknowledged, so no batch can commit behind the cursor.
    """
    chunks = list(
        LogChunk.objects.filter(record=record, seq__gt=after_seq).select_related("step").order_by("seq", "pk")[:limit]
    )
    if len(chunks) == limit and chunks[0].seq != chunks[-1].seq:
        # The limit may have cut a batch in two: leave its last batch whole for the next read.
        chunks = [chunk for chunk in chunks if chunk.seq != chunks[-1].seq]
    lines: list[dict[str, Any]] = []
    cursor = after_seq
    for chunk in chunks:
        step = chunk.step
        identity = {
            "step": step.name,
            "parentStage": step.parent_stage,
            "type": step.kind,
            "depth": step.depth,
            "runIndex": step.run_index,
            "autoInjected": step.auto_injected,
        }
        lines.extend({**identity, **entry} for entry in chunk.entries)
        cursor = max(cursor, chunk.seq)
    return lines, cursor
