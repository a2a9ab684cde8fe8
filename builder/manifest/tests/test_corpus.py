"""Every corpus manifest loads, and agrees with what Estafette's own library makes of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.manifest import Manifest, ManifestErrors, load_manifest
from builder.manifest.tests.corpus import FIXTURES, REAL_MANIFESTS, VALID_FIXTURES, expected_for, without_empty

CORPUS_MANIFESTS = [*REAL_MANIFESTS, *VALID_FIXTURES]


@pytest.mark.parametrize("path", CORPUS_MANIFESTS, ids=lambda path: path.name)
def test_it_defaults_every_corpus_manifest_exactly_as_estafette_does(path: Path) -> None:
    # given a manifest and Estafette's defaulted form of it
    expected = json.loads(expected_for(path).read_text())

    # when it is loaded with the default preferences
    manifest = load_manifest(path.read_text(), path=path.name)

    # then every field Estafette sets agrees, and nothing else is set
    assert without_empty(manifest.to_dict()) == without_empty(expected)


@pytest.mark.parametrize("path", CORPUS_MANIFESTS, ids=lambda path: path.name)
def test_it_round_trips_every_corpus_manifest_through_its_dict_form(path: Path) -> None:
    # given a loaded manifest
    manifest = load_manifest(path.read_text(), path=path.name)

    # when it goes to its JSON form and back
    again = Manifest.from_dict(json.loads(json.dumps(manifest.to_dict())))

    # then nothing is lost
    assert again == manifest
    assert again.to_dict() == manifest.to_dict()


def test_it_rejects_the_non_strict_fixture_naming_the_unknown_key_and_its_line() -> None:
    # given Estafette's fixture with an unknown top-level key
    path = FIXTURES / "test-non-strict-manifest.yaml"
    line = next(number for number, text in enumerate(path.read_text().splitlines(), 1) if "unknownProperty" in text)

    # when it is loaded
    with pytest.raises(ManifestErrors) as raised:
        load_manifest(path.read_text(), path=path.name)

    # then the one error names the key and points at it
    assert [str(error) for error in raised.value.errors] == [
        f"test-non-strict-manifest.yaml:{line}:1: field unknownProperty not found in type manifest.EstafetteManifest"
    ]
