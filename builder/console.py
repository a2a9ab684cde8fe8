"""Readable, coloured output of a run on a terminal (local mode) or in the job's own log (statuses only).

Colours follow the usual conventions: on when the stream is a terminal, off with ``NO_COLOR``, forced with
``FORCE_COLOR``.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from builder.contracts import StreamType, TailLogLine
from builder.steps import StepRef

RESET, BOLD, DIM, RED, GREEN, YELLOW, CYAN = (
    "\x1b[0m",
    "\x1b[1m",
    "\x1b[2m",
    "\x1b[31m",
    "\x1b[32m",
    "\x1b[33m",
    "\x1b[36m",
)
_STATUS_STYLE = {
    "PENDING": ("…", DIM, "pending"),
    "RUNNING": ("▶", CYAN, "running"),
    "SUCCEEDED": ("✓", GREEN, "succeeded"),
    "FAILED": ("✗", RED, "failed"),
    "SKIPPED": ("-", DIM, "skipped"),
    "CANCELED": ("■", YELLOW, "canceled"),
}


def use_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def format_duration(nanoseconds: int) -> str:
    seconds = nanoseconds / 1e9
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


class ConsoleSink:
    """Prints step statuses and (unless ``log_lines=False``) every log line, prefixed with its step."""

    def __init__(self, stream: TextIO | None = None, *, show_lines: bool = True, colour: bool | None = None) -> None:
        self._stream = stream or sys.stdout
        self._show_lines = show_lines
        self._colour = use_colour(self._stream) if colour is None else colour
        self._lock = threading.Lock()
        self.results: dict[str, tuple[str, int | None, int | None]] = {}  # step path → (status, exit code, duration)

    def _paint(self, text: str, *styles: str) -> str:
        return "".join(styles) + text + RESET if self._colour and styles else text

    @staticmethod
    def _label(ref: StepRef | TailLogLine) -> str:
        if ref.type == "service":
            return f"{ref.parent_stage}/{ref.step}"
        return f"{ref.parent_stage}/{ref.step}" if ref.depth > 0 and ref.parent_stage else ref.step

    def update(self, tail: TailLogLine) -> None:
        if tail.status is None or tail.status not in _STATUS_STYLE:
            return
        label = self._label(tail)
        symbol, style, word = _STATUS_STYLE[tail.status]
        details = []
        if tail.exit_code is not None and tail.status == "FAILED":
            details.append(f"exit code {tail.exit_code}")
        if tail.duration is not None and tail.status in ("SUCCEEDED", "FAILED", "CANCELED"):
            details.append(format_duration(tail.duration))
        if tail.status == "RUNNING" and tail.image is not None and tail.image.name:
            details.append(f"{tail.image.name}:{tail.image.tag}")
        suffix = f" ({', '.join(details)})" if details else ""
        with self._lock:
            if tail.status != "PENDING":
                self.results[label] = (tail.status, tail.exit_code, tail.duration)
            if tail.status == "PENDING":
                return
            self._stream.write(self._paint(f"{symbol} {label} {word}{suffix}", style, BOLD) + "\n")
            self._stream.flush()

    def log_lines(
        self, ref: StepRef, stream: StreamType, first_line: int, timestamp: str, texts: Sequence[str]
    ) -> None:
        if not self._show_lines:
            return
        prefix = self._paint(f"{self._label(ref)} │ ", DIM)
        body = "\n".join(prefix + (self._paint(text, RED) if stream == "stderr" else text) for text in texts)
        with self._lock:
            self._stream.write(body + "\n")
            self._stream.flush()

    def summary(self, final_status: str) -> str:
        """A table of every step's final status and duration, then the run's status."""
        rows = [(label, status, duration) for label, (status, _, duration) in self.results.items()]
        width = max((len(label) for label, _, _ in rows), default=5)
        lines = ["", self._paint(f"{'STAGE'.ljust(width)}  {'STATUS':<10} DURATION", BOLD)]
        for label, status, duration in rows:
            style = _STATUS_STYLE.get(status, ("", "", ""))[1]
            shown = format_duration(duration) if duration is not None else ""
            lines.append(f"{label.ljust(width)}  {self._paint(f'{status:<10}', style)} {shown}")
        style = {"succeeded": GREEN, "failed": RED, "canceled": YELLOW}.get(final_status, "")
        lines.append("")
        lines.append(self._paint(f"Build {final_status}", style, BOLD))
        return "\n".join(lines) + "\n"
