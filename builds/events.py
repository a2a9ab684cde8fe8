"""Events about builds: created (a job is needed) and the pipeline events triggers fire on (ESTAFETTE.md §1.10).

Each is published with ``publish_on_commit`` inside the transaction of the change it reports, under
a natural id (``build-<id>-finished``): a transition happens once, so its event does too.
"""

from __future__ import annotations

from builder.manifest.events import Event, PipelineEvent
from builds.models import Build
from estafette.queue import publish_on_commit, subjects


def run_created_payload(*, kind: str, run_id: int, pipeline: str) -> dict[str, str]:
    """The payload of ``estafette.events.<kind>.created``: which run needs a job."""
    return {"kind": kind, "id": str(run_id), "pipeline": pipeline}


def publish_build_created(build: Build) -> None:
    """Ask for the build's job (``builds.dispatch``)."""
    payload = run_created_payload(kind="build", run_id=build.pk, pipeline=build.pipeline.full_name)
    publish_on_commit(subjects.BUILD_CREATED, payload, dedup_key=f"build-{build.pk}-created")


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
        subjects.PIPELINE, pipeline_event(build, event=event).to_dict(), dedup_key=f"build-{build.pk}-{event}"
    )
