"""Turns a container's raw output bytes into masked text lines.

Per stream: incremental UTF-8 decoding (invalid bytes replaced), streaming secret masking (a secret split between two
reads is still masked), then splitting into lines. A line longer than ``max_line`` characters is emitted in pieces so
a program printing without newlines still shows progress and memory stays bounded.
"""

from __future__ import annotations

import codecs
import threading
from collections.abc import Callable

from builder.contracts import StreamType
from builder.secrets import Masker

MAX_LINE = 64 * 1024

# (stream, complete lines without their newline)
LinesHandler = Callable[[StreamType, list[str]], None]


class _Stream:
    def __init__(self, masker: Masker) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.masker = masker.stream()
        self.partial = ""
        self.lock = threading.Lock()


class LineAssembler:
    """Feed raw bytes per stream with :meth:`feed`; complete masked lines go to ``on_lines``. Thread-safe per stream."""

    def __init__(self, masker: Masker, on_lines: LinesHandler, *, max_line: int = MAX_LINE) -> None:
        self._streams: dict[str, _Stream] = {"stdout": _Stream(masker), "stderr": _Stream(masker)}
        self._on_lines = on_lines
        self._max_line = max_line

    def feed(self, stream: StreamType, data: bytes) -> None:
        state = self._streams[stream]
        with state.lock:
            text = state.masker.feed(state.decoder.decode(data))
            self._split(stream, state, text, final=False)

    def close(self) -> None:
        """Emit what is left of every stream (a last line without a newline)."""
        for stream, state in self._streams.items():
            with state.lock:
                text = state.masker.feed(state.decoder.decode(b"", final=True)) + state.masker.flush()
                self._split(stream, state, text, final=True)  # type: ignore[arg-type]

    def _split(self, stream: StreamType, state: _Stream, text: str, *, final: bool) -> None:
        if not text and not (final and state.partial):
            return
        text = state.partial + text
        lines = text.split("\n")
        state.partial = lines.pop()
        if final and state.partial:
            lines.append(state.partial)
            state.partial = ""
        while len(state.partial) > self._max_line:
            lines.append(state.partial[: self._max_line])
            state.partial = state.partial[self._max_line :]
        if lines:
            self._on_lines(stream, [line.removesuffix("\r") for line in lines])
