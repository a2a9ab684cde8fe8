"""Where the runner's step updates go: a :class:`Sink` receives status changes and (the hot path) log lines.

Sinks: the reporter (batches to the API, :mod:`builder.reporting`), the console (:mod:`builder.console`), a recorder
in tests (:mod:`builder.testing`), or several at once (:class:`TeeSink`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from builder.contracts import ImageInfo, LogLine, StepStatus, StepType, StreamType, TailLogLine


def utc_timestamp(seconds: float | None = None) -> str:
    """RFC 3339 UTC with microseconds, ``2024-05-01T12:00:00.123456Z``."""
    moment = datetime.fromtimestamp(time.time() if seconds is None else seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class StepRef:
    """Identifies a step in the tree: a stage (depth 0), a parallel stage (depth 1) or a service of either."""

    step: str
    parent_stage: str = ""
    type: StepType = "stage"
    depth: int = 0
    run_index: int = 0

    def tail(
        self,
        *,
        status: StepStatus | None = None,
        image: ImageInfo | None = None,
        duration: int | None = None,
        exit_code: int | None = None,
        auto_injected: bool | None = None,
        log_line: LogLine | None = None,
        cpu_seconds: float | None = None,
        memory_max_bytes: int | None = None,
    ) -> TailLogLine:
        return TailLogLine(
            step=self.step,
            parent_stage=self.parent_stage,
            type=self.type,
            depth=self.depth,
            run_index=self.run_index,
            status=status,
            image=image,
            duration=duration,
            exit_code=exit_code,
            auto_injected=auto_injected,
            log_line=log_line,
            cpu_seconds=cpu_seconds,
            memory_max_bytes=memory_max_bytes,
        )

    def json_prefix(self) -> dict[str, Any]:
        """The TailLogLine JSON fields naming this step (the reporter adds ``logLine`` per line)."""
        return {
            "step": self.step,
            "parentStage": self.parent_stage,
            "type": self.type,
            "depth": self.depth,
            "runIndex": self.run_index,
        }


class Sink(Protocol):
    def update(self, tail: TailLogLine) -> None:
        """A change of a step's status, image, exit code or duration (no log line)."""
        ...

    def log_lines(
        self, ref: StepRef, stream: StreamType, first_line: int, timestamp: str, texts: Sequence[str]
    ) -> None:
        """Masked output lines of a step, numbered ``first_line``, ``first_line + 1``, …; called from many threads."""
        ...


class TeeSink:
    """Sends everything to each of ``sinks`` in order."""

    def __init__(self, *sinks: Sink) -> None:
        self.sinks = sinks

    def update(self, tail: TailLogLine) -> None:
        for sink in self.sinks:
            sink.update(tail)

    def log_lines(
        self, ref: StepRef, stream: StreamType, first_line: int, timestamp: str, texts: Sequence[str]
    ) -> None:
        for sink in self.sinks:
            sink.log_lines(ref, stream, first_line, timestamp, texts)
