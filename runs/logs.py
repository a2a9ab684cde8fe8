"""What the log store keeps of the builder's TailLogLines: one chunk entry per line, masked and cut.

The lines arrive parsed (``builder.contracts.LogBatch``), and parsing is their only check: the contract types refuse
what the store cannot hold (see ``TailLogLine``). A line's step identity is kept by its ``LogStep``; the rest becomes
the entry a ``LogChunk`` keeps — ``{"logLine": {line, timestamp, streamType, text}}`` and/or the step's ``status``,
``exitCode``, ``duration`` and ``image``, in that order, as the builder's JSON spells them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from builder.contracts import TailLogLine, truncate_log_text
from builder.secrets import Masker

# A line and the chunk entry the log store keeps of it.
LogEntry = tuple[TailLogLine, dict[str, Any]]


def log_entries(lines: Sequence[TailLogLine], masker: Masker | None = None) -> list[LogEntry]:
    """Each line with its chunk entry: the text masked with ``masker`` (values the API knows are secret), then cut to
    ``MAX_LOG_LINE_CHARS`` — longer lines are cut and marked rather than refused: one runaway line must not lose the
    batch. Masking comes first so that a secret the cut would split is hidden whole."""
    mask = masker.mask if masker is not None else None
    entries: list[LogEntry] = []
    append = entries.append
    for tail in lines:  # the hottest loop of the builder endpoints: up to 10 000 lines a batch
        entry: dict[str, Any] = {}
        log_line = tail.log_line
        if log_line is not None:
            text = log_line.text
            if mask is not None and text:
                text = mask(text)
            entry["logLine"] = {
                "line": log_line.line,
                "timestamp": log_line.timestamp,
                "streamType": log_line.stream_type,
                "text": truncate_log_text(text),
            }
        if tail.status is not None:
            entry["status"] = tail.status
        if tail.exit_code is not None:
            entry["exitCode"] = tail.exit_code
        if tail.duration is not None:
            entry["duration"] = tail.duration
        if tail.image is not None:
            entry["image"] = tail.image.to_dict()
        append((tail, entry))
    return entries
