"""A small checker of JSON shapes: the fields, and their types, that Estafette's web UI reads from an answer.

A shape is written as the JSON it describes, with Python types as leaves::

    {"id": str, "duration?": int, "labels": [{"key": str, "value": str}], "startedAt?": TIMESTAMP}

``"name?"``: the field may be absent (Go's ``omitempty``); a list holds one shape every item must have (an empty
list passes); ``int`` refuses booleans, ``float`` takes any number; ``Nullable(shape)`` also takes null;
``TIMESTAMP`` is an RFC 3339 text in UTC. Fields an answer has beyond the shape are allowed (the UI ignores them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TIMESTAMP_PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


class _Timestamp:
    def __repr__(self) -> str:
        return "TIMESTAMP"


TIMESTAMP = _Timestamp()


@dataclass(frozen=True)
class Nullable:
    shape: Any


def mismatches(value: Any, shape: Any, where: str = "$") -> list[str]:
    """Every way ``value`` differs from ``shape``, as ``path: what``; empty when it fits."""
    if isinstance(shape, Nullable):
        return [] if value is None else mismatches(value, shape.shape, where)
    if shape is TIMESTAMP:
        ok = isinstance(value, str) and TIMESTAMP_PATTERN.match(value)
        return [] if ok else [f"{where}: expected an RFC 3339 UTC time, got {value!r}"]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__}"]
        found: list[str] = []
        for key, inner in shape.items():
            name, optional = key.rstrip("?"), key.endswith("?")
            if name not in value:
                if not optional:
                    found.append(f"{where}.{name}: missing")
                continue
            found += mismatches(value[name], inner, f"{where}.{name}")
        return found
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        return [problem for i, item in enumerate(value) for problem in mismatches(item, shape[0], f"{where}[{i}]")]
    if shape is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected an integer, got {value!r}"]
    if shape is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected a number, got {value!r}"]
    if isinstance(shape, type):
        return [] if isinstance(value, shape) else [f"{where}: expected {shape.__name__}, got {value!r}"]
    return [] if value == shape else [f"{where}: expected {shape!r}, got {value!r}"]


def page_of(item: Any) -> dict[str, Any]:
    """Estafette's list envelope (contracts: list_response.go) of ``item``."""
    return {"items": [item], "pagination": {"page": int, "size": int, "totalPages": int, "totalItems": int}}
