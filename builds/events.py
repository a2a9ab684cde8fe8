"""Events about builds: the pipeline events triggers fire on (ESTAFETTE.md §1.10).

A build's ``created`` event (its job is needed) is the run engine's (``runs.events.publish_run_created``).

Each is published with ``publish_on_commit`` inside the transaction of the change it reports, under
a natural id (``build-<id>-finished``): a transition happens once, so its event does too.
"""

from __future__ import annotations

from builder.manifest.events import Event, PipelineEvent
from builds.models import Build
from estafette.queue import publish_on_commit, subjects

# The pipeline trigger kind's subject (``triggers.kinds``): builds publish its events.
PIPELINE_EVENTS = subjects.event_subject("pipeline")


def pipeline_event(build: Build, *, event: str) -> Event:
    """The pipeline ``started``/``finished`` event of a build, as triggers match it and jobs receive it."""
    pipeline = build.pipeline
    return Event(
        pipeline=PipelineEvent(
            build_version=build.build_version,
            repo_source=pipeline.repo_source,
            repo_owner=pipeline.repo_owner,
            repo_name=pipeline.repo_name,
            branch=build.repo_branch,
            status=build.status,
            event=event,
        )
    )


def publish_pipeline_event(build: Build, *, event: str) -> None:
    """Publish ``started`` (the builder began) or ``finished`` (with the final status) for pipeline triggers."""
    publish_on_commit(
        PIPELINE_EVENTS, pipeline_event(build, event=event).to_dict(), dedup_key=f"build-{build.pk}-{event}"
    )
