"""``python -m builder.manifest``: validate, version and schema, with the documented exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from builder.manifest.cli import main
from builder.manifest.tests.corpus import EXPECTED, FIXTURES, without_empty

REPO = Path(__file__).resolve().parents[3]
VALID = FIXTURES / "test-manifest.yaml"
INVALID = FIXTURES / "test-non-strict-manifest.yaml"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_it_exits_0_and_prints_nothing_for_valid_manifests() -> None:
    # given a valid manifest
    # when it is validated
    status, out, _ = run("validate", str(VALID))

    # then it passes silently
    assert (status, out) == (0, "")


def test_it_prints_errors_as_file_line_col_message_and_exits_1(tmp_path: Path) -> None:
    # given a valid and two invalid manifests
    broken = tmp_path / "broken.yaml"
    broken.write_text("stages:\n  build: {}\n")

    # when they are validated together
    status, out, err = run("validate", str(VALID), str(INVALID), str(broken))

    # then every error is printed with its file and the exit code is 1
    assert status == 1
    assert out.splitlines() == [
        f"{INVALID}:1:1: field unknownProperty not found in type manifest.EstafetteManifest",
        f"{broken}:2:3: Stage build has no image set",
    ]
    assert "3 manifest(s) checked, 2 invalid" in err


def test_it_prints_the_defaulted_manifest_as_json() -> None:
    # given a valid fixture and Estafette's defaulted form of it
    expected = json.loads((EXPECTED / "test-manifest.json").read_text())

    # when it is validated with --json
    status, out, _ = run("validate", "--json", str(VALID))

    # then the JSON agrees with Estafette on every field it sets
    assert status == 0
    assert without_empty(json.loads(out)) == without_empty(expected)


@pytest.mark.parametrize(
    "argv",
    [
        ("validate",),
        ("validate", "--json", str(VALID), str(VALID)),
        ("validate", "does-not-exist.yaml"),
        ("version", str(VALID), "--branch", "main", "--revision", "abc"),
        ("nonsense",),
    ],
)
def test_it_exits_2_on_usage_errors(argv: tuple[str, ...]) -> None:
    # given bad arguments
    # when the command runs
    try:
        status, _, _ = run(*argv)
    except SystemExit as exit_:  # argparse exits itself
        status = int(exit_.code or 0)

    # then the exit code is 2
    assert status == 2


def test_it_prints_the_version_of_a_build() -> None:
    # given the main fixture (semver 1.2, release branch main)
    # when the version of a feature-branch build is asked
    status, out, _ = run("version", str(VALID), "--branch", "feature/x", "--revision", "abc", "--counter", "17")

    # then it is Estafette's version
    assert (status, out) == (0, "1.2.17-feature-x\n")


def test_it_uses_server_preferences(tmp_path: Path) -> None:
    # given preferences that only allow the dev track
    preferences = tmp_path / "preferences.yaml"
    preferences.write_text("builderTracksPerOperatingSystem:\n  linux: [dev]\n")
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text("builder: {track: stable}\nstages:\n  build: {image: golang}\n")

    # when a manifest on the stable track is validated with them
    status, out, _ = run("validate", "--preferences", str(preferences), str(manifest))

    # then the track is refused
    assert (status, out) == (1, f"{manifest}:1:18: builder track should be one of: dev\n")


def test_it_runs_as_a_module() -> None:
    # given the installed interpreter
    # when the schema command runs as `python -m builder.manifest`
    result = subprocess.run(
        [sys.executable, "-m", "builder.manifest", "schema"], cwd=REPO, capture_output=True, text=True, check=False
    )

    # then it prints a draft 2020-12 schema and exits 0
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["$schema"] == "https://json-schema.org/draft/2020-12/schema"
