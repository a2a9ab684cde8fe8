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
) -> Executor:
    """The executor named by ``kind`` or ``ESTAFETTE_BUILDER_EXECUTOR`` (``auto``, ``docker`` or ``host``).

    Raises :class:`ExecutorError` for an unknown kind or when ``docker`` is asked for and no engine answers.
    ``hidden_paths`` are hidden from sandboxed host processes (the job's configuration and key files).
    """
    kind = (kind or environ.get("ESTAFETTE_BUILDER_EXECUTOR") or "auto").strip().lower()
    if kind not in EXECUTOR_KINDS:
        raise ExecutorError(f"ESTAFETTE_BUILDER_EXECUTOR must be one of {', '.join(EXECUTOR_KINDS)}, got {kind!r}")
    if kind == "auto":
        kind = "docker" if docker_engine_answers(environ) else "host"
    if kind == "docker":
        from builder.executors.container import DockerExecutor

        return DockerExecutor(base_url=environ.get("DOCKER_HOST") or None)
    from builder.executors.host import HostExecutor

    return HostExecutor(hidden_paths=hidden_paths)
