"""Events about releases: the release events triggers fire on.

A release's or bot run's ``created`` event (its job is needed) is the run engine's (``runs.events``).

Published with ``publish_on_commit`` in the transaction of the change, under natural ids
(``release-<id>-started``), as ``builds.events`` does for builds.
"""

from __future__ import annotations

from builder.manifest.events import Event, ReleaseEvent
from estafette.queue import publish_on_commit, subjects
from releases.models import Release

# The release trigger kind's subject (``triggers.kinds``): releases publish its events.
RELEASE_EVENTS = subjects.event_subject("release")


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
        RELEASE_EVENTS, release_event(release, event=event).to_dict(), dedup_key=f"release-{release.pk}-{event}"
    )
