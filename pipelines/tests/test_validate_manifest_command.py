"""``manage.py validate_manifest`` runs the manifest library's validator."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

FIXTURES = Path(__file__).resolve().parents[2] / "builder" / "manifest" / "tests" / "corpus" / "estafette-ci-manifest"


def test_it_accepts_a_valid_manifest_silently() -> None:
    # given a valid manifest
    out = io.StringIO()

    # when it is validated
    call_command("validate_manifest", str(FIXTURES / "test-manifest.yaml"), stdout=out, stderr=io.StringIO())

    # then nothing is reported
    assert out.getvalue() == ""


def test_it_prints_each_error_and_fails_for_an_invalid_manifest() -> None:
    # given Estafette's manifest with an unknown top-level key
    path = FIXTURES / "test-non-strict-manifest.yaml"
    out = io.StringIO()

    # when it is validated
    with pytest.raises(CommandError) as raised:
        call_command("validate_manifest", str(path), stdout=out, stderr=io.StringIO())

    # then the error is printed as FILE:LINE:COL: MESSAGE and the exit code is 1
    assert out.getvalue() == f"{path}:1:1: field unknownProperty not found in type manifest.EstafetteManifest\n"
    assert raised.value.returncode == 1


def test_it_prints_the_defaulted_manifest_as_json() -> None:
    # given a valid manifest
    out = io.StringIO()

    # when it is validated with --json
    call_command("validate_manifest", str(FIXTURES / "test-manifest-with-bots.yaml"), json=True, stdout=out)

    # then the manifest after defaults is printed
    assert '"bots": [' in out.getvalue()
