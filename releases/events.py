"""Events about releases: the release events triggers fire on, published as every run's events are (``runs.events``:
after commit, under ``release-<id>-started`` or ``-finished``).

A release's or bot run's ``created`` event (its job is needed) is the run engine's (``runs.events``).
"""

from __future__ import annotations

from builder.manifest.events import Event, ReleaseEvent
from estafette.queue import subjects
from releases.models import Release
from runs.events import publish_run_event, repository_of

# The release trigger kind's subject (``triggers.kinds``): releases publish its events.
RELEASE_EVENTS = subjects.event_subject("release")


def release_event(release: Release, *, event: str) -> Event:
    """The release ``started``/``finished`` event, as triggers match it and jobs receive it."""
    return Event(
        release=ReleaseEvent(
            release_version=release.release_version,
            **repository_of(release),
            target=release.name,
            status=release.status,
            event=event,
        )
    )


def publish_release_event(release: Release, *, event: str) -> None:
    """Publish ``started`` (the builder began) or ``finished`` (with the final status) for release triggers."""
    publish_run_event(release, subject=RELEASE_EVENTS, event=release_event(release, event=event), what=event)
