"""Job mode: ``python -m builder job`` runs one builder configuration and reports it to the API.

Inputs (first found wins):

* configuration — ``--config FILE``, ``ESTAFETTE_BUILDER_CONFIG_FILE`` (a path), ``ESTAFETTE_BUILDER_CONFIG`` (the JSON
  itself), Estafette's ``BUILDER_CONFIG_PATH`` / ``BUILDER_CONFIG``;
* secret key (per-job key; raw or base64, see :func:`builder.secrets.parse_key`) — ``--secret-key-file FILE``,
  ``ESTAFETTE_BUILDER_SECRET_KEY_FILE``, ``ESTAFETTE_BUILDER_SECRET_KEY``, Estafette's ``/secrets/secretDecryptionKey``
  and ``SECRET_DECRYPTION_KEY``; optional when the configuration holds no secret envelope;
* workspace — ``--workspace DIR``, ``ESTAFETTE_BUILDER_WORKSPACE``, ``/estafette-work`` when it exists (the pod's
  volume), else a temporary directory removed afterwards;
* executor — ``--executor`` or ``ESTAFETTE_BUILDER_EXECUTOR`` (``auto``|``docker``|``host``).

Sequence: status ``running``; secrets collected (a secret restricted to another pipeline fails the run with an
``init`` step); a ``builder-info`` step; the stages; the final status after every log batch is delivered. SIGTERM or
SIGINT cancels: running stages are stopped within 10 s and marked CANCELED, the status ``canceled`` is reported.
The exit code is 0 once the outcome is reported (a Kubernetes Job must not retry a failed build), 2 when the
configuration cannot be read at all.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from builder import __version__
from builder.contracts import BuilderConfig, ContractError, Credential, RunStatus
from builder.runner import PipelineRunner, RunContext
from builder.secrets import Masker, SecretError
from builder.steps import Sink, StepRef, utc_timestamp

if TYPE_CHECKING:
    import argparse

ESTAFETTE_KEY_FILE = "/secrets/secretDecryptionKey"
POD_WORKSPACE = "/estafette-work"


class JobInputError(Exception):
    """The configuration or key cannot be read; the message says which source and what to fix."""


# --- inputs -----------------------------------------------------------------------------------------------------------


def load_config(path: str | None, environ: Mapping[str, str]) -> tuple[BuilderConfig, str | None]:
    """The configuration and the file it came from (``None`` when inline). Raises :class:`JobInputError`."""
    file = path or environ.get("ESTAFETTE_BUILDER_CONFIG_FILE") or None
    inline = environ.get("ESTAFETTE_BUILDER_CONFIG")
    if file is None and inline is None:
        file = environ.get("BUILDER_CONFIG_PATH") or None
        inline = environ.get("BUILDER_CONFIG")
    if file is not None:
        try:
            text = Path(file).read_text()
        except OSError as error:
            raise JobInputError(f"cannot read the builder configuration {file}: {error.strerror}") from error
        source = file
    elif inline is not None:
        text, source = inline, "ESTAFETTE_BUILDER_CONFIG"
    else:
        raise JobInputError(
            "no builder configuration: pass --config FILE or set ESTAFETTE_BUILDER_CONFIG_FILE"
            " or ESTAFETTE_BUILDER_CONFIG"
        )
    try:
        return BuilderConfig.from_dict(json.loads(text)), file
    except json.JSONDecodeError as error:
        raise JobInputError(f"{source} is not JSON: {error.msg} at line {error.lineno}") from error
    except ContractError as error:
        raise JobInputError(f"{source} is not a valid builder configuration: {error}") from error


def load_key(path: str | None, environ: Mapping[str, str]) -> tuple[bytes | None, str | None]:
    """The secret key and the file it came from, if any. Raises :class:`JobInputError` for an unreadable/bad key."""
    from builder.secrets import parse_key

    file = path or environ.get("ESTAFETTE_BUILDER_SECRET_KEY_FILE") or None
    text = None if file else environ.get("ESTAFETTE_BUILDER_SECRET_KEY")
    if file is None and text is None:
        if os.path.exists(ESTAFETTE_KEY_FILE):
            file = ESTAFETTE_KEY_FILE
        else:
            text = environ.get("SECRET_DECRYPTION_KEY")
    if file is not None:
        try:
            text = Path(file).read_text()
        except OSError as error:
            raise JobInputError(f"cannot read the secret key file {file}: {error.strerror}") from error
    if text is None:
        return None, None
    try:
        return parse_key(text), file
    except SecretError as error:
        raise JobInputError(f"bad secret key: {error}") from error


# --- preparation shared with local mode -------------------------------------------------------------------------------


@dataclass
class Prepared:
    """What a run needs, derived from the configuration: decrypted credentials, masker, environment."""

    masker: Masker
    credentials: tuple[Credential, ...]
    builder_env: dict[str, str]
    decrypt: Callable[[str], str]


def _decrypt_value(value: Any, decrypt: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return decrypt(value)
    if isinstance(value, dict):
        return {key: _decrypt_value(item, decrypt) for key, item in value.items()}
    if isinstance(value, list):
        return [_decrypt_value(item, decrypt) for item in value]
    return value


def _decryptable_secrets(text: str, *, key: bytes, pipeline: str) -> list[str]:
    from builder.secrets import decrypt, find_envelopes

    found = []
    for envelope in dict.fromkeys(find_envelopes(text)):
        try:
            found.append(decrypt(envelope, key=key, pipeline=pipeline))
        except SecretError:
            continue
    return found


def prepare(config: BuilderConfig, *, key: bytes | None, started_at: str, strict: bool = True) -> Prepared:
    """Collect and decrypt secrets, build the masker and the ``ESTAFETTE_*`` environment.

    ``strict`` (job mode): a secret that cannot be decrypted for this pipeline raises :class:`SecretError` (the run
    fails with an ``init`` step). Otherwise (local mode) envelopes that cannot be decrypted stay as they are.
    """
    from builder.envvars import builder_env
    from builder.secrets import collect_secrets, decrypt_envelopes, decrypt_envelopes_leniently, find_envelopes

    pipeline = config.git.full_name
    scanned = json.dumps(
        {"manifest": config.manifest, "stages": config.stages, "credentials": [c.to_dict() for c in config.credentials]}
    )
    secrets: list[str] = []
    if find_envelopes(scanned):
        if key is None:
            if strict:
                raise SecretError(
                    "the configuration holds secrets but no decryption key was given; "
                    "set ESTAFETTE_BUILDER_SECRET_KEY_FILE or pass --secret-key-file"
                )
        elif strict:
            secrets = collect_secrets(scanned, key=key, pipeline=pipeline)
        else:
            secrets = _decryptable_secrets(scanned, key=key, pipeline=pipeline)

    def decrypt(value: str) -> str:
        if key is None or "estafette.secret(" not in value:
            return value
        text, failures = decrypt_envelopes_leniently(value, key=key, pipeline=pipeline)
        if failures:
            print(f"estafette-builder: {failures} secret(s) in an env value could not be decrypted", file=sys.stderr)
        return text

    def decrypt_strictly(value: str) -> str:
        if key is None or "estafette.secret(" not in value:
            return value
        return decrypt_envelopes(value, key=key, pipeline=pipeline) if strict else decrypt(value)

    credentials = tuple(
        replace(credential, additional_properties=_decrypt_value(credential.additional_properties, decrypt_strictly))
        for credential in config.credentials
    )
    from builder.gitclone import source_token

    extra = [config.ci_server.job_token]
    token = source_token(credentials)
    if token:
        extra.append(token)
    labels = config.manifest.get("labels") or {}
    return Prepared(
        masker=Masker([*secrets, *extra]),
        credentials=credentials,
        builder_env=builder_env(config, started_at=started_at, labels=labels if isinstance(labels, dict) else {}),
        decrypt=decrypt,
    )


def run_context(
    config: BuilderConfig,
    prepared: Prepared,
    *,
    executor: Any,
    sink: Sink,
    workspace: Path,
    clone_natively: bool = True,
) -> RunContext:
    from builder.manifest.extensions import extension_env
    from builder.manifest.when import evaluate_when

    manifest_env = config.manifest.get("env") or {}
    return RunContext(
        executor=executor,
        sink=sink,
        workspace=workspace,
        evaluate_when=evaluate_when,
        masker=prepared.masker,
        builder_env=prepared.builder_env,
        manifest_env=manifest_env if isinstance(manifest_env, dict) else {},
        when_parameters={
            "branch": config.git.repo_branch,
            "action": config.release.action if config.release is not None else "",
            "trigger": "",
            "server": "estafette",
        },
        decrypt=prepared.decrypt,
        extension_env=extension_env,
        credentials=prepared.credentials,
        trusted_images=config.trusted_images,
        pipeline=config.git.full_name,
        git=config.git,
        clone_natively=clone_natively,
        resources=config.resources,
    )


# --- job --------------------------------------------------------------------------------------------------------------


class _Cancellation:
    """SIGTERM/SIGINT → cancel the runner (from a thread: stopping containers takes seconds)."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self._runner: PipelineRunner | None = None
        self._lock = threading.Lock()

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.requested.set()
        with self._lock:
            runner = self._runner
        if runner is not None:
            threading.Thread(target=runner.cancel, daemon=True, name="cancel").start()

    def attach(self, runner: PipelineRunner) -> None:
        with self._lock:
            self._runner = runner
        if self.requested.is_set():
            threading.Thread(target=runner.cancel, daemon=True, name="cancel").start()


def _info_step(sink: Sink, lines: list[str]) -> None:
    ref = StepRef("builder-info")
    sink.update(ref.tail(status="RUNNING", auto_injected=True))
    sink.log_lines(ref, "stdout", 1, utc_timestamp(), lines)
    sink.update(ref.tail(status="SUCCEEDED", exit_code=0, duration=0))


def _init_failure(sink: Sink, masker: Masker, error: BaseException) -> None:
    ref = StepRef("init")
    sink.log_lines(ref, "stderr", 1, utc_timestamp(), masker.mask(str(error) or type(error).__name__).split("\n"))
    sink.update(ref.tail(status="FAILED", exit_code=-1, auto_injected=True))


def _workspace(option: str | None, environ: Mapping[str, str]) -> tuple[Path, bool]:
    """The workspace directory and whether it is temporary (to remove afterwards)."""
    chosen = option or environ.get("ESTAFETTE_BUILDER_WORKSPACE")
    if chosen:
        Path(chosen).mkdir(parents=True, exist_ok=True)
        return Path(chosen).resolve(), False
    if os.path.isdir(POD_WORKSPACE) and os.access(POD_WORKSPACE, os.W_OK):
        return Path(POD_WORKSPACE), False
    return Path(tempfile.mkdtemp(prefix="estafette-work-")), True


def run_job(
    *,
    config_path: str | None = None,
    key_path: str | None = None,
    workspace: str | None = None,
    executor_kind: str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> int:
    """Run one job; the process exit code (see the module doc)."""
    from builder.console import ConsoleSink
    from builder.executors import create_executor
    from builder.plan import plan_stages
    from builder.reporting import Reporter
    from builder.steps import TeeSink
    from builder.usage import RunUsage

    try:
        config, config_file = load_config(config_path, environ)
    except JobInputError as error:
        print(f"estafette-builder: {error}", file=sys.stderr)
        return 2
    cancellation = _Cancellation()
    cancellation.install()
    reporter = Reporter(
        ci_server=config.ci_server,
        job_type=config.job_type,
        run_id=config.run_id,
        job_name=config.job_name,
        request_id=config.request_id,
    )
    if config.request_id:
        print(f"estafette-builder: {config.job_type} {config.run_id}, request {config.request_id}", file=sys.stderr)
    reporter.start(initial_status="running")
    sink = TeeSink(reporter, ConsoleSink(sys.stdout, show_lines=False, colour=False))
    started_at = utc_timestamp()
    # The run's masker comes from ``prepare``; a failure before it masks the job token alone. That one is built only
    # then: compiling a masker's pattern is work every job would do for nothing.
    masker: Masker | None = None
    directory, temporary = _workspace(workspace, environ)
    executor = None
    final: RunStatus = "failed"
    usage: RunUsage | None = None
    try:
        key, key_file = load_key(key_path, environ)
        prepared = prepare(config, key=key, started_at=started_at)
        masker = prepared.masker
        hidden = [path for path in (config_file, key_file) if path]
        executor = create_executor(executor_kind, environ=environ, hidden_paths=hidden)
        executor.open(run_id=config.run_id)
        describe = getattr(executor, "describe", None)
        _info_step(
            sink,
            [
                f"Estafette builder (Python) {__version__}",
                f"executor: {describe() if describe is not None else executor.name}",
                f"workspace: {directory}",
            ],
        )
        runner = PipelineRunner(run_context(config, prepared, executor=executor, sink=sink, workspace=directory))
        cancellation.attach(runner)
        usage = runner.usage
        final = runner.run(plan_stages(config.stages))
    except Exception as error:  # noqa: BLE001 — any failure must still be reported; the message is masked
        _init_failure(sink, masker if masker is not None else Masker([config.ci_server.job_token]), error)
        final = "canceled" if cancellation.requested.is_set() else "failed"
    finally:
        if executor is not None:
            executor.close()
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)
    started = time.monotonic()
    delivered = reporter.close(final, timeout=60 if cancellation.requested.is_set() else 1800, usage=usage)
    print(
        f"estafette-builder: {final}; reported {'completely' if delivered else 'INCOMPLETELY'} "
        f"in {time.monotonic() - started:.1f}s",
        file=sys.stderr,
    )
    return 0


def parse_job_args(argv: Sequence[str]) -> dict[str, Any]:
    return vars(job_argument_parser().parse_args(argv))


@functools.cache
def job_argument_parser() -> argparse.ArgumentParser:
    """The ``job`` command's parser, built once per process: a standby builds it before it forks jobs (building
    one looks its help texts up in the translation catalogues, file by file)."""
    import argparse

    parser = argparse.ArgumentParser(prog="estafette-builder job", description="Run one Estafette job.")
    parser.add_argument("--config", dest="config_path", help="builder configuration JSON file")
    parser.add_argument("--secret-key-file", dest="key_path", help="file holding the job's secret key")
    parser.add_argument("--workspace", help="directory the stages work in")
    parser.add_argument("--executor", dest="executor_kind", choices=("auto", "docker", "host"))
    return parser
