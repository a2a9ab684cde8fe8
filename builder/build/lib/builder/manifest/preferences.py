"""Server-side manifest preferences: passed in by the caller, never read from settings here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TRACKS: Mapping[str, tuple[str, ...]] = {
    "linux": ("stable", "beta", "dev"),
    "windows": ("nanoserver-1809-stable", "nanoserver-1809-beta", "nanoserver-1809-dev"),
}


@dataclass(frozen=True)
class ManifestPreferences:
    """What the server allows and defaults to (Estafette's ``manifestPreferences``).

    ``label_regexes`` maps a label key to the pattern its value must fully match; the first operating
    system is the default one, and the first track listed for an operating system is its default track.
    """

    label_regexes: Mapping[str, str] = field(default_factory=dict)
    builder_operating_systems: tuple[str, ...] = ("linux", "windows")
    builder_tracks_per_operating_system: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_TRACKS)
    )
    default_branch: str = "master"

    @property
    def default_operating_system(self) -> str:
        return self.builder_operating_systems[0] if self.builder_operating_systems else ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ManifestPreferences:
        """Read Estafette's camelCase ``manifestPreferences`` shape; missing keys keep their defaults."""
        defaults = cls()
        tracks = data.get("builderTracksPerOperatingSystem")
        return cls(
            label_regexes=dict(data.get("labelRegexes") or {}),
            builder_operating_systems=tuple(data.get("builderOperatingSystems") or defaults.builder_operating_systems),
            builder_tracks_per_operating_system=(
                {os: tuple(names) for os, names in tracks.items()}
                if tracks
                else dict(defaults.builder_tracks_per_operating_system)
            ),
            default_branch=data.get("defaultBranch") or defaults.default_branch,
        )
