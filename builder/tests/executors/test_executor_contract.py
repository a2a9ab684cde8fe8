"""The executor contract: every test runs against the host executor and the docker executor (real dockerd)."""

from __future__ import annotations

import http.client
import threading
import time
from pathlib import Path

import pytest

from builder.contracts import Resources
from builder.executors.base import ContainerSpec, Executor, ExecutorError, PullError
from builder.testing import reserve_port
from builder.tests.executors.conftest import EXTENSION_IMAGE, IMAGE, isolates


class Output:
    def __init__(self) -> None:
        self.chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        self._lock = threading.Lock()

    def __call__(self, stream: str, data: bytes) -> None:
        with self._lock:
            self.chunks[stream].append(data)

    def text(self, stream: str = "stdout") -> str:
        with self._lock:
            return b"".join(self.chunks[stream]).decode()

    def lines(self, stream: str = "stdout") -> list[str]:
        return [line for line in self.text(stream).splitlines() if not line.startswith("\x1b")]


def spec(workspace: Path, *commands: str, **fields: object) -> ContainerSpec:
    values: dict[str, object] = {"name": "stage", "image": IMAGE, "workspace": workspace, "work_dir": "/estafette-work"}
    values.update(fields)
    return ContainerSpec(commands=commands, **values)  # type: ignore[arg-type]


def run(executor: Executor, container_spec: ContainerSpec) -> tuple[int | None, Output]:
    output = Output()
    container = executor.start(container_spec, output)
    return container.wait(timeout=60), output


def test_it_runs_commands_in_the_workspace_mounted_at_the_work_dir(executor: Executor, tmp_path: Path) -> None:
    # given a workspace with a file
    (tmp_path / "input.txt").write_text("from the workspace\n")
    # when a stage reads it and writes another
    code, output = run(executor, spec(tmp_path, "cat input.txt", "pwd", "echo written > output.txt"))
    # then it worked in the workspace, seen at the work dir
    assert code == 0, output.text("stderr")
    assert output.lines()[0] == "from the workspace"
    if isolates(executor):
        assert output.lines()[1] == "/estafette-work"
    assert (tmp_path / "output.txt").read_text() == "written\n"


def test_it_returns_the_exit_code_and_echoes_each_command(executor: Executor, tmp_path: Path) -> None:
    code, output = run(executor, spec(tmp_path, "echo one", "sh -c 'exit 3'", "echo never"))
    assert code == 3
    assert "> echo one" in output.text() and "> echo never" not in output.text()


def test_it_passes_exactly_the_given_environment(
    executor: Executor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a variable in the builder's own environment that must not leak
    monkeypatch.setenv("ESTAFETTE_BUILDER_SECRET_KEY", "must-not-leak")
    # when a stage prints its environment
    code, output = run(executor, spec(tmp_path, "env", env={"ESTAFETTE_GIT_BRANCH": "main", "SPACED": "a b"}))
    # then it has the stage's variables and none of the builder's
    assert code == 0
    assert "ESTAFETTE_GIT_BRANCH=main" in output.lines() and "SPACED=a b" in output.lines()
    assert "must-not-leak" not in output.text()


def test_it_delivers_all_output_in_order_on_separate_streams(executor: Executor, tmp_path: Path) -> None:
    code, output = run(executor, spec(tmp_path, "seq 1 20000", "echo problem >&2"))
    assert code == 0
    assert output.lines() == [str(number) for number in range(1, 20001)]
    assert output.lines("stderr") == ["problem"]


def test_it_stops_a_container_within_the_grace_forwarding_sigterm(executor: Executor, tmp_path: Path) -> None:
    # given a stage whose first command records SIGTERM, running in the background under the entrypoint
    (tmp_path / "trap.sh").write_text('trap "echo got-term > term.txt; exit 0" TERM\nwhile true; do sleep 0.1; done\n')
    container = executor.start(spec(tmp_path, "sh trap.sh", "echo after"), Output())
    time.sleep(1.0)
    # when it is stopped
    started = time.monotonic()
    container.stop(5)
    code = container.wait(timeout=30)
    # then it ended quickly, and the command got the signal through the script's trap
    assert time.monotonic() - started < 8
    assert code is not None
    assert (tmp_path / "term.txt").read_text().strip() == "got-term"


def test_it_kills_a_container_that_ignores_sigterm_after_the_grace(executor: Executor, tmp_path: Path) -> None:
    (tmp_path / "stubborn.sh").write_text('trap "" TERM\nwhile true; do sleep 0.1; done\n')
    container = executor.start(spec(tmp_path, "sh stubborn.sh", "true"), Output())
    time.sleep(1.0)
    started = time.monotonic()
    container.stop(1)
    assert container.wait(timeout=30) not in (None, 0)
    assert time.monotonic() - started < 8


def test_it_reports_timeouts_while_waiting(executor: Executor, tmp_path: Path) -> None:
    container = executor.start(spec(tmp_path, "sleep 30"), Output())
    assert container.wait(timeout=0.2) is None
    container.stop(1)


def httpd_service(tmp_path: Path, port: int) -> ContainerSpec:
    www = tmp_path / "www"
    www.mkdir(exist_ok=True)
    (www / "index.html").write_text("service says hi\n")
    return spec(
        tmp_path,
        f"busybox httpd -f -p {port} -h /estafette-work/www",
        name="svc",
        network_alias="svc",
    )


def wait_for_http(address: str, port: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection(address, port, timeout=1)
        try:
            connection.request("GET", "/")
            if connection.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    return False


def test_it_makes_services_reachable_by_name_and_from_the_builder(executor: Executor, tmp_path: Path) -> None:
    if not isolates(executor):
        pytest.skip("without a sandbox the host executor cannot give service names to stages")
    # given a service named svc serving HTTP
    port = reserve_port()
    service = executor.start(httpd_service(tmp_path, port), Output())
    try:
        # when the builder probes it at its address, and a stage asks for it by name
        assert wait_for_http(service.address(), port), "the builder cannot reach the service"
        code, output = run(executor, spec(tmp_path, f"busybox wget -q -O - http://svc:{port}/"))
        # then both reach it
        assert code == 0, output.text("stderr")
        assert "service says hi" in output.lines()
    finally:
        service.stop(2)


def test_it_execs_probes_inside_a_running_container(executor: Executor, tmp_path: Path) -> None:
    service = executor.start(spec(tmp_path, "sleep 0.3", "touch /tmp/ready", "sleep 30", name="svc"), Output())
    try:
        deadline = time.monotonic() + 20
        while service.exec(["test", "-f", "/tmp/ready"], timeout=5) != 0:
            assert time.monotonic() < deadline, "the exec probe never succeeded"
            time.sleep(0.1)
        assert service.exec(["false"], timeout=5) == 1
    finally:
        service.stop(2)


def test_it_runs_an_image_without_commands_only_where_images_exist(executor: Executor, tmp_path: Path) -> None:
    extension = ContainerSpec(name="ext", image=EXTENSION_IMAGE, workspace=tmp_path, work_dir="/estafette-work")
    if executor.name == "host":
        with pytest.raises(ExecutorError, match="cannot run the entrypoint of image"):
            executor.start(extension, Output())
        return
    code, output = run(executor, extension)
    assert code == 0
    assert output.lines() == ["the image's own command ran"]


def test_it_pulls_present_images_and_reports_unavailable_ones(executor: Executor) -> None:
    info = executor.pull(IMAGE)
    assert (info.name, info.tag) == ("local/busybox", "latest")
    if executor.name == "docker":
        assert info.image_size > 0 and not info.is_pulled
        with pytest.raises(PullError, match="Failed pulling image"):
            executor.pull("registry.invalid/nothing/here:1")


def test_it_applies_resource_limits_where_it_can(executor: Executor, tmp_path: Path) -> None:
    # (the host sandbox shows no /sys: a stage there has no cgroup files to read)
    limited = spec(
        tmp_path,
        "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null"
        " || echo no-cgroup-files",
    )
    limited = ContainerSpec(**{**limited.__dict__, "resources": Resources(cpus=0.5, memory_bytes=64 * 1024 * 1024)})
    code, output = run(executor, limited)
    assert code == 0
    if executor.name == "docker":
        assert output.lines()[-1] == str(64 * 1024 * 1024)
