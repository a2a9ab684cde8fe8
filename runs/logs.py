"""Checking TailLogLines from the builder before they reach the log store.

A TailLogLine (CONTRACTS §3) is ``{step, parentStage, type, depth, runIndex, logLine?, image?,
duration?, exitCode?, status?, autoInjected?}``. ``normalise_batch`` checks each one and splits it
into the step's identity and the entry stored in a chunk, raising ``BadRequest`` that names the
offending line and field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from builder.contracts import truncate_log_text
from estafette.lib.errors import BadRequest
from runs.models import StepKind, StepStatus

MAX_LINES_PER_BATCH = 10_000
STREAM_TYPES = ("stdout", "stderr")
IMAGE_FIELDS = {
    "name": str,
    "tag": str,
    "isPulled": bool,
    "imageSize": int,
    "pullDuration": int,
    "error": str,
    "isTrusted": bool,
    "hasInjectedCredentials": bool,
}


def normalise_batch(lines: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Check a batch; each result has ``step, parentStage, type, depth, runIndex, autoInjected, entry``."""
    if not isinstance(lines, Sequence) or isinstance(lines, str | bytes):
        raise BadRequest("lines must be a list of TailLogLine objects")
    if len(lines) > MAX_LINES_PER_BATCH:
        raise BadRequest(f"a batch holds at most {MAX_LINES_PER_BATCH} lines, got {len(lines)}; send smaller batches")
    return [_normalise(index, line) for index, line in enumerate(lines)]


def _normalise(index: int, line: Any) -> dict[str, Any]:
    where = f"lines[{index}]"
    if not isinstance(line, Mapping):
        raise BadRequest(f"{where} must be an object")
    step = line.get("step")
    if not isinstance(step, str) or not step.strip() or len(step) > 256:
        raise BadRequest(f"{where}.step must be a stage or service name")
    parent = line.get("parentStage") or ""
    if not isinstance(parent, str) or len(parent) > 256:
        raise BadRequest(f"{where}.parentStage must be a stage name")
    kind = line.get("type") or StepKind.STAGE
    if kind not in StepKind.values:
        raise BadRequest(f"{where}.type must be stage or service, got {kind!r}")
    entry: dict[str, Any] = {}
    if line.get("logLine") is not None:
        entry["logLine"] = _log_line(where, line["logLine"])
    if line.get("status") is not None:
        status = line["status"]
        if status not in StepStatus.values:
            raise BadRequest(f"{where}.status must be one of {', '.join(StepStatus.values)}, got {status!r}")
        entry["status"] = status
    for name in ("exitCode", "duration"):
        if line.get(name) is not None:
            entry[name] = _integer(f"{where}.{name}", line[name])
    if line.get("image") is not None:
        entry["image"] = _image(f"{where}.image", line["image"])
    return {
        "step": step,
        "parentStage": parent,
        "type": kind,
        "depth": _integer(f"{where}.depth", line.get("depth", 1 if parent else 0), minimum=0),
        "runIndex": _integer(f"{where}.runIndex", line.get("runIndex", 0), minimum=0),
        "autoInjected": bool(line.get("autoInjected", False)),
        "entry": entry,
    }


def _log_line(where: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise BadRequest(f"{where}.logLine must be an object")
    text = raw.get("text", "")
    if not isinstance(text, str):
        raise BadRequest(f"{where}.logLine.text must be a string")
    stream = raw.get("streamType", "stdout")
    if stream not in STREAM_TYPES:
        raise BadRequest(f"{where}.logLine.streamType must be stdout or stderr, got {stream!r}")
    timestamp = raw.get("timestamp", "")
    if not isinstance(timestamp, str):
        raise BadRequest(f"{where}.logLine.timestamp must be an RFC 3339 string")
    return {
        "line": _integer(f"{where}.logLine.line", raw.get("line", 0), minimum=0),
        "timestamp": timestamp,
        "streamType": stream,
        # Longer lines are cut (and marked) rather than refused: one runaway line must not lose the batch.
        "text": truncate_log_text(text),
    }


def _image(where: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise BadRequest(f"{where} must be an object")
    image: dict[str, Any] = {}
    for name, kind in IMAGE_FIELDS.items():
        value = raw.get(name)
        if value is None:
            continue
        if kind is int:
            value = _integer(f"{where}.{name}", value)
        elif not isinstance(value, kind):
            raise BadRequest(f"{where}.{name} must be a {kind.__name__}")
        image[name] = value
    return image


def _integer(where: str, value: Any, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{where} must be a whole number, got {value!r}")
    if minimum is not None and value < minimum:
        raise BadRequest(f"{where} must be at least {minimum}, got {value}")
    return value
