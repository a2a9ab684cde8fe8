"""Accepting a git push: check what it names, then publish it on ``estafette.events.git`` after commit; the
consumer reads the repository (``push_read``).

The webhook view and ``manage.py push_event`` both publish ``push_intake_event`` (the view through the intake base,
the command through ``push_publish``). The web request never runs git:
it checks the body (``webhook.parse_push``) and, for a repository on this machine, that it lies under the
roots the operator listed (``push_check_local``). ``manage.py push_event``, run by the operator, takes any
local path and resolves the branch head before publishing, to say at once when it does not exist.

Event ids make a redelivered push one event (JetStream drops a copy inside its duplicate window): a push
naming its revision is identified by pipeline, branch and revision (``push_event_id``), one without by its
raw body (``push_delivery_id``). The build consumer keys its work on the *resolved* revision
(``push_event_id`` of ``push_read``'s push), so every event naming the same commit makes one build.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from django.conf import settings

from integrations.git.client import CommitInfo, GitError, GitRepositoryCache, UnsafeGitArgument, without_credentials
from integrations.git.identity import InvalidRepository, identify_repository, is_local, local_path
from integrations.git.webhook import InvalidPush, PushEvent, make_push_event
from integrations.intake import IntakeEvent, submit
from triggers.kinds import trigger_kind

ROOTS_VARIABLE = "ESTAFETTE_LOCAL_REPOSITORY_ROOTS"


def repository_cache() -> GitRepositoryCache:
    """The bare mirrors under ``<data dir>/git-cache`` that pushes are read from."""
    return GitRepositoryCache(settings.GIT_CACHE_DIR)


def push_event_id(push: PushEvent) -> str:
    """The event id of a push of a resolved revision: the same for every delivery of the same push."""
    assert push.revision, "resolve the revision first"
    natural = f"{push.identity.full_name.casefold()}\n{push.branch}\n{push.revision}"
    return f"git-push-{hashlib.sha256(natural.encode()).hexdigest()[:40]}"


def push_delivery_id(*, push: PushEvent, body: bytes) -> str:
    """The event id of a webhook delivery: ``push_event_id`` when it names its revision; else the hash of the
    raw body, the same for a byte-identical redelivery (the revision is resolved later, by the consumer)."""
    if push.revision:
        return push_event_id(push)
    return f"git-push-body-{hashlib.sha256(body).hexdigest()[:40]}"


def push_check_local(*, push: PushEvent, roots: Sequence[Path]) -> PushEvent:
    """For pushes over HTTP: a repository on this machine is accepted only under one of ``roots``
    (``ESTAFETTE_LOCAL_REPOSITORY_ROOTS``), compared after symlinks and ``..`` are resolved. Returns the push
    naming that resolved path (what git will read); a remote URL is returned as it is. Raises ``InvalidPush``
    saying what to set. Reads the file system only (no git)."""
    if not is_local(push.repository):
        return push
    if not roots:
        raise InvalidPush(
            "local repositories are refused over HTTP until the server lists where they may be: set "
            f"{ROOTS_VARIABLE} to colon-separated absolute paths (manage.py push_event takes any local path)"
        )
    path = local_path(push.repository)
    if not os.path.isabs(path):
        raise InvalidPush(f"repository {push.repository!r}: a local repository is an absolute path on the server")
    real = os.path.realpath(path)
    if not any(_is_within(real, os.path.realpath(root)) for root in roots):
        raise InvalidPush(f"repository {push.repository!r} is not under a directory listed in {ROOTS_VARIABLE}")
    if not os.path.isdir(real):
        raise InvalidPush(f"repository {push.repository!r} is not a directory on the server")
    try:
        identity = identify_repository(real)
    except InvalidRepository as error:
        raise InvalidPush(f"repository: {error}") from None
    return replace(push, repository=real, identity=identity)


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def push_resolve(*, push: PushEvent, cache: GitRepositoryCache | None = None) -> PushEvent:
    """The push with a local path made absolute and a missing revision replaced by the branch head (runs git).

    Raises ``InvalidPush`` when retrying cannot help (the branch is not in the repository, or the location or
    branch is one git must not be given) and ``GitError`` when the repository cannot be read now.
    """
    repository = push.repository
    if is_local(repository) and not repository.startswith("file://"):
        repository = str(Path(repository).expanduser().resolve())
    if push.revision:
        return replace(push, repository=repository)
    try:
        revision = (cache or repository_cache()).resolve_branch(url=repository, branch=push.branch)
    except GitError as error:
        message = f"cannot resolve the head of branch {push.branch!r}: {error}"
        if error.permanent:
            raise InvalidPush(message) from None
        raise GitError(message) from None
    return replace(push, repository=repository, revision=revision)


def push_intake_event(*, push: PushEvent, event_id: str | None = None) -> IntakeEvent:
    """The push as git triggers and the build consumer receive it, as ``event_id`` (default: ``push_event_id``, for a
    push whose revision is known)."""
    return IntakeEvent(subject=trigger_kind("git").subject, payload=push.to_dict(), id=event_id or push_event_id(push))


def push_publish(*, push: PushEvent, event_id: str | None = None) -> str:
    """Publish a push after this transaction commits (``integrations.intake.submit``), as ``event_id`` (default:
    ``push_event_id``). Returns the event id."""
    return submit([push_intake_event(push=push, event_id=event_id)])[0]


@dataclass(frozen=True)
class PushedRevision:
    """What a push event names, read from the repository: the manifest and the commit at the revision."""

    push: PushEvent  # revision resolved to the full commit id
    repo_url: str  # where jobs clone from: the push's URL or path without credentials
    manifest: bytes | None  # the file's bytes, decoded by the manifest library; None: no .estafette.yaml
    commit: CommitInfo

    @property
    def event_id(self) -> str:
        """``push_event_id`` of the resolved push: the same for every event that names this commit."""
        return push_event_id(self.push)


def push_read(*, payload: Mapping[str, Any], cache: GitRepositoryCache | None = None) -> PushedRevision:
    """Read ``.estafette.yaml`` and the commit of a published push event (the consumer's git work).

    The payload is checked again as the webhook checks a body (an event on the queue is input too). Raises
    ``InvalidPush`` for a payload that is not a push, names what git must not be given, or a branch the
    repository does not have; ``GitError`` when the repository or revision cannot be read (possibly for
    now: a remote may be unreachable).
    """
    for field in ("repository", "branch", "revision"):
        if payload.get(field) is not None and not isinstance(payload.get(field), str):
            raise InvalidPush(f"{field} must be a string")
    push = make_push_event(
        repository=str(payload.get("repository") or ""),
        branch=str(payload.get("branch") or ""),
        revision=str(payload["revision"]) if payload.get("revision") else None,
    )
    cache = cache or repository_cache()
    push = push_resolve(push=push, cache=cache)
    assert push.revision is not None
    try:
        commit, manifest = cache.read_revision(url=push.repository, revision=push.revision)
    except UnsafeGitArgument as error:
        raise InvalidPush(str(error)) from None
    return PushedRevision(
        push=replace(push, revision=commit.revision),
        repo_url=without_credentials(push.repository),
        manifest=manifest,
        commit=commit,
    )
