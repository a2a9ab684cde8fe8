"""A push becomes a build of the pushed revision (ESTAFETTE.md §3.8: no manifest, no build).

The revision was read by the push's forge (``triggers.forges``: the manifest and commit at the revision), outside
this transaction; here it is only recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from builds.models import Build
from builds.services import build_create
from estafette.lib.db import atomic_with_retry
from pipelines.services import pipeline_get_or_create, pipeline_set_repo_url
from triggers.forges import Forge, InvalidSource, PushedRevision, forge
from triggers.services import audit_run_started

logger = logging.getLogger(__name__)


def push_forge(payload: Mapping[str, Any]) -> Forge:
    """The forge that reads a published push: its ``forge`` (``git`` when it names none). ``InvalidSource`` for one
    that is not registered."""
    name = payload.get("forge") or "git"
    try:
        return forge(str(name))
    except LookupError as error:
        raise InvalidSource(str(error)) from None


def git_event(pushed: PushedRevision) -> dict[str, Any]:
    """The EstafetteEvent recorded on a build a push started."""
    return {"fired": True, "git": {"event": "push", "repository": pushed.repository.full_name, "branch": pushed.branch}}


# No savepoint inside the consumer's transaction: nothing here raises an error a caller catches to carry on.
@atomic_with_retry(savepoint=False)
def build_create_from_push(*, pushed: PushedRevision, now: datetime | None = None) -> Build | None:
    """Create the build of a pushed revision, with its commit; None (nothing written) when it has no manifest.

    The pipeline is created on its first push and remembers where jobs clone from. An invalid
    manifest still gives a (failed) build, as ``build_create`` does. Not idempotent by itself: the
    consumer calls it once per event id.
    """
    repository = pushed.repository
    if pushed.manifest is None:
        logger.info(
            "push of %s %s at %s has no .estafette.yaml; no build", repository.full_name, pushed.branch, pushed.revision
        )
        return None
    pipeline = pipeline_get_or_create(
        repo_source=repository.source, repo_owner=repository.owner, repo_name=repository.name
    )
    pipeline_set_repo_url(pipeline=pipeline, repo_url=pushed.repo_url)
    commits = pushed.commits or (pushed.commit,)
    build = build_create(
        pipeline=pipeline,
        repo_branch=pushed.branch,
        repo_revision=pushed.revision,
        manifest_text=pushed.manifest,
        commits=[
            {
                "message": commit.message,
                "author": {
                    "email": commit.author_email,
                    "name": commit.author_name,
                    "username": commit.author_username,
                },
            }
            for commit in commits
        ],
        triggered_by_events=[git_event(pushed)],
        now=now,
    )
    return audit_run_started(build, event={"git": {}})
