"""Events about releases and bot runs: created (a job is needed) and the release events triggers fire on.

Published with ``publish_on_commit`` in the transaction of the change, under natural ids
(``release-<id>-started``), as ``builds.events`` does for builds.
"""

from __future__ import annotations

from builder.manifest.events import Event, ReleaseEvent
from builds.events import run_created_payload
from estafette.queue import publish_on_commit, subjects
from releases.models import BotRun, Release


def publish_release_created(release: Release) -> None:
    payload = run_created_payload(kind="release", run_id=release.pk, pipeline=release.pipeline.full_name)
    publish_on_commit(subjects.RELEASE_CREATED, payload, dedup_key=f"release-{release.pk}-created")


def publish_bot_created(bot_run: BotRun) -> None:
    payload = run_created_payload(kind="bot", run_id=bot_run.pk, pipeline=bot_run.pipeline.full_name)
    publish_on_commit(subjects.BOT_CREATED, payload, dedup_key=f"bot-{bot_run.pk}-created")


def release_event(release: Release, *, event: str) -> Event:
    """The release ``started``/``finished`` event, as triggers match it and jobs receive it."""
    pipeline = release.pipeline
    return Event(
        release=ReleaseEvent(
            release_version=release.release_version,
            repo_source=pipeline.repo_source,
            repo_owner=pipeline.repo_owner,
            repo_name=pipeline.repo_name,
            target=release.name,
            status=release.status,
            event=event,
        )
    )


def publish_release_event(release: Release, *, event: str) -> None:
    """Publish ``started`` (the builder began) or ``finished`` (with the final status) for release triggers."""
    publish_on_commit(
        subjects.RELEASE, release_event(release, event=event).to_dict(), dedup_key=f"release-{release.pk}-{event}"
    )
