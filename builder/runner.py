"""Runs a list of stages the way Estafette's builder does, reporting every step change to a :class:`Sink`.

For each top-level stage in order: if the run is being canceled it is marked CANCELED; else its ``when`` is evaluated
with the running status (``succeeded`` until a stage fails, then ``failed``) — false → SKIPPED with its parallel
stages and services, an evaluation error → the run fails and the stage gets an error line but no status. A stage
runs its services first (concurrently; each evaluates its own ``when``, starts, and must pass its readiness check),
then either its parallel stages (concurrently, each with its own ``when``) or its own container: PENDING while the
image is pulled, RUNNING with the image, then SUCCEEDED / FAILED with exit code and duration (pull excluded) or
CANCELED. Later stages are still evaluated after a failure. Single-stage services stop when their stage ends,
multi-stage ones when the run ends. The ``git-clone`` stage runs natively (:mod:`builder.gitclone`), one script in
the host executor's sandbox.

:meth:`PipelineRunner.cancel` (SIGTERM) stops every running container within the stop grace and marks what was
running or not yet started CANCELED.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from builder.contracts import Credential, GitConfig, ImageInfo, Resources, RunStatus, StepStatus, StreamType
from builder.contracts import TrustedImage as TrustedImageConfig
from builder.envvars import container_env, expand_references
from builder.executors.base import (
    STOP_GRACE_SECONDS,
    ContainerSpec,
    Executor,
    ExecutorError,
    PullError,
    RunningContainer,
    split_image,
)
from builder.manifest.regex import allows
from builder.output import LineAssembler
from builder.plan import ReadinessCheck, ServicePlan, StagePlan
from builder.secrets import Masker
from builder.steps import Sink, StepRef, utc_timestamp
from builder.usage import RunUsage, StageUsage

WhenEvaluator = Callable[[str, Mapping[str, str], Mapping[str, str]], bool]
ExtensionEnv = Callable[[Mapping[str, Any], Mapping[str, str]], dict[str, str]]

COMMANDS_NOT_ALLOWED = (
    "This trusted image does not allow for commands to be set as a protection against snooping injected credentials"
)


def _nanoseconds(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def _no_extension_env(custom_properties: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    return {}


@dataclass
class RunContext:
    """Everything a run needs besides its stages. Built by job mode or local mode."""

    executor: Executor
    sink: Sink
    workspace: Path
    evaluate_when: WhenEvaluator
    masker: Masker = field(default_factory=Masker)
    builder_env: dict[str, str] = field(default_factory=dict)  # ESTAFETTE_* except ESTAFETTE_BUILD_STATUS
    manifest_env: dict[str, Any] = field(default_factory=dict)
    when_parameters: dict[str, str] = field(default_factory=dict)  # branch, action, trigger, server
    decrypt: Callable[[str], str] = lambda value: value  # envelopes in one env value → plaintext
    extension_env: ExtensionEnv = _no_extension_env
    credentials: tuple[Credential, ...] = ()  # decrypted
    trusted_images: tuple[TrustedImageConfig, ...] = ()
    pipeline: str = ""
    git: GitConfig | None = None
    clone_natively: bool = True  # local mode uses the working copy instead of cloning
    resources: Resources | None = None
    stop_grace: float = STOP_GRACE_SECONDS


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    exit_code: int | None = None
    duration: float | None = None  # seconds the container ran (pull excluded); None → the whole step


class _Step:
    """One step's output: numbers its lines and sends them, masked, to the sink."""

    def __init__(self, runner: PipelineRunner, ref: StepRef) -> None:
        self.runner = runner
        self.ref = ref
        self.usage: StageUsage | None = None  # what its container used, once it exited (where measured)
        self._line = 0
        self._lock = threading.Lock()

    def emit(self, stream: StreamType, texts: list[str]) -> None:
        with self._lock:
            first = self._line + 1
            self._line += len(texts)
            self.runner.context.sink.log_lines(self.ref, stream, first, utc_timestamp(), texts)

    def message(self, text: str, stream: StreamType = "stderr") -> None:
        self.emit(stream, self.runner.context.masker.mask(text).split("\n"))

    def assembler(self) -> LineAssembler:
        return LineAssembler(self.runner.context.masker, self.emit)

    def update(self, status: StepStatus | None = None, **fields: Any) -> None:
        self.runner.context.sink.update(self.ref.tail(status=status, **fields))


class _Service:
    """A started service container; a thread waits for it to exit and records its final status."""

    def __init__(self, runner: PipelineRunner, plan: ServicePlan, step: _Step, container: RunningContainer) -> None:
        self.plan = plan
        self.step = step
        self.container = container
        self.started = time.monotonic()
        self.stopping = False
        self.exit_code: int | None = None
        self._runner = runner
        self._assembler: LineAssembler | None = None
        self._done = threading.Event()

    def watch(self, assembler: LineAssembler) -> None:
        self._assembler = assembler
        threading.Thread(target=self._wait, daemon=True, name=f"service-{self.plan.name}").start()

    def _wait(self) -> None:
        try:
            self.exit_code = self.container.wait()
        except ExecutorError as error:
            self.step.message(f"Failed running service: {error}")
            self.exit_code = -1
        finally:
            if self._assembler is not None:
                self._assembler.close()
            self._runner._forget(self.container)
            self._done.set()
        duration = _nanoseconds(time.monotonic() - self.started)
        if self._runner.canceled:
            self.step.update("CANCELED", duration=duration)
        elif self.stopping or self.exit_code == 0:
            self.step.update("SUCCEEDED", duration=duration, exit_code=0 if self.stopping else self.exit_code)
        else:
            self.step.update("FAILED", duration=duration, exit_code=self.exit_code)

    def has_exited(self) -> bool:
        return self._done.is_set()

    def stop(self, grace: float) -> None:
        self.stopping = True
        self.container.stop(grace)
        self._done.wait(grace + 5)


class PipelineRunner:
    """Runs stages; one instance per run. :meth:`run` may be called once; :meth:`cancel` from any thread."""

    def __init__(self, context: RunContext) -> None:
        self.context = context
        self._failed = False
        self._canceled = threading.Event()
        self._lock = threading.Lock()
        self._running: set[RunningContainer] = set()
        self._multi_stage_services: list[_Service] = []
        self._scratch = Path(tempfile.mkdtemp(prefix="estafette-run-"))
        self._native: Executor | None = None  # runs the git-clone stage when the run's executor is not the host's
        self.usage = RunUsage()  # the maxima over the stages, for the final status

    # --- status -------------------------------------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """The ``status`` seen by ``when`` and ``ESTAFETTE_BUILD_STATUS``: succeeded until a stage fails."""
        return "failed" if self._failed else "succeeded"

    @property
    def canceled(self) -> bool:
        return self._canceled.is_set()

    def _fail(self) -> None:
        with self._lock:
            self._failed = True

    def final_status(self) -> RunStatus:
        if self.canceled:
            return "canceled"
        return "failed" if self._failed else "succeeded"

    # --- cancellation ------------------------------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop every running container (SIGTERM, SIGKILL after the grace) and cancel what has not started."""
        self._canceled.set()
        with self._lock:
            running = list(self._running)
        stoppers = [
            threading.Thread(target=container.stop, args=(self.context.stop_grace,), daemon=True)
            for container in running
        ]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(self.context.stop_grace + 2)

    def _track(self, container: RunningContainer) -> None:
        with self._lock:
            self._running.add(container)
        if self.canceled:  # canceled while it was starting
            container.stop(self.context.stop_grace)

    def _forget(self, container: RunningContainer) -> None:
        with self._lock:
            self._running.discard(container)

    # --- run ----------------------------------------------------------------------------------------------------------

    def run(self, stages: Sequence[StagePlan]) -> RunStatus:
        """Run ``stages`` in order; the final run status (canceled, failed or succeeded)."""
        try:
            for stage in stages:
                self._run_stage(stage, parent="", depth=0)
        finally:
            self._stop_services(self._multi_stage_services)
            if self._native is not None:
                self._native.close()
            shutil.rmtree(self._scratch, ignore_errors=True)
        return self.final_status()

    def _when(self, expression: str) -> bool:
        parameters = {"status": self.status, "trigger": "", "server": "estafette", **self.context.when_parameters}
        parameters["status"] = self.status
        environ = {**self.context.builder_env, "ESTAFETTE_BUILD_STATUS": self.status}
        return bool(self.context.evaluate_when(expression, parameters, environ))

    def _run_stage(self, stage: StagePlan, *, parent: str, depth: int) -> bool:
        """Run one stage (or parallel stage); whether it did not fail."""
        step = _Step(self, StepRef(stage.name, parent, "stage", depth))
        if self.canceled:
            self._mark(stage, step.ref, "CANCELED")
            return False
        try:
            should_run = self._when(stage.when)
        except Exception as error:  # noqa: BLE001 — any evaluation error fails the run, as in Estafette
            step.message(f"Failed evaluating when expression '{stage.when}': {error}")
            self._fail()
            return False
        if not should_run:
            if depth > 0:
                step.message(
                    f"Skipped: when expression '{stage.when}' is false for status={self.status}, "
                    f"branch={self.context.when_parameters.get('branch', '')}",
                    "stdout",
                )
            self._mark(stage, step.ref, "SKIPPED")
            return True
        step.update("PENDING", auto_injected=stage.auto_injected)
        started = time.monotonic()
        services_ok, services = self._start_services(stage, step.ref)
        try:
            outcome = self._run_body(stage, step) if services_ok else _Outcome(ok=False)
        finally:
            self._stop_services(services)
        return self._finish(step, outcome, started)

    def _run_body(self, stage: StagePlan, step: _Step) -> _Outcome:
        if stage.parallel_stages:
            step.update("RUNNING")
            return _Outcome(ok=self._run_parallel(stage))
        if stage.is_git_clone:
            return self._run_git_clone(stage, step)
        if stage.image or stage.commands:
            return self._run_container(stage, step)
        step.update("RUNNING")  # a stage with only (multi-stage) services
        return _Outcome(ok=True)

    def _finish(self, step: _Step, outcome: _Outcome, started: float) -> bool:
        seconds = outcome.duration if outcome.duration is not None else time.monotonic() - started
        duration = _nanoseconds(seconds)
        fields: dict[str, Any] = {"exit_code": outcome.exit_code} if outcome.exit_code is not None else {}
        if step.usage is not None:
            self.usage.add(step.usage, wall_seconds=seconds)
            cpu = step.usage.cpu_seconds
            fields.update(
                cpu_seconds=None if cpu is None else round(cpu, 3), memory_max_bytes=step.usage.memory_max_bytes
            )
        if self.canceled:
            step.update("CANCELED", duration=duration, **fields)
        elif outcome.ok:
            step.update("SUCCEEDED", duration=duration, **fields)
        else:
            self._fail()
            step.update("FAILED", duration=duration, **fields)
        return outcome.ok

    def _mark(self, stage: StagePlan, ref: StepRef, status: StepStatus) -> None:
        """Give a stage that does not run, its parallel stages and its services ``status``."""
        self.context.sink.update(ref.tail(status=status, auto_injected=stage.auto_injected))
        for nested in stage.parallel_stages:
            self._mark(nested, StepRef(nested.name, stage.name, "stage", ref.depth + 1), status)
        for service in stage.services:
            self.context.sink.update(StepRef(service.name, stage.name, "service", ref.depth).tail(status=status))

    def _run_parallel(self, stage: StagePlan) -> bool:
        results: dict[str, bool] = {}

        def run_nested(nested: StagePlan) -> None:
            try:
                results[nested.name] = self._run_stage(nested, parent=stage.name, depth=1)
            except Exception as error:  # noqa: BLE001 — a crash in one parallel stage fails that stage only
                _Step(self, StepRef(nested.name, stage.name, "stage", 1)).message(f"Failed running stage: {error}")
                results[nested.name] = False

        threads = [
            threading.Thread(target=run_nested, args=(nested,), name=f"stage-{nested.name}")
            for nested in stage.parallel_stages
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return all(results.get(nested.name, False) for nested in stage.parallel_stages)

    # --- containers ---------------------------------------------------------------------------------------------------

    def _trusted(self, image: str) -> TrustedImageConfig | None:
        path, _ = split_image(image)
        for trusted in self.context.trusted_images:
            if trusted.path != path:
                continue
            if not allows(trusted.allowed_pipelines, self.context.pipeline):
                continue
            return trusted
        return None

    def _credentials_dir(self, trusted: TrustedImageConfig | None) -> Path | None:
        if trusted is None or not trusted.injected_credential_types:
            return None
        directory = Path(tempfile.mkdtemp(prefix="credentials-", dir=self._scratch))
        # A stage runs as an unprivileged uid (the host sandbox) or a container's user: it must read them. The run's
        # scratch directory around it stays the builder's alone (0700).
        directory.chmod(0o755)
        for credential_type in trusted.injected_credential_types:
            matching = [c.to_dict() for c in self.context.credentials if c.type == credential_type]
            text = expand_references(json.dumps(matching), self.context.builder_env)
            path = directory / f"{credential_type.replace('-', '_')}.json"
            path.write_text(text)
            path.chmod(0o644)
        return directory

    def _env(self, *, kind: str, name: str, image: str, own_env: Mapping[str, Any], props: Mapping[str, Any]) -> dict:
        builder = {**self.context.builder_env, "ESTAFETTE_BUILD_STATUS": self.status}
        own = {str(key): str(value) if not isinstance(value, str) else value for key, value in own_env.items()}
        extension = dict(self.context.extension_env(props, own))
        prefix = "ESTAFETTE_STAGE" if kind == "stage" else "ESTAFETTE_SERVICE"
        extension[f"{prefix}_NAME"] = name
        image_details = getattr(self.context.executor, "image_details", None)
        sha, created = image_details(image) if image_details and image else ("", "")
        extension[f"{prefix}_IMAGE_SHA"] = sha
        extension[f"{prefix}_IMAGE_CREATED_DATE"] = created
        return container_env(
            builder=builder,
            manifest_env=self.context.manifest_env,
            own_env=own_env,
            extension=extension,
            decrypt=self.context.decrypt,
        )

    def _pull(self, image: str, step: _Step) -> ImageInfo | None:
        try:
            return self.context.executor.pull(image, credentials=self.context.credentials)
        except PullError as error:
            step.message(str(error))
            # Estafette's log shows the image a step failed to pull, with the reason, in the step's header.
            name, tag = split_image(image)
            step.update(image=ImageInfo(name=name, tag=tag, error=self.context.masker.mask(str(error))))
            return None

    def _run_container(self, stage: StagePlan, step: _Step) -> _Outcome:
        builder_env = {**self.context.builder_env, "ESTAFETTE_BUILD_STATUS": self.status}
        image = expand_references(stage.image, builder_env)
        info = self._pull(image, step) if image else ImageInfo(name="", tag="")
        if info is None:
            return _Outcome(ok=False)
        trusted = self._trusted(image) if image else None
        credentials_dir = self._credentials_dir(trusted)
        info = replace(info, is_trusted=trusted is not None, has_injected_credentials=credentials_dir is not None)
        if credentials_dir is not None and trusted is not None and not trusted.allow_commands and stage.commands:
            step.message(COMMANDS_NOT_ALLOWED)
            return _Outcome(ok=False)
        step.update("RUNNING", image=info)
        spec = ContainerSpec(
            name=stage.name,
            image=image,
            workspace=self.context.workspace,
            work_dir=expand_references(stage.work_dir, builder_env),
            env=self._env(kind="stage", name=stage.name, image=image, own_env=stage.env, props=stage.custom_properties),
            shell=stage.shell,
            commands=stage.commands,
            run_commands_in_foreground=stage.run_commands_in_foreground,
            credentials_dir=credentials_dir,
            privileged=trusted is not None and (trusted.run_privileged or trusted.run_docker),
            mount_docker_socket=trusted is not None and trusted.run_docker,
            resources=self.context.resources,
        )
        started = time.monotonic()
        exit_code = self._execute(spec, step)
        return _Outcome(ok=exit_code == 0, exit_code=exit_code, duration=time.monotonic() - started)

    def _execute(self, spec: ContainerSpec, step: _Step, *, executor: Executor | None = None) -> int | None:
        if self.canceled:
            return None
        assembler = step.assembler()
        try:
            container = (executor or self.context.executor).start(spec, assembler.feed)
        except ExecutorError as error:
            step.message(f"Failed starting stage: {error}")
            return None
        self._track(container)
        try:
            code = container.wait()
            step.usage = container.usage()
            return code
        except ExecutorError as error:
            step.message(f"Failed running stage: {error}")
            return None
        finally:
            self._forget(container)
            assembler.close()

    # --- git clone ----------------------------------------------------------------------------------------------------

    def _run_git_clone(self, stage: StagePlan, step: _Step) -> _Outcome:
        from builder.executors.host import HostExecutor
        from builder.gitclone import CloneError, CloneOptions, clone_script, source_token, source_token_type

        name, tag = split_image(stage.image or "extensions/git-clone:stable")
        step.update("RUNNING", image=ImageInfo(name=name, tag=tag))
        started = time.monotonic()
        if not self.context.clone_natively or self.context.git is None:
            step.message("Using the working copy; nothing to clone", "stdout")
            return _Outcome(ok=True, exit_code=0, duration=time.monotonic() - started)
        try:
            script = clone_script(
                git=self.context.git,
                token=source_token(self.context.credentials),
                token_type=source_token_type(self.context.credentials),
                options=CloneOptions.from_custom_properties(stage.custom_properties),
                # Borrowed objects must be visible to the later stages too: only the host executor shows host paths.
                borrow_objects=isinstance(self.context.executor, HostExecutor),
            )
            executor = self._clone_executor()
        except (CloneError, ExecutorError) as error:
            step.message(f"Failed running stage: {error}")
            return _Outcome(ok=False, exit_code=1, duration=time.monotonic() - started)
        # One script in the sandbox, as any stage: the options are the manifest's, and the repository is untrusted.
        spec = ContainerSpec(
            name=stage.name,
            image=stage.image or "extensions/git-clone:stable",
            workspace=self.context.workspace,
            work_dir=stage.work_dir or "/estafette-work",
            env=script.env,
            script=script.text,
            read_only_paths=script.read_only_paths,
        )
        if script.borrowed_objects is not None:
            # The clone's objects are the local repository's: every later stage and service needs them (read-only).
            assert isinstance(executor, HostExecutor)
            try:
                executor.show_read_only(script.borrowed_objects)
            except ExecutorError as error:
                step.message(f"Failed running stage: {error}")
                return _Outcome(ok=False, exit_code=1, duration=time.monotonic() - started)
        code = self._execute(spec, step, executor=executor)
        return _Outcome(ok=code == 0, exit_code=code, duration=time.monotonic() - started)

    def _clone_executor(self) -> Executor:
        """The host executor of the run; with another (docker), a host executor of its own for the native clone,
        sandboxed where this machine can (else the clone runs as the builder: stages still run in containers)."""
        if self.context.executor.name == "host":
            return self.context.executor
        with self._lock:
            if self._native is None:
                from builder.executors.host import HostExecutor

                self._native = HostExecutor(allow_unsandboxed=True)
            return self._native

    # --- services -----------------------------------------------------------------------------------------------------

    def _start_services(self, stage: StagePlan, parent: StepRef) -> tuple[bool, list[_Service]]:
        """Start the stage's services concurrently; ``(all ready, the single-stage ones to stop with the stage)``."""
        if not stage.services:
            return True, []
        started: list[_Service] = []
        results: list[bool] = []
        lock = threading.Lock()

        def start(plan: ServicePlan) -> None:
            ok, service = self._start_service(plan, stage, parent)
            with lock:
                results.append(ok)
                if service is not None:
                    started.append(service)

        threads = [threading.Thread(target=start, args=(plan,), name=f"start-{plan.name}") for plan in stage.services]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        single = []
        for service in started:
            if service.plan.multi_stage:
                with self._lock:
                    self._multi_stage_services.append(service)
            else:
                single.append(service)
        return all(results), single

    def _start_service(self, plan: ServicePlan, stage: StagePlan, parent: StepRef) -> tuple[bool, _Service | None]:
        step = _Step(self, StepRef(plan.name, stage.name, "service", parent.depth))
        should_start = self._service_should_start(plan, step)
        if should_start is not None:
            return should_start, None
        step.update("PENDING")
        image = expand_references(plan.image, {**self.context.builder_env, "ESTAFETTE_BUILD_STATUS": self.status})
        info = self._pull(image, step)
        if info is None:
            step.update("FAILED")
            return False, None
        trusted = self._trusted(image)
        spec = ContainerSpec(
            name=plan.name,
            image=image,
            workspace=self.context.workspace,
            work_dir=stage.work_dir or "/estafette-work",
            env=self._env(kind="service", name=plan.name, image=image, own_env=plan.env, props=plan.custom_properties),
            shell=plan.shell,
            commands=plan.commands,
            run_commands_in_foreground=plan.run_commands_in_foreground,
            network_alias=plan.name,
            privileged=trusted is not None and (trusted.run_privileged or trusted.run_docker),
            resources=self.context.resources,
        )
        assembler = step.assembler()
        try:
            container = self.context.executor.start(spec, assembler.feed)
        except ExecutorError as error:
            step.message(f"Failed starting service: {error}")
            step.update("FAILED")
            assembler.close()
            return False, None
        self._track(container)
        step.update("RUNNING", image=replace(info, is_trusted=trusted is not None))
        service = _Service(self, plan, step, container)
        service.watch(assembler)
        problem = self._wait_until_ready(service)
        if problem is not None:
            step.message(f"Service {plan.name} is not ready: {problem}")
            service.stop(self.context.stop_grace)
            return False, None
        return True, service

    def _service_should_start(self, plan: ServicePlan, step: _Step) -> bool | None:
        """``None`` when the service should start, else the outcome of not starting it (after marking it)."""
        if self.canceled:
            step.update("CANCELED")
            return False
        try:
            if not self._when(plan.when):
                step.update("SKIPPED")
                return True
        except Exception as error:  # noqa: BLE001 — as for stages
            step.message(f"Failed evaluating when expression '{plan.when}': {error}")
            step.update("FAILED")
            return False
        return None

    def _wait_until_ready(self, service: _Service) -> str | None:
        """``None`` once the service passes its readiness check (or has none), else why it did not."""
        check = service.plan.readiness
        if check is None:
            return None
        deadline = time.monotonic() + check.timeout_seconds
        interval = 0.1
        while True:
            if self.canceled:
                return "the run was canceled"
            if service.has_exited():
                return f"it exited with code {service.exit_code}"
            if self._probe(service, check):
                return None
            if time.monotonic() >= deadline:
                return f"no successful readiness probe within {check.timeout_seconds:g}s"
            time.sleep(interval)
            interval = min(1.0, interval * 2)

    def _probe(self, service: _Service, check: ReadinessCheck) -> bool:
        import http.client  # here: most runs have no HTTP readiness probe, and it costs start-up time
        import ssl

        if check.kind == "exec":
            return service.container.exec(check.command, timeout=5) == 0
        try:
            address = service.container.address()
        except ExecutorError:
            return False
        connection: http.client.HTTPConnection
        if check.scheme == "https":
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # readiness only; Estafette's prober skips verification too
            connection = http.client.HTTPSConnection(address, check.port, timeout=2, context=context)
        else:
            connection = http.client.HTTPConnection(address, check.port, timeout=2)
        try:
            path = check.path if check.path.startswith("/") else f"/{check.path}"
            connection.request("GET", path, headers={"Host": check.host or service.plan.name})
            return connection.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def _stop_services(self, services: list[_Service]) -> None:
        stoppers = [
            threading.Thread(target=service.stop, args=(self.context.stop_grace,), daemon=True)
            for service in services
            if not service.has_exited()
        ]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
