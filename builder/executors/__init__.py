"""Executors run stages and services; :func:`create_executor` picks one from ``ESTAFETTE_BUILDER_EXECUTOR``.

``auto`` (the default) uses docker when a container engine answers a ``/_ping`` within half a second, else host.
The engine check speaks HTTP over the socket directly so the host path never imports the docker SDK.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path

from builder.executors.base import ContainerSpec, Executor, ExecutorError, PullError, RunningContainer

__all__ = [
    "ContainerSpec",
    "Executor",
    "ExecutorError",
    "PullError",
    "RunningContainer",
    "create_executor",
    "create_host_executor",
    "docker_engine_answers",
]

EXECUTOR_KINDS = ("auto", "docker", "host")
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


def docker_engine_answers(environ: Mapping[str, str] = os.environ, *, timeout: float = 0.5) -> bool:
    """Whether the engine at ``DOCKER_HOST`` (default ``/var/run/docker.sock``) answers ``GET /_ping`` with OK."""
    url = environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    if url.startswith("unix://") and not Path(url.removeprefix("unix://")).exists():
        return False  # the common host case, decided without importing http.client (~20 ms)
    import http.client

    class UnixConnection(http.client.HTTPConnection):
        def __init__(self, path: str) -> None:
            super().__init__("localhost", timeout=timeout)
            self._path = path

        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(self.timeout)
            self.sock.connect(self._path)

    connection: http.client.HTTPConnection
    if url.startswith("unix://"):
        connection = UnixConnection(url.removeprefix("unix://"))
    elif url.startswith("tcp://"):
        host, _, port = url.removeprefix("tcp://").partition(":")
        connection = http.client.HTTPConnection(host, int(port or 2375), timeout=timeout)
    else:
        return False
    try:
        connection.request("GET", "/_ping")
        response = connection.getresponse()
        return response.status == 200
    except OSError:
        return False
    finally:
        connection.close()


def create_executor(
    kind: str | None = None,
    *,
    environ: Mapping[str, str] = os.environ,
    hidden_paths: Sequence[str | Path] = (),
    working_copy: Path | None = None,
) -> Executor:
    """The executor named by ``kind`` or ``ESTAFETTE_BUILDER_EXECUTOR`` (``auto``, ``docker`` or ``host``).

    Raises :class:`ExecutorError` for an unknown kind, when ``docker`` is asked for and no engine answers, and when
    the host executor cannot sandbox stages and ``ESTAFETTE_HOST_EXECUTOR_UNSANDBOXED`` is not ``true``.
    ``hidden_paths`` (the job's configuration and key files) and ``ESTAFETTE_BUILDER_SANDBOX_HIDDEN_PATHS`` are
    hidden from sandboxed stages; ``ESTAFETTE_BUILDER_SANDBOX_READ_ONLY_PATHS`` are shown to them read-only. Local
    mode passes its ``working_copy``: as root, stages run as its owner, which it keeps.
    """
    kind = (kind or environ.get("ESTAFETTE_BUILDER_EXECUTOR") or "auto").strip().lower()
    if kind not in EXECUTOR_KINDS:
        raise ExecutorError(f"ESTAFETTE_BUILDER_EXECUTOR must be one of {', '.join(EXECUTOR_KINDS)}, got {kind!r}")
    if kind == "auto":
        kind = "docker" if docker_engine_answers(environ) else "host"
    if kind == "docker":
        from builder.executors.container import DockerExecutor

        return DockerExecutor(base_url=environ.get("DOCKER_HOST") or None)
    return create_host_executor(environ=environ, hidden_paths=hidden_paths, working_copy=working_copy)


def create_host_executor(
    *, environ: Mapping[str, str], hidden_paths: Sequence[str | Path] = (), working_copy: Path | None = None
) -> Executor:
    """The host executor configured from ``environ`` (see :func:`create_executor`)."""
    from builder.executors.host import HostExecutor
    from builder.executors.sandbox import (
        HIDDEN_PATHS_VARIABLE,
        READ_ONLY_PATHS_VARIABLE,
        UNSANDBOXED_VARIABLE,
        SandboxError,
        paths_from,
    )

    unsandboxed = (environ.get(UNSANDBOXED_VARIABLE) or "false").strip().lower()
    if unsandboxed not in ("true", "false"):
        raise ExecutorError(f"{UNSANDBOXED_VARIABLE} must be true or false, got {unsandboxed!r}")
    try:
        hidden = [*hidden_paths, *paths_from(environ, HIDDEN_PATHS_VARIABLE)]
        read_only = paths_from(environ, READ_ONLY_PATHS_VARIABLE)
    except SandboxError as error:
        raise ExecutorError(str(error)) from error
    return HostExecutor(
        allow_unsandboxed=unsandboxed == "true",
        hidden_paths=hidden,
        read_only_paths=read_only,
        working_copy=working_copy,
    )
