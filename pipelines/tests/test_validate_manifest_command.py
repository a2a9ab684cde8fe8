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


def test_it_reports_the_limits_and_undecodable_bytes_as_manifest_errors(tmp_path: Path) -> None:
    # given a manifest over 1 MiB and one whose bytes are Latin-1
    large = tmp_path / "large.yaml"
    large.write_bytes(b"stages: {}\n#" + b"x" * (1 << 20))
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"stages:\n  build:\n    image: caf\xe9\n")
    out = io.StringIO()

    # when they are validated
    with pytest.raises(CommandError) as raised:
        call_command("validate_manifest", str(large), str(latin1), stdout=out, stderr=io.StringIO())

    # then each is invalid with its error (not an unreadable file)
    assert out.getvalue().splitlines() == [
        f"{large}:1:1: the manifest is larger than 1048576 bytes (1 MiB), the most a manifest may have",
        f"{latin1}:3:15: the manifest is not valid UTF-8: byte 0xe9 at byte offset 31 (invalid continuation byte); "
        "save the file as UTF-8",
    ]
    assert raised.value.returncode == 1
