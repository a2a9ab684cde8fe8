"""Small helpers for the manifest tests."""

from __future__ import annotations

import textwrap

import pytest

from builder.manifest import Manifest, ManifestErrors, ManifestPreferences, load_manifest

A_STAGE = "stages:\n  build:\n    image: golang\n"


def load(text: str, preferences: ManifestPreferences | None = None) -> Manifest:
    return load_manifest(textwrap.dedent(text), preferences=preferences)


def errors_of(text: str, preferences: ManifestPreferences | None = None) -> list[str]:
    """The rendered errors of a manifest that must be invalid."""
    with pytest.raises(ManifestErrors) as raised:
        load_manifest(textwrap.dedent(text), preferences=preferences)
    return [str(error) for error in raised.value.errors]
