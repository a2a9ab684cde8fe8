"""What a docker executor's container used, from a cgroup the builder makes for it and reads after it is gone.

The Engine API cannot say it once a stage has ended: ``/containers/{id}/stats`` samples about once a second while the
container runs and says nothing after (a short stage has no sample, a long one loses its last second), and the
container's own cgroup goes with it. So the builder creates a *parent* cgroup per container and asks the engine to
create the container's cgroup inside it (``HostConfig.CgroupParent``): the kernel charges CPU time and memory to
every ancestor too, and the parent, which outlives the container, keeps the totals. Read after the container
exited (cgroup v1: ``cpuacct.usage`` in ns and ``memory.max_usage_in_bytes``; v2: ``cpu.stat`` ``usage_usec`` and
``memory.peak``), then removed. Unlike ``wait4`` in the host executor, the peak memory is the whole container's (all
its processes at once, page cache included, as Docker and Kubernetes report a container's memory).

This needs the engine on the builder's machine, sharing its cgroup file system (a local dockerd, this project's
tests), its ``cgroupfs`` driver (the ``systemd`` driver takes only slice names) and a builder allowed to create
cgroups (root). Elsewhere nothing is measured (``None``); also when the parent counted nothing at all, which means
the engine did not use it (its cgroups are another machine's or another cgroup namespace's, where a cgroup of the
same name was created; the engine then leaves that empty cgroup behind, which is why an engine reached over TCP is
not given one).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from builder.usage import StageUsage

MOUNTINFO = "/proc/self/mountinfo"


@dataclass(frozen=True)
class _Hierarchy:
    version: int
    cpu: Path  # v1: the cpuacct hierarchy's mount; v2: the unified mount
    memory: Path


def _hierarchy() -> _Hierarchy | None:
    """Where this machine counts CPU time and memory: cgroup v1's cpuacct and memory hierarchies when they are
    mounted (also on a hybrid machine, where the unified tree has no memory controller), else cgroup v2."""
    try:
        lines = Path(MOUNTINFO).read_text().splitlines()
    except OSError:
        return None
    v1: dict[str, Path] = {}
    v2: Path | None = None
    for line in lines:
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3 or fields[3] != "/":
            continue  # only a hierarchy's root: a mount of a sub-cgroup names other paths than the engine's
        mount_point = Path(fields[4].replace("\\040", " "))
        if tail[0] == "cgroup":
            for option in tail[2].split(","):
                if option in ("cpuacct", "memory"):
                    v1[option] = mount_point
        elif tail[0] == "cgroup2":
            v2 = mount_point
    if "cpuacct" in v1 and "memory" in v1:
        return _Hierarchy(1, v1["cpuacct"], v1["memory"])
    if v2 is not None:
        return _Hierarchy(2, v2, v2)
    return None


class UsageCgroup:
    """One container's parent cgroup: ``parent`` goes to the engine; :meth:`read` once the container exited."""

    def __init__(self, hierarchy: _Hierarchy, name: str) -> None:
        self._hierarchy = hierarchy
        self.parent = f"/{name}"
        self._directories = sorted({hierarchy.cpu / name, hierarchy.memory / name})

    @classmethod
    def create(cls) -> UsageCgroup | None:
        """A fresh parent cgroup, or ``None`` where this builder cannot make one that counts CPU and memory."""
        hierarchy = _hierarchy()
        if hierarchy is None or os.geteuid() != 0:
            return None
        cgroup = cls(hierarchy, f"estafette-{secrets.token_hex(8)}")
        try:
            for directory in cgroup._directories:
                directory.mkdir()
        except OSError:  # read-only (a container's /sys/fs/cgroup), not delegated to us
            cgroup.remove()
            return None
        if hierarchy.version == 2 and not (hierarchy.memory / cgroup.parent.lstrip("/") / "memory.peak").exists():
            cgroup.remove()  # no memory controller here, or a kernel before 5.19
            return None
        return cgroup

    def read(self) -> StageUsage | None:
        """What the container used; ``None`` if it cannot be read or nothing was counted (not the engine's)."""
        name = self.parent.lstrip("/")
        try:
            if self._hierarchy.version == 1:
                cpu_seconds = int((self._hierarchy.cpu / name / "cpuacct.usage").read_text()) / 1e9
                memory = int((self._hierarchy.memory / name / "memory.max_usage_in_bytes").read_text())
            else:
                stat = dict(
                    line.split(" ", 1) for line in (self._hierarchy.cpu / name / "cpu.stat").read_text().splitlines()
                )
                cpu_seconds = int(stat["usage_usec"]) / 1e6
                memory = int((self._hierarchy.memory / name / "memory.peak").read_text())
        except (OSError, ValueError, KeyError):
            return None
        if cpu_seconds == 0:
            return None
        return StageUsage(cpu_seconds=cpu_seconds, memory_max_bytes=memory)

    def remove(self) -> bool:
        """Remove the parent (possible once the engine removed the container's cgroup); whether it is gone."""
        gone = True
        for directory in self._directories:
            with contextlib.suppress(FileNotFoundError):
                try:
                    directory.rmdir()
                except OSError:
                    gone = False
        return gone
