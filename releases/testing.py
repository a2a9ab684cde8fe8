"""Helpers for tests that need releases and bot runs in a given state (through the services)."""

from __future__ import annotations

from datetime import datetime

from builds.models import Build
from releases.models import Release
from releases.services import release_cancel, release_create, release_finish, release_start
from runs.events import manual_event
from runs.models import RunStatus


def make_release(
    build: Build,
    name: str = "staging",
    *,
    action: str = "",
    status: str = RunStatus.PENDING,
    by: str | None = None,
    now: datetime | None = None,
    finished: datetime | None = None,
) -> Release:
    """A release of ``build``'s version created by ``release_create`` and moved to ``status``."""
    release = release_create(
        pipeline=build.pipeline,
        name=name,
        action=action,
        release_version=build.build_version,
        triggered_by_events=[manual_event(by)] if by else [],
        now=now,
    )
    if status == RunStatus.PENDING:
        return release
    if status == RunStatus.CANCELED:
        release_cancel(release=release, now=finished)
        return release
    assert release_start(release=release, now=now)
    if status == RunStatus.CANCELING:
        release_cancel(release=release, now=finished)
    elif status != RunStatus.RUNNING:
        assert release_finish(release=release, status=status, now=finished)
    return release
