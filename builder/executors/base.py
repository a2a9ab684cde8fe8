"""The interface every executor implements, and the container description it receives.

An executor runs one container-like process per stage or service: the ``docker`` executor a real container through
the Docker Engine API, the ``host`` executor a (sandboxed) process on the builder's machine. The runner never knows
which one it drives; ``builder/tests/executors`` runs one contract suite against both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from builder.contracts import Credential, ImageInfo, Resources, StreamType
from builder.usage import StageUsage

# Receives raw output bytes as they arrive, with the stream they came from. Called from reader threads.
OutputHandler = Callable[[StreamType, bytes], None]


class ExecutorError(Exception):
    """A container could not be created or started. The message is shown to the user as a log line."""


class PullError(ExecutorError):
    """The image could not be pulled."""


@dataclass(frozen=True)
class ContainerSpec:
    """One stage or service to start.

    With ``commands`` the generated entrypoint script runs them with ``shell``; without, the image's own entrypoint
    runs (extensions). ``workspace`` (a host directory) is mounted at ``work_dir``, the working directory.
    """

    name: str
    image: str
    workspace: Path
    work_dir: str
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    shell: str = "/bin/sh"
    commands: Sequence[str] = ()
    run_commands_in_foreground: bool = False
    network_alias: str | None = None  # services: the DNS name stages reach them by
    credentials_dir: Path | None = None  # mounted read-only at /credentials (trusted images)
    privileged: bool = False
    mount_docker_socket: bool = False  # trusted images with runDocker: the engine's socket at /var/run/docker.sock
    resources: Resources | None = None
    # The host executor only: a complete script to run as it is instead of ``commands`` (the native git-clone), and
    # host directories shown read-only at the same path (the local repository it fetches from).
    script: str | None = field(default=None, repr=False)
    read_only_paths: Sequence[Path] = ()


class RunningContainer(Protocol):
    """A started stage or service."""

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code once it has exited and all its output was delivered; ``None`` if ``timeout`` passed first."""
        ...

    def stop(self, grace: float) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds. Returns once it has exited. Idempotent."""
        ...

    def usage(self) -> StageUsage | None:
        """CPU time and peak memory once ``wait()`` returned its exit code; None where the executor cannot tell."""
        ...

    def exec(self, command: Sequence[str], *, timeout: float) -> int:
        """Run ``command`` inside it (readiness probes); its exit code, or -1 when it could not run in time."""
        ...

    def address(self) -> str:
        """An IP address or host name at which the builder reaches its ports (HTTP readiness probes)."""
        ...


class Executor(Protocol):
    name: str

    def open(self, *, run_id: str) -> None:
        """Prepare for one run (the docker executor creates the run's network)."""
        ...

    def close(self) -> None:
        """Remove everything the run left behind (containers, network, scripts). Idempotent."""
        ...

    def pull(self, image: str, *, credentials: Sequence[Credential] = ()) -> ImageInfo:
        """Make ``image`` available, pulling it with registry credentials if needed. Raises :class:`PullError`."""
        ...

    def start(self, spec: ContainerSpec, output: OutputHandler) -> RunningContainer:
        """Start ``spec``; output flows to ``output`` until it exits. Raises :class:`ExecutorError`."""
        ...


def split_image(image: str) -> tuple[str, str]:
    """``(repository path, tag)``; the tag defaults to ``latest`` (a registry port is not a tag)."""
    if "@" in image:
        path, digest = image.split("@", 1)
        return path, digest
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1 :]
    return image, "latest"


STOP_GRACE_SECONDS = 8.0  # SIGTERM → SIGKILL; keeps cancellation within Estafette's 10 s budget
