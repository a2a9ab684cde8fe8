"""Accepting a git push: resolve what it names, then publish it on ``estafette.events.git`` after commit.

The webhook view and ``manage.py push_event`` both end here. The event id is derived from the
pipeline, branch and revision, so a redelivered webhook (or the same push sent twice) is one event:
JetStream drops the copy inside its duplicate window, and the consumers handle an id only once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from estafette.lib.db import retry_on_serialization_failure
from estafette.queue import publish_on_commit, subjects
from integrations.git.client import CommitInfo, GitError, GitRepositoryCache, without_credentials
from integrations.git.identity import is_local
from integrations.git.webhook import InvalidPush, PushEvent, make_push_event


def repository_cache() -> GitRepositoryCache:
    """The bare mirrors under ``<data dir>/git-cache`` that pushes are read from."""
    return GitRepositoryCache(settings.GIT_CACHE_DIR)


def push_event_id(push: PushEvent) -> str:
    """The event id of a push of a resolved revision: the same for every delivery of the same push."""
    assert push.revision, "resolve the revision first"
    natural = f"{push.identity.full_name.casefold()}\n{push.branch}\n{push.revision}"
    return f"git-push-{hashlib.sha256(natural.encode()).hexdigest()[:40]}"


def push_resolve(*, push: PushEvent, cache: GitRepositoryCache | None = None) -> PushEvent:
    """The push with a local path made absolute and a missing revision replaced by the branch head.

    Resolving here, once, makes every redelivery of the event name the same commit even when the
    branch moves on. Raises ``InvalidPush`` when the repository or branch cannot be read.
    """
    repository = push.repository
    if is_local(repository) and not repository.startswith("file://"):
        repository = str(Path(repository).expanduser().resolve())
    if push.revision:
        return replace(push, repository=repository)
    try:
        revision = (cache or repository_cache()).resolve_branch(url=repository, branch=push.branch)
    except GitError as error:
        raise InvalidPush(f"cannot resolve the head of branch {push.branch!r}: {error}") from None
    return replace(push, repository=repository, revision=revision)


@retry_on_serialization_failure
def push_publish(*, push: PushEvent) -> str:
    """Publish a resolved push (``push_resolve``) after this transaction commits. Returns the event id."""
    event_id = push_event_id(push)
    with transaction.atomic():
        publish_on_commit(subjects.GIT, push.to_dict(), dedup_key=event_id)
    return event_id


@dataclass(frozen=True)
class PushedRevision:
    """What a push event names, read from the repository: the manifest and the commit at the revision."""

    push: PushEvent  # revision resolved to the full commit id
    repo_url: str  # where jobs clone from: the push's URL or path without credentials
    manifest_text: str | None  # None: no .estafette.yaml at this revision
    commit: CommitInfo


def push_read(*, payload: Mapping[str, Any], cache: GitRepositoryCache | None = None) -> PushedRevision:
    """Read ``.estafette.yaml`` and the commit of a published push event (the consumer's git work).

    Raises ``InvalidPush`` for a payload that is not a push and ``GitError`` when the repository or
    revision cannot be read (possibly for now: a remote may be unreachable).
    """
    push = make_push_event(
        repository=str(payload.get("repository") or ""),
        branch=str(payload.get("branch") or ""),
        revision=str(payload["revision"]) if payload.get("revision") else None,
    )
    cache = cache or repository_cache()
    push = push_resolve(push=push, cache=cache)
    assert push.revision is not None
    commit, manifest_text = cache.read_revision(url=push.repository, revision=push.revision)
    return PushedRevision(
        push=replace(push, revision=commit.revision),
        repo_url=without_credentials(push.repository),
        manifest_text=manifest_text,
        commit=commit,
    )
