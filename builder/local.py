"""Local mode: ``python -m builder run [STAGE...] [--file .estafette.yaml]`` (Estafette's ``estafette build``).

Runs the manifest's build stages (or only the named top-level ones, in manifest order) in the current working copy,
which is the workspace (no ``git-clone``). Git branch, revision and repository come from the working copy; the version
is computed with counter 0. Secrets decrypt when a key is given (``ESTAFETTE_BUILDER_SECRET_KEY_FILE`` /
``ESTAFETTE_BUILDER_SECRET_KEY``), else stay encrypted. Output: every log line prefixed with its stage, coloured
statuses and a summary table. Exit code 0 when the build succeeded, 1 when it failed, 2 for unusable input, 130 when
interrupted.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from builder.contracts import BuilderConfig, BuildRecord, CiServerConfig, GitConfig, VersionConfig

if TYPE_CHECKING:
    from builder.manifest import Stage

_REMOTE = re.compile(
    r"^(?:[a-z+]+://)?(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?[:/](?P<owner>[^/]+)/(?P<name>[^/]+?)(?:\.git)?/?$"
)


def _git(directory: Path, *args: str) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def working_copy_git(directory: Path) -> GitConfig:
    """Branch, revision and ``source/owner/name`` of the working copy (``local/local/<dir>`` without a remote)."""
    match = _REMOTE.match(_git(directory, "config", "--get", "remote.origin.url"))
    return GitConfig(
        repo_source=match.group("host") if match else "local",
        repo_owner=match.group("owner") if match else "local",
        repo_name=match.group("name") if match else directory.name,
        # symbolic-ref also works before the first commit; rev-parse names a detached HEAD
        repo_branch=_git(directory, "symbolic-ref", "--short", "HEAD")
        or _git(directory, "rev-parse", "--abbrev-ref", "HEAD")
        or "local",
        repo_revision=_git(directory, "rev-parse", "HEAD") or "0" * 40,
    )


def run_local(
    *,
    stage_names: Sequence[str] = (),
    manifest_file: str = ".estafette.yaml",
    executor_kind: str | None = None,
    directory: Path | None = None,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
) -> int:
    from builder.manifest import ManifestErrors, load_manifest
    from builder.manifest.version import compute_version

    workspace = (directory or Path.cwd()).resolve()
    path = workspace / manifest_file
    try:
        text = path.read_text()
    except OSError as error:
        print(
            f"cannot read {path}: {error.strerror}; run this in a working copy with a .estafette.yaml", file=sys.stderr
        )
        return 2
    try:
        manifest = load_manifest(text, path=manifest_file)
    except ManifestErrors as errors:
        print(str(errors), file=sys.stderr)
        return 2
    stages = list(manifest.stages)
    if stage_names:
        known = [stage.name for stage in stages]
        unknown = [name for name in stage_names if name not in known]
        if unknown:
            print(
                f"no stage {', '.join(unknown)} in {manifest_file}; its stages are: {', '.join(known)}", file=sys.stderr
            )
            return 2
        stages = [stage for stage in stages if stage.name in stage_names]

    git = working_copy_git(workspace)
    version = compute_version(manifest.version, counter=0, branch=git.repo_branch, revision=git.repo_revision)
    config = BuilderConfig(
        job_type="build",
        build=BuildRecord(id="local"),
        git=git,
        version=VersionConfig(
            version=version.version,
            major=version.major,
            minor=version.minor,
            patch=version.patch,
            label=version.label,
        ),
        ci_server=CiServerConfig(base_url="", status_url="", logs_url="", job_token=""),
        manifest=manifest.to_dict(),
    )
    return run_config(
        config,
        stages=stages,
        workspace=workspace,
        executor_kind=executor_kind,
        environ=environ,
        out=out,
        what=manifest_file,
    )


def run_config(
    config: BuilderConfig,
    *,
    stages: Sequence[Stage | Mapping[str, Any]],
    workspace: Path,
    executor_kind: str | None,
    environ: Mapping[str, str],
    out: TextIO,
    what: str,
    builder_env: Mapping[str, str] | None = None,
    masked: Sequence[str] = (),
) -> int:
    """Run ``stages`` of ``config`` in ``workspace`` on the console (local mode and replay): the exit code.

    ``builder_env`` replaces the ``ESTAFETTE_*`` variables computed from ``config`` (a replay passes the server
    build's); ``masked`` are values to mask in the output besides the decrypted secrets (a replay's local secrets).
    """
    from builder.console import ConsoleSink
    from builder.executors import ExecutorError, create_executor
    from builder.job import JobInputError, load_key, prepare, run_context
    from builder.plan import plan_stages
    from builder.runner import PipelineRunner
    from builder.steps import utc_timestamp

    console = ConsoleSink(out)
    try:
        key, _ = load_key(None, environ)
        prepared = prepare(config, key=key, started_at=utc_timestamp(), strict=False)
        executor = create_executor(executor_kind, environ=environ, working_copy=workspace)
    except (JobInputError, ExecutorError) as error:
        print(str(error), file=sys.stderr)
        return 2
    if builder_env is not None or masked:
        prepared = replace(
            prepared,
            builder_env=dict(builder_env if builder_env is not None else prepared.builder_env),
            masker=prepared.masker.with_secrets(masked),
        )
    executor.open(run_id=f"local-{os.getpid()}")
    runner = PipelineRunner(
        run_context(config, prepared, executor=executor, sink=console, workspace=workspace, clone_natively=False)
    )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=runner.cancel, daemon=True).start()

    previous = signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        out.write(f"Running {len(stages)} stage(s) of {what} with the {executor.name} executor\n")
        out.flush()
        final = runner.run(plan_stages(stages))
    finally:
        executor.close()
        signal.signal(signal.SIGINT, previous)
    out.write(console.summary(final))
    out.flush()
    return {"succeeded": 0, "failed": 1}.get(final, 130)


def parse_run_args(argv: Sequence[str]) -> dict[str, object]:
    import argparse

    parser = argparse.ArgumentParser(
        prog="estafette-builder run", description="Run the stages of a .estafette.yaml in this working copy."
    )
    parser.add_argument("stage_names", nargs="*", metavar="STAGE", help="only these top-level stages")
    parser.add_argument("--file", dest="manifest_file", default=".estafette.yaml", help="the manifest to run")
    parser.add_argument("--executor", dest="executor_kind", choices=("auto", "docker", "host"))
    return vars(parser.parse_args(argv))
