"""What the library refuses to read, and the one place a manifest's bytes become text.

A manifest comes from a repository the server does not control, so reading it is bounded before any YAML is
parsed: its size (``MAX_MANIFEST_BYTES``), then, on the composed node graph, how far aliases expand it
(``MAX_EXPANDED_NODES``, ``MAX_EXPANDED_TEXT``; see ``loader.check_expansion``), then the stages one run would
execute (``MAX_STAGES_PER_RUN``). Bytes are decoded strictly: an undecodable byte is an error with its position,
never a replacement character, so a build never runs commands that differ from the repository's bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from builder.manifest.errors import MAX_EXPANDED_NODES, START, ErrorCollector, Position

if TYPE_CHECKING:
    from builder.manifest.stages import Stage

__all__ = [
    "MAX_EXPANDED_NODES",
    "MAX_EXPANDED_TEXT",
    "MAX_MANIFEST_BYTES",
    "MAX_STAGES_PER_RUN",
    "decode_manifest",
    "manifest_text",
    "stage_count",
    "storable_text",
]

# Real manifests are a few kilobytes (Estafette's larger ones: 20-60 KB); a mebibyte is room for any of them
# many times over while keeping what a push makes the consumer read, parse and store small.
MAX_MANIFEST_BYTES = 1024 * 1024
# Characters of scalar text once every alias is expanded: what ends up in the build's defaulted manifest and the
# job's configuration. Four times the largest manifest leaves anchors their legitimate use (a shared env block
# in every stage) and stops a small text from expanding to gigabytes.
MAX_EXPANDED_TEXT = 4 * MAX_MANIFEST_BYTES
# Stages + parallel stages + services of one run (the build, one release, one bot): what one job executes, each a
# process or container and a log step. Real manifests have up to a few dozen; 500 is ten times the largest we
# know of, and at even one second of start-up per stage it is already a job of eight minutes.
MAX_STAGES_PER_RUN = 500


def manifest_text(source: str | bytes, errors: ErrorCollector) -> str | None:
    """The text of a manifest given as bytes (decoded as strict UTF-8) or as text; ``None`` after recording in
    ``errors`` why it is not read: larger than ``MAX_MANIFEST_BYTES``, or not UTF-8 (at the first bad byte)."""
    if _size(source) > MAX_MANIFEST_BYTES:
        errors.add(
            START,
            f"the manifest is larger than {MAX_MANIFEST_BYTES} bytes (1 MiB), the most a manifest may have",
        )
        return None
    if isinstance(source, str):
        return source
    try:
        return source.decode("utf-8")
    except UnicodeDecodeError as error:
        errors.add(_position_of_byte(source, error.start), _decode_message(source, error))
        return None


def decode_manifest(source: str | bytes, *, path: str = ".estafette.yaml") -> str:
    """``manifest_text`` for callers without a collector: the text, or ``ManifestErrors`` saying why not."""
    errors = ErrorCollector(path)
    text = manifest_text(source, errors)
    errors.raise_if_any()
    assert text is not None
    return text


def storable_text(source: str | bytes) -> str:
    """The manifest's text for a build to record: exactly the file's text, or ``""`` when it cannot be recorded
    as it is (over the size limit, not UTF-8, or holding NUL, which database text columns refuse). Never an
    approximation: a rebuild runs the recorded text, so it must be the repository's or nothing."""
    if _size(source) > MAX_MANIFEST_BYTES:
        return ""
    try:
        text = source if isinstance(source, str) else source.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    return "" if "\x00" in text else text


def stage_count(stages: Iterable[Stage]) -> int:
    """Stages, their parallel stages (at any depth) and the services of each."""
    total = 0
    pending = list(stages)
    while pending:
        stage = pending.pop()
        total += 1 + len(stage.services)
        pending.extend(stage.parallel_stages)
    return total


def _size(source: str | bytes) -> int:
    if isinstance(source, bytes):
        return len(source)
    if len(source) * 4 <= MAX_MANIFEST_BYTES:  # no UTF-8 character takes more than 4 bytes
        return len(source)
    return len(source.encode("utf-8", errors="surrogatepass"))


def _position_of_byte(data: bytes, offset: int) -> Position:
    """Line and column (in characters) of the byte at ``offset``; everything before the first bad byte decodes."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    return Position(data.count(b"\n", 0, offset) + 1, column)


def _decode_message(data: bytes, error: UnicodeDecodeError) -> str:
    return (
        f"the manifest is not valid UTF-8: byte 0x{data[error.start]:02x} at byte offset {error.start} "
        f"({error.reason}); save the file as UTF-8"
    )
