"""Subjects of the one JetStream stream that carries Estafette's events.

Every event subject starts with ``estafette.events.``; the stream captures ``estafette.events.>``. The subjects
themselves belong to what publishes and consumes them — each trigger kind's (``triggers.kinds``), the run engine's
(``runs.events``: ``<kind>.created``; ``runs.job_control``: ``jobs.stop``), the trigger engine's (``trigger.fired``)
— and are built with ``event_subject``: this layer lists no kind.
"""

from __future__ import annotations

import re

PREFIX = "estafette.events"
STREAM_SUBJECTS = (f"{PREFIX}.>",)

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def event_subject(*tokens: str) -> str:
    """``estafette.events.<token>[.<token>…]``: a subject inside the stream (``*`` allowed, for a consumer filter).
    Raises ``ValueError`` for a token that would leave it."""
    subject = ".".join((PREFIX, *tokens))
    if not tokens or not is_event_filter(subject):
        raise ValueError(f"event subjects are {PREFIX}.<token>…, got {subject!r}")
    return subject


def is_event_subject(subject: str) -> bool:
    """True for a concrete subject inside the stream: ``estafette.events.<token>[.<token>…]``, no wildcards."""
    if not subject.startswith(PREFIX + "."):
        return False
    tokens = subject[len(PREFIX) + 1 :].split(".")
    return all(_TOKEN.match(token) for token in tokens)


def is_event_filter(subject: str) -> bool:
    """True for a consumer filter inside the stream: an event subject whose last token may be ``*`` or ``>``."""
    if not subject.startswith(PREFIX + "."):
        return False
    tokens = subject[len(PREFIX) + 1 :].split(".")
    *head, last = tokens
    return all(_TOKEN.match(part) or part == "*" for part in head) and (bool(_TOKEN.match(last)) or last in {"*", ">"})
