"""Manifest errors: every problem found in a manifest, each pointing at the node it is about."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple


class Position(NamedTuple):
    """A 1-based line and column in the manifest text."""

    line: int
    column: int


START = Position(1, 1)


@dataclass(frozen=True)
class ManifestError:
    """One problem in a manifest; ``str()`` renders it as ``path:line:col: message`` like a compiler."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class ManifestErrors(Exception):
    """Raised once per manifest with every error found, in Estafette's validation order."""

    def __init__(self, errors: Iterable[ManifestError]) -> None:
        self.errors: list[ManifestError] = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


MAX_EXPANDED_NODES = 200_000  # a real manifest has a few thousand; aliases can expand exponentially


class ManifestTooLarge(Exception):
    """Raised (and turned into a ManifestError) when a document expands beyond ``MAX_EXPANDED_NODES``."""


class ErrorCollector:
    """Accumulates errors while a manifest is parsed and validated, and bounds the work reading it takes.

    Parsing marks the objects it could not read completely as *tainted*; validation errors about a
    tainted object are dropped, because they would only repeat the parse error in other words
    (a stage whose ``image`` has the wrong type would otherwise also "have no image set").
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.errors: list[ManifestError] = []
        self._seen: set[tuple[int, int, str]] = set()
        self._tainted: set[Position] = set()
        self._nodes_left = MAX_EXPANDED_NODES

    def spend(self, nodes: int) -> None:
        """Account for reading ``nodes`` YAML nodes; aliases make a small text expand without bound
        ("billion laughs"), so reading stops with ``ManifestTooLarge`` past the budget.
        """
        self._nodes_left -= nodes
        if self._nodes_left < 0:
            raise ManifestTooLarge

    def __len__(self) -> int:
        return len(self.errors)

    def add(self, position: Position, message: str) -> None:
        """Record an error; the same message at the same place is recorded once (templates repeat stages)."""
        key = (position.line, position.column, message)
        if key in self._seen:
            return
        self._seen.add(key)
        self.errors.append(ManifestError(self.path, position.line, position.column, message))

    def taint(self, owner: Position) -> None:
        self._tainted.add(owner)

    def invalid(self, owner: Position | None, position: Position, message: str) -> None:
        """Record a validation error about the object at ``owner`` unless parsing already reported it broken."""
        if owner is not None and owner in self._tainted:
            return
        self.add(position, message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ManifestErrors(self.errors)
