"""The one way a request body becomes JSON: UTF-8 only, strict, and nested at most ``MAX_DEPTH`` deep.

Every JSON body goes through :func:`load_json`: DRF's parser (``estafette.lib.parsers``), the builder endpoints and the
webhooks. The standard library's parser recurses once per nesting level in C, so a body of a few kilobytes nested a
thousand deep ends in ``RecursionError`` (a 500) in the parser or in any recursive code after it (serializers,
masking, ``json.dumps``). The depth is therefore measured *before* parsing, without recursion, in a few linear passes
of C code (a regex cuts out the strings, ``bytes.translate`` keeps the brackets, a running sum counts the levels): about
as fast as ``json.loads`` on ordinary bodies, and under a second for the worst 8 MiB. No library the project uses has a
depth limit to set (``json`` has none; DRF and Django parse with ``json``), so this scan is written here.

Pure Python: no Django, so the builder-facing and webhook code paths and their tests can use it anywhere.
"""

from __future__ import annotations

import json
import re
from array import array
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64
# A JSON string: quotes around anything but quote and backslash, or an escape (unrolled and possessive: the regex
# engine never backtracks into a string). An unterminated string runs to the end of the text: were it left unmatched,
# the search would try again from every later quote, each scan to the end — quadratic for '"' followed by '\\"' * n.
# (Such a body is invalid anyway; ``json.loads`` says where.) Raw control characters are ``json.loads``'s to refuse.
_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # as signed bytes: +1 in, -1 out
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")


class InvalidJson(ValueError):
    """The body is not UTF-8 JSON this server accepts; the message says why (never quoting the body at length)."""


def load_json(body: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``body``; raises :class:`InvalidJson` for bad UTF-8, bad JSON, ``NaN``/``Infinity`` or nesting deeper
    than ``max_depth`` arrays/objects (a top-level ``{}`` is depth 1)."""
    if isinstance(body, bytes | bytearray | memoryview):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidJson(f"the body is not UTF-8: invalid byte at offset {error.start}") from None
    else:
        text = body
    check_depth(text, max_depth=max_depth)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise InvalidJson(f"the body is not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:  # cannot happen after check_depth; kept so no body can ever turn into a 500
        raise InvalidJson(f"the body is nested deeper than {max_depth} levels") from None
    except ValueError as error:  # e.g. an integer with more digits than Python converts (4300)
        raise InvalidJson(f"the body is not JSON this server accepts: {error}") from None


def check_depth(text: str, *, max_depth: int = MAX_DEPTH) -> int:
    """The deepest nesting of arrays and objects in the JSON text ``text``; :class:`InvalidJson` past ``max_depth``.

    This is the depth a recursive parser reaches, also for invalid JSON: brackets that do not pair up are counted as
    they come (``[`` and ``{`` one level in, ``]`` and ``}`` one out), and ``json.loads`` reports the mismatch.
    """
    # Outside strings JSON is ASCII punctuation, numbers and literals: as bytes, one ``translate`` keeps the brackets
    # as +1/-1 steps, and the running sum (C iterators over small cached ints) is the depth. Linear in the body.
    steps = array("b", _STRING.sub("", text).encode("utf-8", "replace").translate(_STEPS, _NOT_BRACKETS))
    depth = max(accumulate(steps), default=0)
    if depth > max_depth:
        raise InvalidJson(f"the body is nested deeper than {max_depth} levels of arrays and objects")
    return max(depth, 0)


def _refuse_constant(name: str) -> Any:
    raise InvalidJson(f"the body is not JSON: {name} is not a JSON number")
