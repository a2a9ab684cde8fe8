"""The executors measure what a stage used (CPU time, peak memory) from the exit of its process tree.

The stage burns a known amount of CPU *time* (awk spins until its own ``utime + stime`` in ``/proc/self/stat``
reaches it, whatever the machine's load) and allocates a known amount of memory (dd's buffer, which it fills), both
in descendants of the stage's shell: what is measured must be the tree's, not the shell's alone.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

from builder.executors.base import ContainerSpec, Executor
from builder.executors.host import HostExecutor, bwrap_available
from builder.tests.executors.conftest import IMAGE
from builder.usage import RunUsage, StageUsage

MIB = 1024 * 1024
CPU_SECONDS = 0.6
ALLOCATED = 80 * MIB
# /proc's times count in USER_HZ (always 100 on Linux): 60 ticks = 0.6 s.
BURN = (
    'awk \'BEGIN { while (1) { getline s < "/proc/self/stat"; close("/proc/self/stat"); split(s, f, " ");'
    f" if (f[14] + f[15] >= {round(CPU_SECONDS * 100)}) exit; for (i = 0; i < 20000; i++) x++ }} }}'"
)
ALLOCATE = f"dd if=/dev/zero of=/dev/null bs={ALLOCATED // MIB}M count=1 2>/dev/null"
# The rest of the stage (a shell, awk's and dd's start, the sandbox's set-up) costs far less than this.
CPU_SLACK = 1.5
MEMORY_SLACK = 40 * MIB


def run_to_the_end(executor: Executor, tmp_path: Path, commands: list[str]) -> StageUsage | None:
    executor.open(run_id=f"usage-{tmp_path.name}")
    try:
        spec = ContainerSpec(name="hungry", image=IMAGE, workspace=tmp_path, work_dir="/work", commands=commands)
        container = executor.start(spec, lambda stream, data: None)
        assert container.wait(120) == 0
        return container.usage()
    finally:
        executor.close()


def test_it_measures_the_cpu_time_and_peak_memory_of_an_unsandboxed_stage_and_its_descendants(tmp_path: Path) -> None:
    # given a stage that burns 0.6 s of CPU and allocates 80 MiB in children of its shell, when it runs to its end
    usage = run_to_the_end(HostExecutor(sandbox=False), tmp_path, [BURN, ALLOCATE])
    # then its usage counts the children's CPU time and memory
    assert usage is not None and usage.cpu_seconds is not None
    assert CPU_SECONDS <= usage.cpu_seconds <= CPU_SECONDS + CPU_SLACK
    # (no upper bound: the process the builder starts keeps the builder's own peak, see HostProcess.usage)
    assert usage.memory_max_bytes >= ALLOCATED


NESTED = pytest.mark.skipif(not bwrap_available() or os.geteuid() != 0, reason="the nested sandbox: bwrap, run by root")


@NESTED
def test_in_the_sandbox_it_measures_the_cpu_time_and_peak_memory_of_the_stages_tree(tmp_path: Path) -> None:
    # given the same stage in the sandbox (nested as root, which leaves its init for the builder to reap)
    usage = run_to_the_end(HostExecutor(sandbox=True), tmp_path, [BURN, ALLOCATE])
    # then the CPU time spent inside its namespaces comes back, and the peak is the stage's own
    assert usage is not None and usage.cpu_seconds is not None
    assert CPU_SECONDS <= usage.cpu_seconds <= CPU_SECONDS + CPU_SLACK
    assert ALLOCATED <= usage.memory_max_bytes <= ALLOCATED + MEMORY_SLACK


@NESTED
def test_in_the_sandbox_an_idle_stage_measures_little(tmp_path: Path) -> None:
    # given a builder whose own resident set is large (a child it starts shares it until exec)
    ballast = bytearray(2 * MEMORY_SLACK)
    ballast[:: resource.getpagesize()] = b"x" * len(ballast[:: resource.getpagesize()])
    # when an idle stage runs, then the measure is the stage's, not the builder's
    usage = run_to_the_end(HostExecutor(sandbox=True), tmp_path, ["true"])
    assert usage is not None and usage.cpu_seconds is not None
    assert usage.cpu_seconds < CPU_SECONDS
    assert usage.memory_max_bytes < MEMORY_SLACK < len(ballast)


@NESTED
def test_in_the_sandbox_the_builder_reaps_the_sandboxs_init(tmp_path: Path) -> None:
    # the init the outer bwrap leaves behind is reaped, not left a zombie of the builder for each stage
    executor = HostExecutor(sandbox=True)
    executor.open(run_id=f"usage-{tmp_path.name}")
    try:
        spec = ContainerSpec(name="quick", image=IMAGE, workspace=tmp_path, work_dir="/work", commands=["true"])
        container = executor.start(spec, lambda stream, data: None)
        assert container.wait(120) == 0
        init = container._process._child_pid  # type: ignore[attr-defined]
        assert init is not None
        assert not Path(f"/proc/{init}").exists()
    finally:
        executor.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="the builder makes the containers' parent cgroups as root")
def test_the_docker_executor_measures_the_cpu_time_and_peak_memory_of_the_container(
    tmp_path: Path, docker_engine: object
) -> None:
    from builder.executors.container import DockerExecutor

    # given the same stage in a container of the suite's dockerd (busybox's awk and dd)
    executor = DockerExecutor(base_url=docker_engine.url)  # type: ignore[attr-defined]
    usage = run_to_the_end(executor, tmp_path, [BURN, ALLOCATE])
    # then the container's cgroup totals come back, although the container is gone when they are read
    assert usage is not None and usage.cpu_seconds is not None
    assert CPU_SECONDS <= usage.cpu_seconds <= CPU_SECONDS + CPU_SLACK
    assert ALLOCATED <= usage.memory_max_bytes <= ALLOCATED + MEMORY_SLACK


@pytest.mark.skipif(os.geteuid() != 0, reason="the builder makes the containers' parent cgroups as root")
def test_the_docker_executor_leaves_no_cgroup_behind(tmp_path: Path, docker_engine: object) -> None:
    from builder.executors.container import DockerExecutor

    executor = DockerExecutor(base_url=docker_engine.url)  # type: ignore[attr-defined]
    executor.open(run_id=f"usage-{tmp_path.name}")
    try:
        spec = ContainerSpec(name="quick", image=IMAGE, workspace=tmp_path, work_dir="/work", commands=["true"])
        stage = executor.start(spec, lambda stream, data: None)
        service = executor.start(
            ContainerSpec(name="svc", image=IMAGE, workspace=tmp_path, work_dir="/work", commands=["sleep 60"]),
            lambda stream, data: None,
        )
        cgroups = [stage.cgroup, service.cgroup]
        assert all(cgroup is not None for cgroup in cgroups)
        assert stage.wait(60) == 0
        assert stage.usage() is not None
        assert service.usage() is None  # still running
        service.stop(0)
    finally:
        executor.close()
    # the parents of both (the one read after its stage, the service's at close) are gone
    for cgroup in cgroups:
        assert cgroup is not None
        assert not any(directory.exists() for directory in cgroup._directories)


def test_a_stage_still_running_has_no_usage_yet(tmp_path: Path) -> None:
    executor = HostExecutor(sandbox=False)
    executor.open(run_id=f"usage-{tmp_path.name}")
    try:
        spec = ContainerSpec(
            name="sleeper", image="alpine", workspace=tmp_path, work_dir="/work", commands=["sleep 30"]
        )
        container = executor.start(spec, lambda stream, data: None)
        try:
            assert container.wait(0.2) is None
            assert container.usage() is None
        finally:
            container.stop(1)
    finally:
        executor.close()


def test_the_runs_maxima_are_the_busiest_stages_cores_and_the_largest_peak() -> None:
    usage = RunUsage()
    usage.add(StageUsage(cpu_seconds=1.0, memory_max_bytes=100), wall_seconds=4.0)
    usage.add(StageUsage(cpu_seconds=3.0, memory_max_bytes=50), wall_seconds=2.0)
    usage.add(StageUsage(cpu_seconds=None, memory_max_bytes=70), wall_seconds=1.0)
    assert (usage.cpu_max_usage, usage.memory_max_usage) == (1.5, 100.0)
