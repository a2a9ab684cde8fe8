"""The one place the apps read a ``.estafette.yaml``: through ``builder.manifest`` (CONTRACTS §1).

``parse_manifest`` never raises for a bad manifest: it returns the errors, because Estafette still
records a (failed) build for a push with an invalid manifest.

A process keeps its last few parses (``PARSES_KEPT``, of manifests up to ``PARSE_KEPT_BYTES``): the build's creation
parses its manifest and its dispatch, in the same worker process a moment later, finds that parse instead of loading,
defaulting and validating the same text again (issue 17: the server parsed every build's manifest twice). A release,
bot run or rebuild of a recent build finds it too. Where creation and dispatch run in separate processes (Kubernetes),
dispatch parses once itself.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
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


PARSES_KEPT = 32
PARSE_KEPT_BYTES = 64 * 1024  # a larger manifest is parsed each time rather than held (a typical one is ~1 KB)
_parses: OrderedDict[tuple[str | bytes, str, str], ParsedManifest] = OrderedDict()
_parses_lock = threading.Lock()  # the worker's consumers run on threads of one process


def parse_manifest(
    source: str | bytes, *, pipeline_full_name: str, preferences: ManifestPreferences | None = None
) -> ParsedManifest:
    """Load and validate a manifest, as the file's bytes (a push) or text (a stored build), with the server's
    preferences unless given; collect what the build row and the read model need from it.

    ``text`` is what the build records: the manifest's exact text, or ``""`` for one that cannot be recorded as
    it is (over the size limit, not UTF-8; ``builder.manifest.limits.storable_text``). The same source, pipeline
    and preferences as one of the process's recent parses give that parse (see the module's docstring); the
    ``Manifest`` is shared, frozen, and its callers only read it."""
    preferences = preferences or server_preferences()
    if len(source) > PARSE_KEPT_BYTES:
        return _parse(source, pipeline_full_name=pipeline_full_name, preferences=preferences)
    # The preferences' repr stands for them: a frozen dataclass of plain values, but holding dicts (not hashable).
    key = (source, pipeline_full_name, repr(preferences))
    with _parses_lock:
        parsed = _parses.get(key)
        if parsed is not None:
            _parses.move_to_end(key)
    if parsed is None:
        parsed = _parse(source, pipeline_full_name=pipeline_full_name, preferences=preferences)
        with _parses_lock:
            _parses[key] = parsed
            if parsed.text and parsed.text != source:
                # A push's bytes are recorded as text, which dispatch (and everything after) parses.
                _parses[(parsed.text, *key[1:])] = parsed
            while len(_parses) > PARSES_KEPT:
                _parses.popitem(last=False)
    # Its JSON-shaped parts become a build's fields, which code may change in place: each caller gets its own.
    return replace(
        parsed,
        labels=copy.deepcopy(parsed.labels),
        release_targets=copy.deepcopy(parsed.release_targets),
        triggers=copy.deepcopy(parsed.triggers),
    )


def forget_parses() -> None:
    """Drop the process's kept parses (tests that count parses start from none)."""
    with _parses_lock:
        _parses.clear()


def _parse(source: str | bytes, *, pipeline_full_name: str, preferences: ManifestPreferences) -> ParsedManifest:
    try:
        text = decode_manifest(source, path=MANIFEST_PATH)
        manifest = load_manifest(text, path=MANIFEST_PATH, preferences=preferences)
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
