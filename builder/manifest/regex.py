"""Estafette's regular expressions — trigger filters, release branches, label regexes, allow-lists — on RE2.

Manifest authors and operators write these patterns and the server evaluates them for everyone, so they run on
Google's RE2 (the ``google-re2`` bindings), as Estafette runs them on Go's ``regexp``: the same syntax (POSIX
classes such as ``[[:alpha:]]``, ``\\z``, no backreferences or lookaround) and time linear in the input, where a
backtracking engine takes exponential time on ``(a+)+$``. There is deliberately no fallback to Python's ``re``:
without RE2 this module does not import, so nothing evaluates a pattern on a backtracking engine by accident.

Anchoring follows Estafette's sources (estafette-ci-manifest): a trigger filter (``regexMatch``, pubsub) is
``^(pattern)$``; a release branch or label regex (``StringOrStringArray.Contains``, ``Validate``) is
``^pattern$`` without the group, so ``master|main`` there means "starts with master or ends with main". Go's
``$`` (without ``(?m)``) is the end of the text, as RE2's; Python's would also match before a final newline.
At evaluation time an invalid pattern never matches (Estafette swallows the error); the manifest loader reports
it instead, through :func:`filter_error` and :func:`anchored_error`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

try:
    import re2
except ImportError as error:  # pragma: no cover - exercised by test_regex_engine in a fresh interpreter
    raise ImportError(
        "Estafette evaluates user-supplied regular expressions only with RE2: install the google-re2 package "
        "(pinned in requirements.txt and builder/pyproject.toml), e.g. pip install -e ./builder"
    ) from error

# RE2's own budget for one compiled pattern (its default, named here): a pattern needing more, such as nested
# counted repetitions, fails to compile and so is invalid — bounded memory as well as linear time.
MAX_PATTERN_MEMORY = 8 << 20


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every invalid user pattern on stderr; we report it instead
    options.max_mem = MAX_PATTERN_MEMORY
    return options


_OPTIONS = _options()


@lru_cache(maxsize=1024)
def _compile(pattern: str) -> tuple[Any, str | None]:
    try:
        return re2.compile(pattern, options=_OPTIONS), None
    except re2.error as error:
        return None, _reason(error)
    except UnicodeEncodeError:  # a lone surrogate (a YAML or JSON "\ud800" escape): not text RE2 can read
        return None, "the pattern is not valid Unicode text (a lone surrogate)"


def _reason(error: Exception) -> str:
    """RE2's own words (``missing ): …``, ``invalid perl operator: (?=``), which the bindings give as bytes."""
    reason = error.args[0] if error.args else ""
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", errors="replace")
    return str(reason) or "invalid regular expression"


def compile_go(pattern: str) -> Any | None:
    """Compile a Go/RE2 pattern as written (unanchored, as ``regexp.MatchString`` searches); ``None`` if invalid."""
    return _compile(pattern)[0]


def search(compiled: Any, value: str) -> bool:
    """Whether ``compiled`` (from :func:`compile_go`) is found in ``value``.

    RE2 reads UTF-8, which a string with a lone surrogate (a JSON ``"\\ud800"`` escape in an event) cannot be
    encoded to; such a value is matched with each of those code points' bytes read as U+FFFD, as Go reads invalid
    UTF-8, instead of failing the consumer that evaluates it.
    """
    try:
        return compiled.search(value) is not None
    except UnicodeEncodeError:
        return compiled.search(value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")) is not None


def pattern_error(pattern: str) -> str | None:
    """Why ``pattern`` (as written) is not a valid RE2 expression, or ``None`` if it is."""
    return _compile(pattern)[1]


def _anchored(pattern: str) -> str:
    return f"^{pattern.strip()}$"


def _filter(pattern: str) -> tuple[bool, str]:
    """Split Estafette's PromQL-style prefix off a filter: (negated, the anchored pattern)."""
    negate = False
    if pattern.startswith("=~"):
        pattern = pattern[2:]
    elif pattern.startswith("!~"):
        negate, pattern = True, pattern[2:]
    return negate, f"^({pattern.strip()})$"


def full_match(pattern: str, value: str) -> bool:
    """Estafette's release-branch and label match: ``^pattern$`` (trimmed, not grouped) found in ``value``."""
    compiled = compile_go(_anchored(pattern))
    return compiled is not None and search(compiled, value)


def anchored_error(pattern: str) -> str | None:
    """Why :func:`full_match` could never match with ``pattern`` (it does not compile), or ``None``."""
    return pattern_error(_anchored(pattern))


def filter_match(pattern: str, value: str) -> bool:
    """Estafette's trigger filter match: an optional ``=~`` (match) or ``!~`` (must not match) prefix,
    then the trimmed pattern anchored as ``^(pattern)$``. An invalid pattern matches nothing, negated or not.
    """
    negate, anchored = _filter(pattern)
    compiled = compile_go(anchored)
    if compiled is None:
        return False
    matched = search(compiled, value)
    return not matched if negate else matched


def filter_error(pattern: str) -> str | None:
    """Why the trigger filter ``pattern`` can never match (it does not compile), or ``None``."""
    return pattern_error(_filter(pattern)[1])


def allows(pattern: str, value: str) -> bool:
    """A credential's or trusted image's allow-list (estafette-ci-contracts ``IsAllowed…``): empty allows
    everything, otherwise ``value`` must match ``^(pattern)$`` (trimmed); an invalid pattern allows nothing.
    """
    text = pattern.strip()
    if not text:
        return True
    compiled = compile_go(f"^({text})$")
    return compiled is not None and search(compiled, value)


def allow_list_error(pattern: str) -> str | None:
    """Why the allow-list ``pattern`` allows nothing (it does not compile), or ``None``."""
    text = pattern.strip()
    return pattern_error(f"^({text})$") if text else None
