"""Estafette's regular-expression matching for trigger filters, release branches and labels.

Patterns are Go RE2 syntax; the common subset is the same in Python's ``re``. The few RE2 spellings
Python lacks (``\\z``, POSIX classes such as ``[[:alpha:]]``) are translated. An invalid pattern
never matches, as in Estafette, where the error is swallowed.
"""

from __future__ import annotations

import re
from functools import lru_cache

_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7F",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1F\\x7F",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_POSIX_CLASS = re.compile(r"\[:(\^?)([a-z]+):\]")


def _translate(pattern: str) -> str:
    pattern = pattern.replace("\\z", "\\Z")

    def posix(match: re.Match[str]) -> str:
        members = _POSIX_CLASSES.get(match.group(2))
        if members is None or match.group(1):
            return match.group(0)
        return members

    return _POSIX_CLASS.sub(posix, pattern)


@lru_cache(maxsize=1024)
def compile_go(pattern: str) -> re.Pattern[str] | None:
    """Compile an RE2 pattern; ``None`` if it is not a valid expression."""
    try:
        return re.compile(_translate(pattern))
    except (re.error, RecursionError, OverflowError):
        return None


def full_match(pattern: str, value: str) -> bool:
    """Whether ``value`` matches all of ``pattern`` (anchored as ``^(pattern)$``)."""
    compiled = compile_go(f"(?:{pattern})")
    return compiled is not None and compiled.fullmatch(value) is not None


def filter_match(pattern: str, value: str) -> bool:
    """Estafette's trigger filter match: an optional ``=~`` (match) or ``!~`` (must not match) prefix,
    then the trimmed pattern anchored at both ends. An invalid pattern matches nothing, negated or not.
    """
    negate = False
    if pattern.startswith("=~"):
        pattern = pattern[2:]
    elif pattern.startswith("!~"):
        negate, pattern = True, pattern[2:]
    compiled = compile_go(f"(?:{pattern.strip()})")
    if compiled is None:
        return False
    matched = compiled.fullmatch(value) is not None
    return not matched if negate else matched
