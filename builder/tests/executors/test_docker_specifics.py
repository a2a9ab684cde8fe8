"""What only the docker executor does: a network per run, cleanup, registry credentials, auto-selection."""

from __future__ import annotations

from pathlib import Path

from builder.contracts import Credential
from builder.executors import create_executor, docker_engine_answers
from builder.executors.container import DockerExecutor, registry_auth
from builder.executors.host import HostExecutor
from builder.tests.executors.conftest import IMAGE
from builder.tests.executors.test_executor_contract import Output, spec


def test_it_creates_a_network_per_run_and_removes_everything_on_close(docker_engine: object, tmp_path: Path) -> None:
    # given an executor that ran a container
    executor = DockerExecutor(base_url=docker_engine.url)  # type: ignore[attr-defined]
    executor.open(run_id="build-42")
    container = executor.start(spec(tmp_path, "true"), Output())
    assert container.wait(timeout=60) == 0
    network_id = executor._network_id
    networks = {network["Id"] for network in executor.api.networks()}
    assert network_id in networks
    # when it is closed
    executor.close()
    # then its network and containers are gone
    assert network_id not in {network["Id"] for network in executor.api.networks()}
    assert executor.api.containers(all=True, filters={"id": container.id}) == []  # type: ignore[attr-defined]


def test_it_keeps_runs_apart_even_with_the_same_service_names(docker_engine: object, tmp_path: Path) -> None:
    # given two runs, each with an HTTP service named "db" answering with its run's name
    runs = {name: DockerExecutor(base_url=docker_engine.url) for name in ("first", "second")}  # type: ignore[attr-defined]
    services = []
    try:
        for name, executor in runs.items():
            executor.open(run_id=name)
            serve = f"mkdir -p /tmp/www && echo {name} > /tmp/www/index.html && httpd -f -p 8080 -h /tmp/www"
            services.append(executor.start(spec(tmp_path, serve, name="db", network_alias="db"), Output()))
        # when a stage of each run asks db for its name
        answers = {}
        for name, executor in runs.items():
            output = Output()
            stage = executor.start(
                spec(
                    tmp_path, "i=0; until wget -q -O - http://db:8080/; do i=$((i+1)); [ $i -lt 50 ]; sleep 0.1; done"
                ),
                output,
            )
            assert stage.wait(timeout=60) == 0, output.text("stderr")
            answers[name] = output.lines()[-1]
        # then each reached its own service (no name clash, one network per run)
        assert answers == {"first": "first", "second": "second"}
    finally:
        for service in services:
            service.stop(1)
        for executor in runs.values():
            executor.close()


def test_it_chooses_pull_credentials_as_estafette_does() -> None:
    registry = Credential(
        name="gcr",
        type="container-registry",
        additional_properties={"repository": "eu.gcr.io/acme", "username": "u1", "password": "p1"},
    )
    pull = Credential(
        name="hub", type="container-registry-pull", additional_properties={"username": "u2", "password": "p2"}
    )
    other = Credential(name="x", type="github-api-token", additional_properties={"token": "t"})
    assert registry_auth("eu.gcr.io/acme/app:1.0", [other, pull, registry]) == {"username": "u1", "password": "p1"}
    assert registry_auth("alpine:3", [registry, pull]) == {"username": "u2", "password": "p2"}
    assert registry_auth("alpine:3", [other]) is None


def test_it_picks_docker_when_an_engine_answers_and_host_otherwise(docker_engine: object) -> None:
    url = docker_engine.url  # type: ignore[attr-defined]
    assert docker_engine_answers({"DOCKER_HOST": url})
    chosen = create_executor("auto", environ={"DOCKER_HOST": url})
    assert isinstance(chosen, DockerExecutor)
    assert not docker_engine_answers({"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert isinstance(create_executor("auto", environ={"DOCKER_HOST": "unix:///nonexistent.sock"}), HostExecutor)
    assert isinstance(
        create_executor(None, environ={"ESTAFETTE_BUILDER_EXECUTOR": "host", "DOCKER_HOST": url}), HostExecutor
    )


def test_it_pulls_a_present_image_without_a_registry(docker_engine: object) -> None:
    executor = DockerExecutor(base_url=docker_engine.url)  # type: ignore[attr-defined]
    info = executor.pull(IMAGE, credentials=[])
    assert info.is_pulled is False and info.image_size > 0
    sha, created = executor.image_details(IMAGE)
    assert sha.startswith("sha256:") and created


def test_it_mounts_the_engine_socket_only_when_asked(docker_engine: object, tmp_path: Path) -> None:
    # (the runner asks for it for trusted images with runDocker, which also run privileged: a privileged container
    # cannot start inside this unprivileged test machine, so the mount is checked at the executor)
    executor = DockerExecutor(base_url=docker_engine.url)  # type: ignore[attr-defined]
    executor.open(run_id="socket")
    check = "test -S /var/run/docker.sock && echo has-socket || echo no-socket"
    try:
        with_socket, without = Output(), Output()
        assert executor.start(spec(tmp_path, check, mount_docker_socket=True), with_socket).wait(timeout=60) == 0
        assert executor.start(spec(tmp_path, check), without).wait(timeout=60) == 0
    finally:
        executor.close()
    assert with_socket.lines() == ["has-socket"]
    assert without.lines() == ["no-socket"]
