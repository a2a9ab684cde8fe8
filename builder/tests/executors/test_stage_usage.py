"""The host executor measures what a stage used (CPU time, peak memory) from the exit of its process tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.executors.base import ContainerSpec
from builder.executors.host import HostExecutor, bwrap_available
from builder.usage import RunUsage, StageUsage

HUNGRY = [
    # a 64 MiB buffer of dd (of which it touches most), in a descendant of the stage's shell: its peak must count
    "dd if=/dev/zero of=/dev/null bs=64M count=2 2>/dev/null",
    # a busy loop of the shell itself: CPU time
    "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done",
]


def run_to_the_end(executor: HostExecutor, tmp_path: Path, commands: list[str]) -> StageUsage | None:
    executor.open(run_id=f"usage-{tmp_path.name}")
    try:
        spec = ContainerSpec(name="hungry", image="alpine", workspace=tmp_path, work_dir="/work", commands=commands)
        container = executor.start(spec, lambda stream, data: None)
        assert container.wait(60) == 0
        return container.usage()
    finally:
        executor.close()


def test_it_measures_the_cpu_time_and_peak_memory_of_an_unsandboxed_stage_and_its_descendants(tmp_path: Path) -> None:
    # given a stage that allocates 64 MiB in a child process and spins the CPU, when it runs to its end
    usage = run_to_the_end(HostExecutor(sandbox=False), tmp_path, HUNGRY)
    # then its usage counts the child's memory and the shell's CPU
    assert usage is not None and usage.cpu_seconds is not None
    assert usage.memory_max_bytes >= 32 * 1024 * 1024  # a shell alone stays under 24 MiB (the forked builder's RSS)
    assert usage.cpu_seconds > 0.1


@pytest.mark.skipif(not bwrap_available(), reason="bwrap is not installed")
def test_in_the_sandbox_it_measures_the_peak_memory_and_says_it_cannot_tell_the_cpu_time(tmp_path: Path) -> None:
    usage = run_to_the_end(HostExecutor(sandbox=True), tmp_path, HUNGRY)
    assert usage is not None
    assert usage.memory_max_bytes >= 32 * 1024 * 1024
    assert usage.cpu_seconds is None


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
