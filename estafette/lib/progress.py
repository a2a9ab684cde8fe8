"""A small progress bar for long-running management commands."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Redraws one line ``label [#####.....] done/total (rate/s)`` at most a few times per second.

    On a terminal the line is redrawn in place; otherwise (CI logs) a plain line is written every
    ``plain_every`` seconds so the log shows progress without flooding.
    """

    def __init__(
        self, total: int, *, label: str, stream: TextIO | None = None, width: int = 30, plain_every: float = 5.0
    ) -> None:
        self.total = max(total, 0)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.done = 0
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._min_interval = 0.1 if self._interactive else plain_every

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._last_draw >= self._min_interval or self.done >= self.total:
            self._draw(now)

    def _draw(self, now: float) -> None:
        self._last_draw = now
        fraction = 1.0 if self.total == 0 else min(self.done / self.total, 1.0)
        filled = int(fraction * self.width)
        elapsed = max(now - self.started, 1e-9)
        line = (
            f"{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
            f"{self.done}/{self.total} ({self.done / elapsed:.0f}/s)"
        )
        if self._interactive:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line."""
        self._draw(time.monotonic())
        if self._interactive:
            self.stream.write("\n")
            self.stream.flush()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started
