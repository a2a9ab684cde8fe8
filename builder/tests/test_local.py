"""Local mode: ``python -m builder run`` in a working copy."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

MANIFEST = """\
labels:
  app: demo
stages:
  build:
    image: golang:1.22
    commands:
    - echo building on $ESTAFETTE_GIT_BRANCH for $ESTAFETTE_LABEL_APP
  test:
    image: golang:1.22
    commands:
    - exit 5
  report:
    image: alpine
    when: status == 'failed'
    commands:
    - echo tests failed
"""


def working_copy(tmp_path: Path, manifest: str = MANIFEST) -> Path:
    # A checkout others can read, as git makes one (pytest's directories are 0700): run as root, the host sandbox
    # gives a root-owned working copy to an unprivileged uid that only reads it.
    tmp_path.chmod(0o755)
    (tmp_path / ".estafette.yaml").write_text(manifest)
    for args in (["init", "-q", "-b", "feature/x"], ["remote", "add", "origin", "git@github.com:acme/demo.git"]):
        subprocess.run(["git", *args], cwd=tmp_path, check=True)
    return tmp_path


def run(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "builder", "run", "--executor", "host", *args],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_it_runs_the_manifest_with_readable_output_and_fails_with_a_non_zero_exit(tmp_path: Path) -> None:
    # given a working copy whose second stage fails
    directory = working_copy(tmp_path)
    # when run locally
    result = run(directory)
    # then every stage's output is prefixed, statuses and a summary are shown, and the exit code says it failed
    assert result.returncode == 1, result.stderr
    assert "build │ building on feature/x for demo" in result.stdout
    assert "✗ test failed (exit code 5" in result.stdout
    assert "report │ tests failed" in result.stdout
    assert "Build failed" in result.stdout
    summary = result.stdout.split("STAGE")[1]
    assert summary.index("build") < summary.index("test") < summary.index("report")


def test_it_runs_only_the_named_stages(tmp_path: Path) -> None:
    result = run(working_copy(tmp_path), "build")
    assert result.returncode == 0, result.stderr
    assert "building on" in result.stdout and "test │" not in result.stdout
    assert "Build succeeded" in result.stdout


def test_it_explains_unknown_stages_and_invalid_manifests(tmp_path: Path) -> None:
    directory = working_copy(tmp_path)
    unknown = run(directory, "deploy")
    assert unknown.returncode == 2
    assert "no stage deploy in .estafette.yaml; its stages are: build, test, report" in unknown.stderr
    (directory / "broken.yaml").write_text("stages:\n  build:\n    commands: [true]\n")
    broken = run(directory, "--file", "broken.yaml")
    assert broken.returncode == 2
    assert "broken.yaml:" in broken.stderr and "has no image set" in broken.stderr


def installed_command() -> Path:
    command = Path(sys.executable).parent / "estafette-builder"
    assert command.exists(), f"{command} is missing: make installs builder/ into the venv (pip install -e ./builder)"
    return command


def test_the_installed_command_runs_a_working_copy_outside_the_repository(tmp_path: Path) -> None:
    # given a working copy far from this repository, and no PYTHONPATH pointing back to it
    directory = working_copy(tmp_path)
    assert REPO not in directory.parents
    environment = {"PATH": os.environ["PATH"], "NO_COLOR": "1"}

    # when the venv's estafette-builder runs its help, then one stage of its manifest
    command = installed_command()
    usage = subprocess.run(
        [command, "--help"], cwd=directory, env=environment, capture_output=True, text=True, check=False
    )
    result = subprocess.run(
        [command, "run", "build", "--executor", "host"],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # then both work as from the repository root
    assert usage.returncode == 0, usage.stderr
    assert "usage: estafette-builder COMMAND" in usage.stdout
    assert result.returncode == 0, result.stderr
    assert "build │ building on feature/x for demo" in result.stdout
    assert "Build succeeded" in result.stdout
