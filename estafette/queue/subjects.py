"""Subjects of the one JetStream stream that carries Estafette's events.

Every event subject starts with ``estafette.events.``; the stream captures ``estafette.events.>``.
The kinds are Estafette's event kinds (ESTAFETTE.md §1.10) plus the API's own lifecycle events.
"""

from __future__ import annotations

import re

PREFIX = "estafette.events"
STREAM_SUBJECTS = (f"{PREFIX}.>",)

GIT = f"{PREFIX}.git"
PIPELINE = f"{PREFIX}.pipeline"
RELEASE = f"{PREFIX}.release"
CRON = f"{PREFIX}.cron"
PUBSUB = f"{PREFIX}.pubsub"
DOCKER = f"{PREFIX}.docker"
GITHUB = f"{PREFIX}.github"
BITBUCKET = f"{PREFIX}.bitbucket"
BUILD = f"{PREFIX}.build"
# One trigger of one pipeline matched one event: the action to take (pipelines.triggers).
TRIGGER_FIRED = f"{PREFIX}.trigger.fired"

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


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
