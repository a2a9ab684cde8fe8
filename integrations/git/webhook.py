"""Git push intake: verify the signature, check the payload, name the pipeline.

Body ``{"event": "push", "repository": "<clone url or path>", "branch": "…", "revision": "…"}`` signed
with HMAC-SHA256 over the raw body in ``X-Estafette-Signature: sha256=<hex>``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from estafette.lib.json_input import InvalidJson, load_json
from integrations.git.identity import InvalidRepository, RepositoryIdentity, identify_repository

SIGNATURE_HEADER = "X-Estafette-Signature"
_REVISION = re.compile(r"^[0-9a-f]{7,64}$")
# git check-ref-format's rules for a branch name, and no leading "-" (git would read the name as an option)
_BRANCH_FORBIDDEN = re.compile(
    r"(^[-/.])|(\.\.)|([\x00-\x20\x7f~^:?*\[\\])|(/$)|(//)|(/\.)|(\.$)|(\.lock$)|(\.lock/)|(@\{)|(^@$)"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_BRANCH_LENGTH = 256  # what a build records (builds.services.build_create)


class InvalidPush(ValueError):
    """The request is not a push this server accepts; the message says why."""


@dataclass(frozen=True)
class PushEvent:
    repository: str
    identity: RepositoryIdentity
    branch: str
    revision: str | None  # None: the head of the branch, resolved when the manifest is read

    def to_dict(self) -> dict[str, str | None]:
        return {"event": "push", "repository": self.repository, "branch": self.branch, "revision": self.revision}


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_is_valid(body: bytes, header: str | None, secret: str) -> bool:
    """Constant-time check of ``sha256=<hex>``; a missing header or an empty secret never passes."""
    if not secret or not header:
        return False
    return hmac.compare_digest(sign(body, secret), header.strip())


def _refuse_control_characters(field: str, value: str) -> None:
    if _CONTROL.search(value):
        raise InvalidPush(f"{field} {value!r} holds control characters")


def validate_branch(branch: str) -> str:
    _refuse_control_characters("branch", branch)
    branch = branch.strip()
    if branch.startswith("refs/heads/"):
        branch = branch[len("refs/heads/") :]
    if not branch or len(branch) > MAX_BRANCH_LENGTH or _BRANCH_FORBIDDEN.search(branch):
        raise InvalidPush(f"branch {branch!r} is not a valid git branch name")
    return branch


def validate_revision(revision: str | None) -> str | None:
    if revision is None or revision == "":
        return None
    _refuse_control_characters("revision", revision)
    revision = revision.strip().lower()
    if not _REVISION.match(revision):
        raise InvalidPush(f"revision {revision!r} must be a hexadecimal commit id (7 to 64 characters)")
    return revision


def make_push_event(*, repository: str, branch: str, revision: str | None) -> PushEvent:
    try:
        identity = identify_repository(repository)
    except InvalidRepository as error:
        raise InvalidPush(f"repository: {error}") from None
    return PushEvent(
        repository=repository.strip(),
        identity=identity,
        branch=validate_branch(branch),
        revision=validate_revision(revision),
    )


def parse_push(body: bytes) -> PushEvent:
    """Decode and check a webhook body; raises ``InvalidPush`` naming the first problem."""
    try:
        payload = load_json(body)
    except InvalidJson as error:
        raise InvalidPush(str(error)) from None
    if not isinstance(payload, dict):
        raise InvalidPush("body must be a JSON object")
    if payload.get("event") != "push":
        raise InvalidPush(f"event must be 'push', got {payload.get('event')!r}")
    for field in ("repository", "branch"):
        if not isinstance(payload.get(field), str) or not payload[field].strip():
            raise InvalidPush(f"{field} is required and must be a string")
    revision = payload.get("revision")
    if revision is not None and not isinstance(revision, str):
        raise InvalidPush("revision must be a string")
    return make_push_event(repository=payload["repository"], branch=payload["branch"], revision=revision)
