"""What the runner executes: stages, parallel stages and services with their defaults already applied.

Built from the manifest library's ``Stage``/``Service`` objects by :mod:`builder.planning` (the one place that knows
their attribute names), or directly in tests. Frozen; ``env`` and ``custom_properties`` hold the manifest's values
unexpanded and still encrypted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

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
