"""Small helpers shared by the model modules: positions on frozen objects and compact camelCase dicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any

from builder.manifest.errors import START, Position


def positions_field() -> Any:
    """Where a parsed object's values were written; not part of equality, repr or the dict form."""
    return field(default_factory=dict, compare=False, repr=False)


def where(positions: Mapping[str, Position], key: str = "") -> Position:
    """The position of ``key``'s value, else of the object itself, else the start of the document."""
    return positions.get(key) or positions.get("") or START


def compact(items: Mapping[str, Any]) -> dict[str, Any]:
    """Drop what Go's ``omitempty`` drops: ``None``, ``""``, ``False``, empty lists and maps."""
    return {
        key: value
        for key, value in items.items()
        if value is not None
        and value != ""
        and value is not False
        and not (isinstance(value, (list, tuple, dict)) and not value)
    }
