"""The one place the apps read a ``.estafette.yaml``: through ``builder.manifest`` (CONTRACTS §1).

``parse_manifest`` never raises for a bad manifest: it returns the errors, because Estafette still
records a (failed) build for a push with an invalid manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from django.conf import settings

from builder.manifest import Manifest, ManifestErrors, ManifestPreferences, load_manifest
from builder.manifest.limits import decode_manifest, storable_text
from builder.manifest.version import compute_version, counter_from_version

MANIFEST_PATH = ".estafette.yaml"


@dataclass(frozen=True)
class ParsedManifest:
    """A manifest as a build records it. ``manifest`` is None when it is invalid; ``errors`` then say why."""

    manifest: Manifest | None
    text: str = ""  # the manifest as the build records it (see ``parse_manifest``)
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


def server_preferences() -> ManifestPreferences:
    """The installation's manifest preferences (``ESTAFETTE_MANIFEST_PREFERENCES`` / the config file)."""
    return ManifestPreferences.from_dict(settings.MANIFEST_PREFERENCES)


def parse_manifest(
    source: str | bytes, *, pipeline_full_name: str, preferences: ManifestPreferences | None = None
) -> ParsedManifest:
    """Load and validate a manifest, as the file's bytes (a push) or text (a stored build), with the server's
    preferences unless given; collect what the build row and the read model need from it.

    ``text`` is what the build records: the manifest's exact text, or ``""`` for one that cannot be recorded as
    it is (over the size limit, not UTF-8; ``builder.manifest.limits.storable_text``)."""
    try:
        text = decode_manifest(source, path=MANIFEST_PATH)
        manifest = load_manifest(text, path=MANIFEST_PATH, preferences=preferences or server_preferences())
    except ManifestErrors as errors:
        return ParsedManifest(
            manifest=None, text=storable_text(source), errors=tuple(str(error) for error in errors.errors)
        )
    return ParsedManifest(
        manifest=manifest,
        text=text,
        labels=[{"key": key, "value": value} for key, value in sorted(manifest.labels.items())],
        release_targets=[
            {
                "name": release.name,
                "actions": [{"name": action.name, "hideBadge": action.hide_badge} for action in release.actions],
            }
            for release in manifest.releases
        ],
        triggers=[trigger.to_dict() for trigger in manifest.all_triggers(pipeline_full_name)],
        bots=tuple(bot.name for bot in manifest.bots),
        with_defaults=yaml.safe_dump(manifest.to_dict(), sort_keys=False, allow_unicode=True),
    )
