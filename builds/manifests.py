"""The one place the apps read a ``.estafette.yaml``: through ``builder.manifest`` (CONTRACTS §1).

``parse_manifest`` never raises for a bad manifest: it returns the errors, because Estafette still
records a (failed) build for a push with an invalid manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

try:
    from builder.manifest.version import compute_version, counter_from_version

    from builder.manifest import Manifest, ManifestErrors, ManifestPreferences, load_manifest
except ImportError:  # TEMPORARY: until branch `manifest` is merged (see builds/_interim_manifest.py)
    from builds._interim_manifest import (  # type: ignore[assignment]
        Manifest,
        ManifestErrors,
        ManifestPreferences,
        compute_version,
        counter_from_version,
        load_manifest,
    )

MANIFEST_PATH = ".estafette.yaml"


@dataclass(frozen=True)
class ParsedManifest:
    """A manifest as a build records it. ``manifest`` is None when it is invalid; ``errors`` then say why."""

    manifest: Manifest | None
    errors: tuple[str, ...] = ()
    labels: list[dict[str, str]] = field(default_factory=list)
    release_targets: list[dict[str, Any]] = field(default_factory=list)
    triggers: list[dict[str, Any]] = field(default_factory=list)
    bots: tuple[str, ...] = ()
    with_defaults: str = ""

    @property
    def valid(self) -> bool:
        return self.manifest is not None

    def version(self, *, counter: int, branch: str, revision: str) -> str:
        """The build version for ``counter``; an invalid manifest gets the bare counter (ESTAFETTE.md §1.5)."""
        if self.manifest is None:
            return str(counter)
        return compute_version(self.manifest.version, counter=counter, branch=branch, revision=revision).version

    def counter_of(self, build_version: str) -> int | None:
        """The counter a version was made from, for a rebuild that keeps its version."""
        if self.manifest is None:
            return int(build_version) if build_version.isdigit() else None
        return counter_from_version(build_version, self.manifest.version)


def parse_manifest(
    text: str, *, pipeline_full_name: str, preferences: ManifestPreferences | None = None
) -> ParsedManifest:
    """Load and validate ``text``; collect what the build row and the read model need from it."""
    try:
        manifest = load_manifest(text, path=MANIFEST_PATH, preferences=preferences)
    except ManifestErrors as errors:
        return ParsedManifest(manifest=None, errors=tuple(str(error) for error in errors.errors))
    as_dict = manifest.to_dict()
    return ParsedManifest(
        manifest=manifest,
        labels=_labels(as_dict.get("labels")),
        release_targets=_release_targets(as_dict.get("releases")),
        triggers=[_as_dict(trigger) for trigger in manifest.all_triggers(pipeline_full_name)],
        bots=tuple(bot["name"] for bot in as_dict.get("bots") or []),
        with_defaults=yaml.safe_dump(as_dict, sort_keys=False, allow_unicode=True),
    )


def _labels(raw: Any) -> list[dict[str, str]]:
    """Estafette's ``[{key, value}]``, sorted by key."""
    if isinstance(raw, dict):
        pairs = raw.items()
    else:
        pairs = ((item.get("key") or item.get("name"), item.get("value")) for item in raw or [])
    return [{"key": str(key), "value": str(value)} for key, value in sorted(pairs)]


def _release_targets(raw: Any) -> list[dict[str, Any]]:
    """Estafette's ``releaseTargets``: ``[{name, actions: [{name, hideBadge}]}]`` in manifest order."""
    targets = []
    for release in raw or []:
        actions = [
            {"name": action["name"], "hideBadge": bool(action.get("hideBadge", False))}
            for action in release.get("actions") or []
        ]
        targets.append({"name": release["name"], "actions": actions})
    return targets


def _as_dict(value: Any) -> dict[str, Any]:
    return value.to_dict() if hasattr(value, "to_dict") else dict(value)
