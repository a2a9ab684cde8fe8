"""What a stage may do on the docker executor, through the runner, on the real dockerd the suite starts: Docker's
default capabilities and nothing more, never privileged and never the engine's socket unless its image is a trusted
image that allows it for this pipeline (ESTAFETTE.md §3.1, §5.4, §5.6)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.contracts import TrustedImage
from builder.executors.base import ContainerSpec
from builder.executors.container import DockerExecutor
from builder.manifest.when import evaluate_when
from builder.plan import ServicePlan, StagePlan
from builder.runner import PipelineRunner, RunContext
from builder.testing import RecordingSink
from builder.tests.executors.conftest import IMAGE

# Docker's default set for a container's root: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
# NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP (moby's oci/caps/defaults.go).
DOCKER_DEFAULT_CAPABILITIES = "00000000a80425fb"
REPORT = (
    "grep -E '^CapEff' /proc/self/status",
    "test -S /var/run/docker.sock && echo has-socket || echo no-socket",
)


@pytest.fixture
def executor(docker_engine: object) -> Iterator[DockerExecutor]:
    chosen = DockerExecutor(base_url=docker_engine.url)  # type: ignore[attr-defined]
    chosen.open(run_id="privileges")
    try:
        yield chosen
    finally:
        chosen.close()


def run(executor: DockerExecutor, workspace: Path, stage: StagePlan, **context: Any) -> RecordingSink:
    sink = RecordingSink()
    runner = PipelineRunner(
        RunContext(executor=executor, sink=sink, workspace=workspace, evaluate_when=evaluate_when, **context)
    )
    runner.run([stage])
    return sink


def host_configs(executor: DockerExecutor) -> list[dict[str, Any]]:
    return [executor.api.inspect_container(container.id)["HostConfig"] for container in executor._containers]


def printed(sink: RecordingSink, name: str) -> list[str]:
    return [text for text in sink.texts(name) if not text.startswith("\x1b")]


@pytest.mark.parametrize(
    ("trusted", "pipeline"),
    [
        ((), "acme/api"),  # no trusted image at all
        ((TrustedImage(path="local/busybox-other", run_privileged=True, run_docker=True),), "acme/api"),  # another
        ((TrustedImage(path="local/busybox", run_docker=True, allowed_pipelines="acme/infra"),), "acme/api"),
    ],
    ids=["untrusted", "another-image-is-trusted", "trusted-for-another-pipeline"],
)
def test_an_untrusted_stage_gets_dockers_default_capabilities_only(
    executor: DockerExecutor, tmp_path: Path, trusted: tuple[TrustedImage, ...], pipeline: str
) -> None:
    # given a stage and a service of an image that is not trusted for this pipeline
    service = ServicePlan(name="svc", image=IMAGE, commands=("sleep 30",))
    stage = StagePlan(name="report", image=IMAGE, commands=REPORT, services=(service,))
    # when it runs
    sink = run(executor, tmp_path, stage, trusted_images=trusted, pipeline=pipeline)
    # then it had Docker's default capabilities, no engine socket, and no container was privileged or got more
    assert sink.step("report").status == "SUCCEEDED", sink.steps()
    assert printed(sink, "report") == [f"CapEff:\t{DOCKER_DEFAULT_CAPABILITIES}", "no-socket"]
    configs = host_configs(executor)
    assert len(configs) == 2
    for config in configs:
        assert config["Privileged"] is False
        assert not config.get("CapAdd")
        assert not any("docker.sock" in bind for bind in config.get("Binds") or [])


class RecordingExecutor:
    """The docker executor, recording what the runner asks it to start."""

    def __init__(self, executor: DockerExecutor) -> None:
        self.executor = executor
        self.name = executor.name
        self.specs: list[ContainerSpec] = []

    def start(self, spec: ContainerSpec, output: Any) -> Any:
        self.specs.append(spec)
        return self.executor.start(spec, output)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.executor, name)


def test_a_trusted_image_that_runs_docker_gets_the_engine_and_privileges_for_its_pipeline_only(
    executor: DockerExecutor, tmp_path: Path
) -> None:
    # given a trusted image with runDocker for acme/infra (Estafette's extensions/docker is one)
    trusted = (TrustedImage(path="local/busybox", run_docker=True, allowed_pipelines="acme/infra"),)
    stage = StagePlan(name="docker", image=IMAGE, commands=REPORT)
    recording = RecordingExecutor(executor)
    # when acme/infra and acme/api run it
    for pipeline in ("acme/infra", "acme/api"):
        run(recording, tmp_path, stage, trusted_images=trusted, pipeline=pipeline)  # type: ignore[arg-type]
    # then only acme/infra's container is asked to run privileged with the engine's socket (this test machine,
    # itself a container without every capability, cannot start a privileged container: the engine refuses it)
    infra, api = recording.specs
    assert (infra.privileged, infra.mount_docker_socket) == (True, True)
    assert (api.privileged, api.mount_docker_socket) == (False, False)
