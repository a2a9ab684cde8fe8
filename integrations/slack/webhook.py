"""Slack's slash command requests: check the signature, then read the command.

Slack signs each request with the app's signing secret: ``X-Slack-Signature: v0=<hex>``, the HMAC-SHA256 of
``v0:<X-Slack-Request-Timestamp>:<raw body>``. A request whose timestamp is more than ``REPLAY_WINDOW_SECONDS`` away
from now is refused whatever its signature, so a recorded request cannot be played again later; within the window a
replayed ``release`` is the same request (its id is Slack's ``trigger_id``, ``release_request_id``).

The body is ``application/x-www-form-urlencoded`` (``command``, ``text``, ``user_id``, ``team_id``, ``trigger_id``…).
``/estafette`` understands (ESTAFETTE.md §3.8):

- ``encrypt <value>``: a secret envelope of the value for every pipeline; ``encrypt --pipeline <source/owner/name>
  <value>`` for that one pipeline;
- ``release <source/owner/name> <target> <version>``: release the version to the target.

Nothing here logs the body or puts a command's text in an error: ``encrypt``'s text is a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_VERSION = "v0"
REPLAY_WINDOW_SECONDS = 5 * 60
MAX_VALUE_LENGTH = 4000  # Slack's own limit of a slash command's text
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_FULL_NAME = re.compile(r"^[A-Za-z0-9.:-]{1,256}/[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,256}$")
_RESPONSE_URL = re.compile(r"^https?://[\x21-\x7e]{1,2000}$")

USAGE = (
    "Usage: `/estafette encrypt <value>` (a secret for every pipeline), "
    "`/estafette encrypt --pipeline <source/owner/name> <value>` (for one pipeline), "
    "`/estafette release <source/owner/name> <target> <version>`"
)


class InvalidCommand(ValueError):
    """The request is not a slash command this server reads; the message says why (never quoting its text)."""


def sign(body: bytes, *, timestamp: str, secret: str) -> str:
    base = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + body
    return f"{SIGNATURE_VERSION}=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signature_is_valid(
    body: bytes, *, timestamp: str | None, signature: str | None, secret: str, now: float | None = None
) -> bool:
    """Whether the request is Slack's, signed with ``secret`` within the replay window (constant-time comparison);
    a missing header or an empty secret never passes."""
    if not secret or not signature or not timestamp or not _TIMESTAMP.fullmatch(timestamp):
        return False
    moment = time.time() if now is None else now
    if abs(moment - int(timestamp)) > REPLAY_WINDOW_SECONDS:
        return False
    return hmac.compare_digest(sign(body, timestamp=timestamp, secret=secret).encode(), signature.strip().encode())


@dataclass(frozen=True)
class SlashCommand:
    command: str  # /estafette
    text: str
    user_id: str
    team_id: str
    trigger_id: str
    response_url: str = ""  # where later replies go (Slack's hooks)

    def __repr__(self) -> str:  # the text may be a secret: keep it out of tracebacks
        return f"SlashCommand(command={self.command!r}, user_id={self.user_id!r}, team_id={self.team_id!r})"


def read_command(body: bytes) -> SlashCommand:
    """The slash command of a (verified) body; ``InvalidCommand`` when a field it needs is missing or malformed."""
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        raise InvalidCommand("the body must be a form (application/x-www-form-urlencoded) in UTF-8") from None

    def one(name: str, *, pattern: re.Pattern[str] | None = _ID, required: bool = True) -> str:
        values = fields.get(name) or [""]
        if len(values) != 1:
            raise InvalidCommand(f"{name} must be given once")
        value = values[0]
        if required and not value:
            raise InvalidCommand(f"{name} is required")
        if value and pattern is not None and not pattern.fullmatch(value):
            raise InvalidCommand(f"{name} is malformed")
        return value

    command = SlashCommand(
        command=one("command", pattern=re.compile(r"^/[a-z0-9_-]{1,32}$")),
        text=one("text", pattern=None, required=False),
        user_id=one("user_id"),
        team_id=one("team_id", required=False),
        trigger_id=one("trigger_id", required=False),
        response_url=one("response_url", pattern=_RESPONSE_URL, required=False),
    )
    if len(command.text) > MAX_VALUE_LENGTH:
        raise InvalidCommand(f"the command's text is longer than {MAX_VALUE_LENGTH} characters")
    return command


@dataclass(frozen=True)
class Encrypt:
    value: str
    pipeline: str = ""  # source/owner/name; "": every pipeline

    def __repr__(self) -> str:
        return f"Encrypt(pipeline={self.pipeline!r})"


@dataclass(frozen=True)
class Release:
    pipeline: str
    target: str
    version: str


class Usage(ValueError):
    """What the text asks is not a command; the message says how to write one (never quoting the text)."""


def parse_text(text: str) -> Encrypt | Release:
    """What ``/estafette <text>`` asks for; ``Usage`` when it is none of the commands."""
    verb, _, rest = text.strip().partition(" ")
    rest = rest.strip()
    if verb == "encrypt":
        pipeline = ""
        if rest.startswith("--pipeline"):
            option, _, rest = rest.partition(" ")
            pipeline = option.removeprefix("--pipeline").removeprefix("=")
            if not pipeline:
                pipeline, _, rest = rest.strip().partition(" ")
            if not _FULL_NAME.fullmatch(pipeline):
                raise Usage(f"--pipeline takes a pipeline's source/owner/name. {USAGE}")
            rest = rest.strip()
        if not rest:
            raise Usage(f"encrypt needs a value. {USAGE}")
        return Encrypt(value=rest, pipeline=pipeline)
    if verb == "release":
        words = rest.split()
        if len(words) != 3:
            raise Usage(f"release needs a pipeline, a target and a version. {USAGE}")
        pipeline, target, version = words
        if not _FULL_NAME.fullmatch(pipeline) or ".." in pipeline.split("/"):
            raise Usage(f"the pipeline is its source/owner/name, e.g. github.com/acme/api. {USAGE}")
        if not _NAME.fullmatch(target) or not _NAME.fullmatch(version):
            raise Usage(f"the target and version are names without spaces or slashes. {USAGE}")
        return Release(pipeline=pipeline, target=target, version=version)
    raise Usage(USAGE)
