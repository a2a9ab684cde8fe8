"""Right-sizing hints: a pipeline's measured CPU and peak memory against what its jobs request.

The builder measures each run (``Run.cpu_max_usage``: the busiest stage's CPU in cores; ``memory_max_usage``: the
largest peak memory of a stage in bytes). It reports no per-stage figures to the log store, so the hints are per run
kind of a pipeline, from its last ``HINT_RUNS`` succeeded runs that were measured. The request compared against is the
operator's (``ESTAFETTE_JOB_CPU_REQUEST``, ``ESTAFETTE_JOB_MEMORY_REQUEST``: what jobs run with, e.g. the namespace's
LimitRange default); without one the hint only suggests a value.

A suggestion is the 95th percentile of the measured peaks plus ``HEADROOM``, rounded up (CPU to a tenth of a core,
memory to 64 MiB). A request is far above use when it is at least ``FAR_ABOVE`` times the suggestion, and below use
when the 95th percentile exceeds it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from runs.models import RunStatus
from runs.registry import RunKind, run_kinds
from runs.stats import MEASUREMENTS, has_measurement

HINT_RUNS = 50
HEADROOM = 1.2
FAR_ABOVE = 2.0
MIB = 1024 * 1024
_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_UNITS = {None: 1, "Ki": 1024, "Mi": MIB, "Gi": 1024**3, "Ti": 1024**4, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def parse_cpu(quantity: str) -> float | None:
    """A Kubernetes CPU quantity in cores (``500m`` → 0.5); None when empty or unreadable."""
    match = _CPU.match(quantity.strip())
    if match is None:
        return None
    return float(match.group(1)) / (1000 if match.group(2) else 1)


def parse_memory(quantity: str) -> float | None:
    """A Kubernetes memory quantity in bytes (``512Mi``, ``1G``); None when empty or unreadable."""
    match = _MEMORY.match(quantity.strip())
    if match is None:
        return None
    return float(match.group(1)) * _MEMORY_UNITS[match.group(2)]


@dataclass(frozen=True)
class Hint:
    kind: str
    resource: str  # cpu (cores) or memory (bytes)
    runs: int
    p95: float
    peak: float
    request: float | None
    suggested: float
    verdict: str  # lower, raise, ok, unset
    message: str


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def _suggest(resource: str, p95: float) -> float:
    wanted = p95 * HEADROOM
    if resource == "cpu":
        return max(0.1, math.ceil(wanted * 10) / 10)
    return max(64 * MIB, math.ceil(wanted / (64 * MIB)) * 64 * MIB)


def _show(resource: str, value: float) -> str:
    return f"{value:g} cores" if resource == "cpu" else f"{value / MIB:.0f} MiB"


def _hint(kind: RunKind, resource: str, values: list[float], request: float | None) -> Hint:
    p95, peak = _percentile(values, 0.95), max(values)
    suggested = _suggest(resource, p95)
    label = kind.label
    if request is None:
        verdict = "unset"
        message = f"no {resource} request is configured; {label}s use up to {_show(resource, p95)} (95th percentile)"
    elif request >= FAR_ABOVE * suggested:
        verdict = "lower"
        message = (
            f"the {resource} request ({_show(resource, request)}) is far above what {label}s use "
            f"({_show(resource, p95)} at the 95th percentile): request {_show(resource, suggested)}"
        )
    elif p95 > request:
        verdict = "raise"
        message = (
            f"{label}s use more {resource} ({_show(resource, p95)} at the 95th percentile) than they request "
            f"({_show(resource, request)}): request {_show(resource, suggested)}"
        )
    else:
        verdict = "ok"
        message = f"the {resource} request fits what {label}s use"
    return Hint(kind.name, resource, len(values), p95, peak, request, suggested, verdict, message)


def pipeline_hints(*, pipeline_id: int) -> list[Hint]:
    """The hints of each run kind of the pipeline that has measured succeeded runs, CPU then memory."""
    requests = {
        "cpu": parse_cpu(settings.JOB_CPU_REQUEST),
        "memory": parse_memory(settings.JOB_MEMORY_REQUEST),
    }
    hints: list[Hint] = []
    for kind in run_kinds():
        for resource, (_, column) in MEASUREMENTS.items():
            if not has_measurement(kind, resource):
                continue
            runs: Any = kind.model.objects.filter(
                pipeline_id=pipeline_id, status=RunStatus.SUCCEEDED, **{f"{column}__isnull": False}
            )
            values = [float(v) for v in runs.order_by("-inserted_at", "-id").values_list(column, flat=True)[:HINT_RUNS]]
            if values:
                hints.append(_hint(kind, resource, values, requests[resource]))
    return hints
