"""A push becomes a build of the pushed revision (ESTAFETTE.md §3.8: no manifest, no build)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from builds.models import Build
from builds.services import build_create
from estafette.lib.db import atomic_with_retry
from integrations.git.intake import PushedRevision
from pipelines.services import pipeline_get_or_create, pipeline_set_repo_url

logger = logging.getLogger(__name__)


def git_event(pushed: PushedRevision) -> dict[str, Any]:
    """The EstafetteEvent recorded on a build a push started."""
    return {
        "fired": True,
        "git": {"event": "push", "repository": pushed.push.identity.full_name, "branch": pushed.push.branch},
    }


@atomic_with_retry
def build_create_from_push(*, pushed: PushedRevision, now: datetime | None = None) -> Build | None:
    """Create the build of a pushed revision, with its commit; None (nothing written) when it has no manifest.

    The pipeline is created on its first push and remembers where jobs clone from. An invalid
    manifest still gives a (failed) build, as ``build_create`` does. Not idempotent by itself: the
    consumer calls it once per event id.
    """
    push = pushed.push
    if pushed.manifest is None:
        logger.info(
            "push of %s %s at %s has no .estafette.yaml; no build", push.identity.full_name, push.branch, push.revision
        )
        return None
    identity = push.identity
    pipeline = pipeline_get_or_create(repo_source=identity.source, repo_owner=identity.owner, repo_name=identity.name)
    pipeline_set_repo_url(pipeline=pipeline, repo_url=pushed.repo_url)
    commit = pushed.commit
    assert push.revision is not None
    return build_create(
        pipeline=pipeline,
        repo_branch=push.branch,
        repo_revision=push.revision,
        manifest_text=pushed.manifest,
        commits=[
            {
                "message": commit.message,
                "author": {"email": commit.author_email, "name": commit.author_name, "username": ""},
            }
        ],
        triggered_by_events=[git_event(pushed)],
        now=now,
    )
