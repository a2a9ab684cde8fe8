"""What a stage used: CPU time and peak memory, and the run's maxima that the API stores (Estafette's
``cpu_max_usage`` in cores, ``memory_max_usage`` in bytes).

The host executor measures each stage's process tree with ``wait4``'s resource usage, sandboxed or not (the stage
runs as one child of the builder, with its descendants reaped into it; why not a cgroup per stage:
``builder.executors.host.HostProcess.usage``). The docker executor reads the container's cgroup through the Docker
Engine API. CPU time is user + system seconds; peak memory is the largest resident set among the process and the
descendants it waited for (``ru_maxrss``). A stage's CPU in cores is its CPU time over its wall time: with one sample
per stage, the busiest stage's average is the closest the builder gets to the peak rate Estafette read from Prometheus.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any

# ru_maxrss counts KiB on Linux, bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024


@dataclass(frozen=True)
class StageUsage:
    cpu_seconds: float | None  # None where the executor cannot tell (the host executor's sandbox)
    memory_max_bytes: int

    @classmethod
    def from_rusage(cls, usage: Any) -> StageUsage:
        """From a ``resource.struct_rusage`` (``os.wait4``)."""
        return cls(cpu_seconds=usage.ru_utime + usage.ru_stime, memory_max_bytes=int(usage.ru_maxrss) * _MAXRSS_UNIT)


class RunUsage:
    """The maxima over a run's stages (thread-safe: parallel stages finish on their own threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cpu_max_usage: float | None = None  # cores
        self.memory_max_usage: float | None = None  # bytes

    def add(self, usage: StageUsage, *, wall_seconds: float) -> None:
        with self._lock:
            if usage.cpu_seconds is not None:
                cores = usage.cpu_seconds / wall_seconds if wall_seconds > 0 else 0.0
                self.cpu_max_usage = max(self.cpu_max_usage or 0.0, round(cores, 4))
            self.memory_max_usage = max(self.memory_max_usage or 0.0, float(usage.memory_max_bytes))
