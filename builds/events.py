"""Events about builds: the pipeline events triggers fire on (ESTAFETTE.md §1.10), published as every run's events are
(``runs.events``: after commit, under ``build-<id>-started`` or ``-finished``).

A build's ``created`` event (its job is needed) is the run engine's (``runs.events.publish_run_created``).
"""

from __future__ import annotations

from builder.manifest.events import Event, PipelineEvent
from builds.models import Build
from estafette.queue import subjects
from runs.events import publish_run_event, repository_of

# The pipeline trigger kind's subject (``triggers.kinds``): builds publish its events.
PIPELINE_EVENTS = subjects.event_subject("pipeline")


def pipeline_event(build: Build, *, event: str) -> Event:
    """The pipeline ``started``/``finished`` event of a build, as triggers match it and jobs receive it."""
    return Event(
        pipeline=PipelineEvent(
            build_version=build.build_version,
            **repository_of(build),
            branch=build.repo_branch,
            status=build.status,
            event=event,
        )
    )


def publish_pipeline_event(build: Build, *, event: str) -> None:
    """Publish ``started`` (the builder began) or ``finished`` (with the final status) for pipeline triggers."""
    publish_run_event(build, subject=PIPELINE_EVENTS, event=pipeline_event(build, event=event), what=event)
