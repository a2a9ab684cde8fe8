"""The docker executor: every stage and service is a container, driven through the Docker Engine API.

Works against dockerd or podman's Docker-compatible socket (the PyPI ``docker`` SDK, imported only here: it costs
~120 ms of start-up). The engine is found as the SDK does (``DOCKER_HOST``, else ``/var/run/docker.sock``).

Per run one bridge network ``estafette-<run>-<random>``; services join it with their name as network alias, so stages
reach them as ``name:port``. Each container gets the workspace bind-mounted at its ``workDir`` (also its working
directory), the generated entrypoint script mounted read-only at ``/estafette-entrypoint/`` when it has commands,
``/credentials`` for trusted images, and CPU/memory limits when configured; what it used is read from a parent
cgroup the builder makes for it (:mod:`builder.executors.cgroups`). Output is read through an attach stream
opened before the container starts, so no line is lost. HTTP readiness probes reach a service at its IP address on
the run's network, which the builder can route to when the engine runs on the same machine (dind, a local dockerd).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from builder.contracts import Credential, ImageInfo
from builder.entrypoint import entrypoint_filename, generate_entrypoint
from builder.executors.base import (
    STOP_GRACE_SECONDS,
    ContainerSpec,
    ExecutorError,
    OutputHandler,
    PullError,
    split_image,
)
from builder.executors.cgroups import UsageCgroup
from builder.usage import StageUsage

ENTRYPOINT_DIR = "/estafette-entrypoint"


def registry_auth(image: str, credentials: Sequence[Credential]) -> dict[str, str] | None:
    """The ``{username, password}`` to pull ``image`` with, as Estafette chooses it.

    A ``container-registry`` credential whose ``repository`` is the image's repository path (``registry/owner`` part
    before the image name), else the first ``container-registry-pull`` credential, else none.
    """
    path, _ = split_image(image)
    repository = path.rsplit("/", 1)[0] if "/" in path else ""
    chosen = next(
        (
            credential
            for credential in credentials
            if credential.type == "container-registry"
            and credential.additional_properties.get("repository") == repository
        ),
        None,
    ) or next((credential for credential in credentials if credential.type == "container-registry-pull"), None)
    if chosen is None:
        return None
    properties = chosen.additional_properties
    return {"username": str(properties.get("username", "")), "password": str(properties.get("password", ""))}


class _Container:
    def __init__(
        self,
        executor: DockerExecutor,
        container_id: str,
        output: OutputHandler,
        stream: Any,
        cgroup: UsageCgroup | None = None,
    ) -> None:
        self._executor = executor
        self.id = container_id
        self.cgroup = cgroup
        self._usage: StageUsage | None = None
        self._reader = threading.Thread(target=self._pump, args=(stream, output), daemon=True, name="docker-output")
        self._reader.start()
        self._exit_code: int | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _pump(stream: Any, output: OutputHandler) -> None:
        with contextlib.suppress(Exception):  # the stream ends with an error when the container is removed
            for stdout, stderr in stream:
                if stdout:
                    output("stdout", stdout)
                if stderr:
                    output("stderr", stderr)

    def wait(self, timeout: float | None = None) -> int | None:
        if self._exit_code is not None:
            return self._exit_code
        api = self._executor.api
        try:
            result = api.wait(self.id, timeout=timeout) if timeout is not None else api.wait(self.id)
        except Exception as error:
            if _is_timeout(error):
                return None
            raise ExecutorError(f"lost track of the container: {error}") from error
        self._reader.join(timeout)
        self._exit_code = int(result.get("StatusCode", -1))
        return self._exit_code

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        with self._lock, contextlib.suppress(Exception):
            self._executor.api.stop(self.id, timeout=max(0, int(grace)))

    def usage(self) -> StageUsage | None:
        with self._lock:
            if self._exit_code is None or self.cgroup is None:
                return self._usage
            cgroup, self.cgroup = self.cgroup, None
            self._usage = cgroup.read()
            if not cgroup.remove():  # the engine has not removed the container's own cgroup yet: at close()
                self.cgroup = cgroup
            return self._usage

    def exec(self, command: Sequence[str], *, timeout: float) -> int:
        api = self._executor.api
        try:
            execution = api.exec_create(self.id, list(command), stdout=True, stderr=True)
            api.exec_start(execution["Id"], detach=False)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                state = api.exec_inspect(execution["Id"])
                if not state.get("Running"):
                    return int(state.get("ExitCode") or 0)
                time.sleep(0.05)
        except Exception:  # noqa: BLE001 — whatever the engine says, the probe did not succeed
            return -1
        return -1

    def address(self) -> str:
        networks = self._executor.api.inspect_container(self.id)["NetworkSettings"]["Networks"]
        for network in networks.values():
            if network.get("IPAddress"):
                return str(network["IPAddress"])
        raise ExecutorError("the container has no IP address on the run's network")


def _is_timeout(error: Exception) -> bool:
    text = f"{type(error).__name__} {error}".lower()
    return "timeout" in text or "timed out" in text


class DockerExecutor:
    """Runs stages as containers on a Docker Engine API (``base_url`` like ``unix:///run/docker.sock``)."""

    name = "docker"

    def __init__(self, *, base_url: str | None = None) -> None:
        import docker

        try:
            # attach streams and waits each hold a pooled connection: parallel stages and services need many
            self.client = (
                docker.DockerClient(base_url=base_url, max_pool_size=64)
                if base_url
                else docker.from_env(max_pool_size=64)
            )
            self.client.ping()
        except Exception as error:
            raise ExecutorError(
                f"no container engine answers ({error}); start dockerd or use the host executor"
            ) from error
        self.api = self.client.api
        url = base_url or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        self._socket_path = url.removeprefix("unix://") if url.startswith("unix://") else None
        self._network_id: str | None = None
        self._runtime: Path | None = None
        self._containers: list[_Container] = []
        self._lock = threading.Lock()
        self._cgroup_driver: str | None = None

    def open(self, *, run_id: str) -> None:
        slug = "".join(ch if ch.isalnum() else "-" for ch in run_id.lower())[:30]
        name = f"estafette-{slug}-{secrets.token_hex(4)}"
        self._network_id = self.api.create_network(name, driver="bridge", check_duplicate=True)["Id"]
        self._runtime = Path(tempfile.mkdtemp(prefix="estafette-docker-"))

    def close(self) -> None:
        with self._lock:
            containers, self._containers = self._containers, []
        for container in containers:
            with contextlib.suppress(Exception):
                self.api.remove_container(container.id, force=True)
            if container.cgroup is not None:
                container.cgroup.remove()
        if self._network_id is not None:
            with contextlib.suppress(Exception):
                self.api.remove_network(self._network_id)
            self._network_id = None
        if self._runtime is not None:
            import shutil

            shutil.rmtree(self._runtime, ignore_errors=True)
            self._runtime = None

    def pull(self, image: str, *, credentials: Sequence[Credential] = ()) -> ImageInfo:
        import docker.errors

        name, tag = split_image(image)
        pulled = False
        started = time.monotonic()
        try:
            found = self.client.images.get(image)
        except docker.errors.ImageNotFound:
            try:
                self.api.pull(name, tag=tag, auth_config=registry_auth(image, credentials))
                found = self.client.images.get(image)
            except Exception as error:
                raise PullError(f"Failed pulling image: {_api_message(error)}") from error
            pulled = True
        except Exception as error:
            raise PullError(f"Failed pulling image: {_api_message(error)}") from error
        return ImageInfo(
            name=name,
            tag=tag,
            is_pulled=pulled,
            image_size=int(found.attrs.get("Size") or 0),
            pull_duration=int((time.monotonic() - started) * 1e9) if pulled else 0,
        )

    def image_details(self, image: str) -> tuple[str, str]:
        """``(sha, created date)`` of a present image, for ``ESTAFETTE_STAGE_IMAGE_SHA`` / ``…_CREATED_DATE``."""
        try:
            attrs = self.client.images.get(image).attrs
        except Exception:  # noqa: BLE001 — the details are informative only
            return "", ""
        return str(attrs.get("Id", "")), str(attrs.get("Created", ""))

    def start(self, spec: ContainerSpec, output: OutputHandler) -> _Container:
        if self._network_id is None or self._runtime is None:
            self.open(run_id="run")
        assert self._runtime is not None
        volumes = {str(spec.workspace): {"bind": spec.work_dir, "mode": "rw"}}
        entrypoint: list[str] | None = None
        if spec.commands:
            directory = Path(tempfile.mkdtemp(prefix="c-", dir=self._runtime))
            script = directory / entrypoint_filename(spec.shell)
            script.write_text(
                generate_entrypoint(
                    shell=spec.shell, commands=spec.commands, run_in_foreground=spec.run_commands_in_foreground
                )
            )
            script.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
            volumes[str(directory)] = {"bind": ENTRYPOINT_DIR, "mode": "ro"}
            entrypoint = [f"{ENTRYPOINT_DIR}/{script.name}"]
        if spec.credentials_dir is not None:
            volumes[str(spec.credentials_dir)] = {"bind": "/credentials", "mode": "ro"}
        if spec.mount_docker_socket and self._socket_path:
            volumes[self._socket_path] = {"bind": "/var/run/docker.sock", "mode": "rw"}
        limits: dict[str, Any] = {}
        if spec.resources is not None and spec.resources.cpus:
            limits["nano_cpus"] = int(spec.resources.cpus * 1e9)
        if spec.resources is not None and spec.resources.memory_bytes:
            limits["mem_limit"] = spec.resources.memory_bytes
        aliases = [spec.network_alias] if spec.network_alias else [spec.name]
        cgroup = self._usage_cgroup()
        if cgroup is not None:
            limits["cgroup_parent"] = cgroup.parent
        try:
            created = self.api.create_container(
                spec.image,
                entrypoint=entrypoint,
                command=[] if entrypoint else None,
                environment=[f"{key}={value}" for key, value in spec.env.items()],
                working_dir=spec.work_dir,
                name=f"estafette-{secrets.token_hex(6)}",
                hostname=(spec.network_alias or "")[:63] or None,
                host_config=self.api.create_host_config(
                    binds=volumes,
                    network_mode=self._network_id,
                    privileged=spec.privileged,
                    log_config={"type": "local", "config": {"max-size": "20m", "max-file": "5"}},
                    **limits,
                ),
                networking_config=self.api.create_networking_config(
                    {self._network_id: self.api.create_endpoint_config(aliases=aliases)}
                ),
            )
        except Exception as error:
            if cgroup is not None:
                cgroup.remove()
            raise ExecutorError(f"Failed starting {spec.name}: {_api_message(error)}") from error
        container_id = created["Id"]
        try:
            stream = self.api.attach(container_id, stdout=True, stderr=True, stream=True, logs=True, demux=True)
            container = _Container(self, container_id, output, stream, cgroup)
            with self._lock:
                self._containers.append(container)
            self.api.start(container_id)
        except Exception as error:
            with contextlib.suppress(Exception):
                self.api.remove_container(container_id, force=True)
            if cgroup is not None:
                cgroup.remove()
            raise ExecutorError(f"Failed starting {spec.name}: {_api_message(error)}") from error
        return container

    def _usage_cgroup(self) -> UsageCgroup | None:
        """A parent cgroup for the next container, where the engine can use one: on this machine (a unix socket; an
        engine over TCP is taken for another machine's) with its ``cgroupfs`` driver."""
        if self._socket_path is None:
            return None
        if self._cgroup_driver is None:
            try:
                self._cgroup_driver = str(self.api.info().get("CgroupDriver") or "")
            except Exception:  # noqa: BLE001 — then nothing is measured; the stage runs all the same
                self._cgroup_driver = ""
        return UsageCgroup.create() if self._cgroup_driver == "cgroupfs" else None


def _api_message(error: Exception) -> str:
    explanation = getattr(error, "explanation", None)
    return str(explanation or error)
