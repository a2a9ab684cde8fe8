"""The ``builder`` section: which builder image track and operating system run the stages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from yaml.nodes import Node

from builder.manifest.errors import ErrorCollector, Position
from builder.manifest.fields import compact, positions_field, where
from builder.manifest.loader import Fields
from builder.manifest.preferences import ManifestPreferences

BUILDER_KEYS = frozenset({"track", "os", "medium", "type"})
OPERATING_SYSTEMS = ("linux", "windows")
STORAGE_MEDIUMS = ("", "memory")
BUILDER_TYPES = ("docker", "kubernetes")


@dataclass(frozen=True)
class Builder:
    """``track`` picks the builder image tag; ``medium: memory`` puts the work dirs on tmpfs."""

    track: str = ""
    os: str = ""
    medium: str = ""
    type: str = ""
    positions: Mapping[str, Position] = positions_field()

    def to_dict(self) -> dict[str, Any]:
        return compact({"track": self.track, "os": self.os, "medium": self.medium, "type": self.type})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Builder:
        return cls(
            track=data.get("track") or "",
            os=data.get("os") or "",
            medium=data.get("medium") or "",
            type=data.get("type") or "",
        )


def parse_builder(node: Node | None, errors: ErrorCollector, *, owner: Position, strict: bool) -> Builder:
    fields = Fields(node, errors, owner=owner, type_name="manifest.EstafetteBuilder")
    if strict:
        fields.reject_unknown(BUILDER_KEYS, "manifest.EstafetteBuilder")
    return Builder(
        track=fields.string("track"),
        os=fields.string("os"),
        medium=fields.string("medium"),
        type=fields.string("type"),
        positions=fields.positions(),
    )


def builder_with_defaults(builder: Builder, preferences: ManifestPreferences) -> Builder:
    """The OS defaults to the first preferred one, the track to that OS's first track, the type to docker."""
    os = builder.os or preferences.default_operating_system
    tracks = preferences.builder_tracks_per_operating_system.get(os) or ()
    track = builder.track or (tracks[0] if tracks else "")
    return replace(builder, os=os, track=track, type=builder.type or "docker")


def validate_builder(builder: Builder, preferences: ManifestPreferences, errors: ErrorCollector) -> None:
    """Estafette checks the OS first and only then the track; an unknown OS makes the track moot."""
    owner = builder.positions.get("")
    if builder.os not in preferences.builder_operating_systems:
        allowed = ", ".join(os for os in preferences.builder_operating_systems if os)
        errors.invalid(owner, where(builder.positions, "os"), f"builder os should be one of: {allowed}")
        return
    tracks = preferences.builder_tracks_per_operating_system.get(builder.os)
    if tracks is None:
        message = f"no track preferences have been configured for os {builder.os}"
        errors.invalid(owner, where(builder.positions, "os"), message)
        return
    if builder.track not in tracks:
        message = f"builder track should be one of: {', '.join(tracks)}"
        errors.invalid(owner, where(builder.positions, "track"), message)
