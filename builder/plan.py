"""What the runner executes (stages, parallel stages and services with their defaults applied), and how it is made.

The plan types are frozen; ``env`` and ``custom_properties`` hold the manifest's values unexpanded and still
encrypted. :func:`plan_stages` builds them from the manifest library's ``Stage``/``Service`` objects (or their
``to_dict`` JSON, the builder configuration's ``stages``): the one place that knows the library's attribute names.
Tests may also build plans directly.

Defaults the API already applied are applied again (harmlessly) so a stage list written by hand also runs: shell
``/bin/sh``, work dir ``/estafette-work``, ``when`` ``status == 'succeeded'``, a service is multi-stage when its stage
has no image. Readiness: ``readinessProbe`` when given, else the legacy ``readiness``; each as an ``exec`` probe, an
``httpGet`` probe, or the legacy ``path``/``port``/``protocol``/``hostname`` fields (port 80, https on 443, host = the
service name, 60 s).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from builder.manifest.services import Readiness, Service
from builder.manifest.stages import Stage

DEFAULT_WHEN = "status == 'succeeded'"
DEFAULT_SHELL = "/bin/sh"
DEFAULT_WORK_DIR = "/estafette-work"


@dataclass(frozen=True)
class ReadinessCheck:
    """When a service is ready: an HTTP GET answering 200, or a command exiting 0 inside it, within the timeout."""

    kind: Literal["http", "exec"]
    scheme: str = "http"
    port: int = 80
    path: str = "/"
    host: str = ""  # the Host header; empty → the service name
    command: tuple[str, ...] = ()
    timeout_seconds: float = 60.0


@dataclass(frozen=True)
class ServicePlan:
    name: str
    image: str
    shell: str = DEFAULT_SHELL
    commands: tuple[str, ...] = ()
    run_commands_in_foreground: bool = False
    when: str = DEFAULT_WHEN
    env: dict[str, Any] = field(default_factory=dict)
    custom_properties: dict[str, Any] = field(default_factory=dict)
    multi_stage: bool = False
    readiness: ReadinessCheck | None = None


@dataclass(frozen=True)
class StagePlan:
    name: str
    image: str = ""
    shell: str = DEFAULT_SHELL
    work_dir: str = DEFAULT_WORK_DIR
    commands: tuple[str, ...] = ()
    run_commands_in_foreground: bool = False
    when: str = DEFAULT_WHEN
    env: dict[str, Any] = field(default_factory=dict)
    custom_properties: dict[str, Any] = field(default_factory=dict)
    auto_injected: bool = False
    parallel_stages: tuple[StagePlan, ...] = ()
    services: tuple[ServicePlan, ...] = ()

    @property
    def is_git_clone(self) -> bool:
        """The injected (or declared) ``git-clone`` extension stage, which the builder runs natively."""
        return self.name == "git-clone" and (self.auto_injected or self.image.split(":")[0].endswith("git-clone"))


# --- from the manifest library's stages ------------------------------------------------------------------------------

DEFAULT_READINESS_TIMEOUT = 60


def readiness_check(readiness: Readiness | None, service_name: str) -> ReadinessCheck | None:
    """The check a ``readiness``/``readinessProbe`` asks for; ``None`` when it names no probe."""
    if readiness is None:
        return None
    timeout = float(readiness.timeout_seconds or DEFAULT_READINESS_TIMEOUT)
    if readiness.exec is not None and readiness.exec.command:
        return ReadinessCheck(kind="exec", command=tuple(readiness.exec.command), timeout_seconds=timeout)
    if readiness.http_get is not None:
        probe = readiness.http_get
        port = probe.port or 80
        return ReadinessCheck(
            kind="http",
            scheme=probe.scheme or ("https" if port == 443 else "http"),
            port=port,
            path=probe.path or "/",
            host=probe.host or service_name,
            timeout_seconds=timeout,
        )
    if not (readiness.path or readiness.port or readiness.protocol or readiness.hostname):
        return None
    port = readiness.port or 80
    return ReadinessCheck(
        kind="http",
        scheme=readiness.protocol or ("https" if port == 443 else "http"),
        port=port,
        path=readiness.path or "/",
        host=readiness.hostname or service_name,
        timeout_seconds=timeout,
    )


def plan_service(service: Service, *, parent_has_image: bool) -> ServicePlan:
    return ServicePlan(
        name=service.name,
        image=service.image,
        shell=service.shell or DEFAULT_SHELL,
        commands=tuple(service.commands),
        run_commands_in_foreground=service.run_commands_in_foreground,
        when=service.when or DEFAULT_WHEN,
        env=dict(service.env),
        custom_properties=dict(service.custom_properties),
        multi_stage=service.multi_stage if service.multi_stage is not None else not parent_has_image,
        readiness=readiness_check(service.readiness_probe, service.name)
        or readiness_check(service.readiness, service.name),
    )


def plan_stage(stage: Stage) -> StagePlan:
    wrapper = bool(stage.parallel_stages)
    return StagePlan(
        name=stage.name,
        image=stage.image,
        shell=stage.shell or ("" if wrapper else DEFAULT_SHELL),
        work_dir=stage.work_dir or ("" if wrapper else DEFAULT_WORK_DIR),
        commands=tuple(stage.commands),
        run_commands_in_foreground=stage.run_commands_in_foreground,
        when=stage.when or DEFAULT_WHEN,
        env=dict(stage.env),
        custom_properties=dict(stage.custom_properties),
        auto_injected=stage.auto_injected,
        parallel_stages=tuple(plan_stage(nested) for nested in stage.parallel_stages),
        services=tuple(plan_service(service, parent_has_image=bool(stage.image)) for service in stage.services),
    )


def plan_stages(stages: Iterable[Stage | Mapping[str, Any]]) -> tuple[StagePlan, ...]:
    """Plans for ``Stage`` objects or their ``to_dict()`` JSON (the builder configuration's ``stages``)."""
    return tuple(plan_stage(stage if isinstance(stage, Stage) else Stage.from_dict(stage)) for stage in stages)
