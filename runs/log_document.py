"""``GET …/logs`` and ``…/logsbyid/{id}`` of builds, releases and bot runs: the log document, streamed.

A log can hold hundreds of thousands of lines (a 300 k-line log is ~47 MB of JSON). Building it as one dict and
rendering it costs several times that in a web worker, per reader, and the worker keeps the memory: a few parallel
readers left the workers at 2.2 GB. Here the same JSON document (``runs.serializers.LogSerializer``: the record's
fields, then its step tree with each step's ``logLines``) is written piece by piece while the log store is read step
by step, a bounded page of lines at a time (``runs.selectors.log_lines_of_step``): what a reader costs does not
grow with the log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse

from estafette.lib.serializers import TimestampField
from runs.models import LogRecord
from runs.selectors import LogStepNode, log_lines_of_step, log_step_fields, log_step_tree

FLUSH_BYTES = 64 * 1024  # pieces are gathered to about this size before they go to the socket
LINES_PER_PIECE = 200  # lines encoded at once: one stored chunk may hold thousands


def _json(value: Any) -> str:
    # As DRF's JSONRenderer writes it (compact, UTF-8, U+2028/U+2029 escaped for JavaScript).
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def log_document_pieces(record: LogRecord, *, run_fields: dict[str, str]) -> Iterator[str]:
    """The log document of ``record`` as consecutive JSON text pieces; ``run_fields`` adds e.g. ``buildID``."""
    pipeline = record.pipeline
    head = {
        "id": str(record.pk),
        "repoSource": pipeline.repo_source,
        "repoOwner": pipeline.repo_owner,
        "repoName": pipeline.repo_name,
        **run_fields,
        "insertedAt": TimestampField().to_representation(record.inserted_at),
    }
    yield _json(head)[:-1] + ',"steps":'
    yield from _steps(record, log_step_tree(record=record))
    yield "}"


def _steps(record: LogRecord, nodes: list[LogStepNode]) -> Iterator[str]:
    yield "["
    for index, node in enumerate(nodes):
        if index:
            yield ","
        yield _json(log_step_fields(node.step))[:-1] + ',"logLines":['
        first = True
        for lines in log_lines_of_step(record_id=record.pk, step_id=node.step.pk):
            for start in range(0, len(lines), LINES_PER_PIECE):
                yield ("" if first else ",") + _json(lines[start : start + LINES_PER_PIECE])[1:-1]
                first = False
        yield '],"nestedSteps":'
        yield from _steps(record, node.nested_steps)
        yield ',"services":'
        yield from _steps(record, node.services)
        yield "}"
    yield "]"


def _gathered(pieces: Iterator[str]) -> Iterator[bytes]:
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= FLUSH_BYTES:
            # "replace": a lone surrogate (a "\ud800" escape a builder sent) must not break the stream half-way.
            yield "".join(buffer).encode("utf-8", "replace")
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode("utf-8", "replace")


def log_document_response(record: LogRecord, *, run_fields: dict[str, str]) -> StreamingHttpResponse:
    """The streamed JSON response of ``record``'s log document (already authorised and found)."""
    return StreamingHttpResponse(
        _gathered(log_document_pieces(record, run_fields=run_fields)), content_type="application/json"
    )
