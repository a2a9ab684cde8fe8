"""Turns a container's raw output bytes into masked text lines.

Per stream: incremental UTF-8 decoding (invalid bytes replaced), streaming secret masking (a secret split between two
reads is still masked), then splitting into lines. A line longer than ``max_line`` characters (64 KiB,
``builder.contracts.MAX_LOG_LINE_CHARS``) is emitted as soon as it is that long, cut there and marked
(``LOG_LINE_TRUNCATED``); the rest of it, up to its newline, is dropped. So a stage printing 50 MB without a newline
costs one line of the log and a bounded buffer, not 50 MB of log in the builder, the API and every reader's browser.
"""

from __future__ import annotations

import codecs
import threading
from collections.abc import Callable

from builder.contracts import LOG_LINE_TRUNCATED, MAX_LOG_LINE_CHARS, StreamType
from builder.secrets import Masker

MAX_LINE = MAX_LOG_LINE_CHARS

# (stream, complete lines without their newline)
LinesHandler = Callable[[StreamType, list[str]], None]


class _Stream:
    def __init__(self, masker: Masker) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.masker = masker.stream()
        self.partial = ""
        self.cut = False  # the current line was emitted truncated: drop what follows until its newline
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
        if not text and not (final and (state.partial or state.cut)):
            return
        *complete, rest = text.split("\n")
        lines: list[str] = []
        for piece in complete:
            if state.cut:  # the end of a line already emitted truncated
                state.cut = False
                continue
            lines.append(self._fit((state.partial + piece).removesuffix("\r")))
            state.partial = ""
        if not state.cut:
            state.partial += rest
            if len(state.partial) > self._max_line:
                # Emitted now, not at its newline: the log shows the stage is printing, and memory stays bounded.
                lines.append(self._fit(state.partial))
                state.partial, state.cut = "", True
        if final:
            if state.partial:
                lines.append(state.partial.removesuffix("\r"))
            state.partial, state.cut = "", False
        if lines:
            self._on_lines(stream, lines)

    def _fit(self, line: str) -> str:
        return line if len(line) <= self._max_line else line[: self._max_line] + LOG_LINE_TRUNCATED
