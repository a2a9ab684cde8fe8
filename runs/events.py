"""Events of the run engine: a run was recorded and needs a job; the event recorded on a run a person started.

``estafette.events.<kind>.created`` is published with ``publish_on_commit`` in the transaction that recorded the run,
under the natural id ``<kind>-<id>-created``: the dispatch consumer (``runs.consumers``) starts its job.
"""

from __future__ import annotations

from typing import Any

from estafette.queue import publish_on_commit, subjects
from runs.models import Run

# Every kind's created events, for the one dispatch consumer.
RUN_CREATED = subjects.event_subject("*", "created")


def run_created_subject(kind: str) -> str:
    return subjects.event_subject(kind, "created")


def publish_run_created(run: Run) -> None:
    """Ask for the job of ``run`` (its pipeline loaded) once the caller's transaction commits."""
    payload = {"kind": run.kind, "id": str(run.pk), "pipeline": run.pipeline.full_name}  # type: ignore[attr-defined]
    publish_on_commit(run_created_subject(run.kind), payload, dedup_key=f"{run.kind}-{run.pk}-created")


def manual_event(user_email: str) -> dict[str, Any]:
    """The EstafetteEvent recorded on a run a person started from the UI or API."""
    return {"fired": True, "manual": {"userID": user_email}}
