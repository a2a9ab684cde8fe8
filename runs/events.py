"""Events of the run engine: a run was recorded and needs a job; a run started or finished (for the triggers on its
kind's events); the event recorded on a run a person started.

Each is published with ``publish_on_commit`` in the transaction of the change it reports, under a natural id
``<kind>-<id>-<what>`` (``build-12-finished``): a transition happens once, so its event does too.
``estafette.events.<kind>.created`` is the dispatch consumer's (``runs.consumers``): it starts the run's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from builder.manifest.events import Event
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


_RUN_EVENT_ID = re.compile(r"^(?P<kind>[a-z][a-z0-9]{0,7})-(?P<id>[0-9]{1,19})-(?P<what>[a-z]+)$")


@dataclass(frozen=True)
class RunEventKey:
    """What a run event's id (``publish_run_event``: ``<kind>-<id>-<what>``) names: for consumers that act on the run
    itself (a forge's commit status), not only on the event's part."""

    kind: str
    run_id: int
    what: str


def run_event_key(event_id: str) -> RunEventKey | None:
    """The run and transition a run event's id names; None for an id of another shape."""
    match = _RUN_EVENT_ID.match(event_id)
    if match is None:
        return None
    return RunEventKey(kind=match["kind"], run_id=int(match["id"]), what=match["what"])


def publish_run_event(run: Run, *, subject: str, event: Event, what: str) -> None:
    """Publish ``event`` on ``subject`` once the caller's transaction commits: that ``run`` ``what`` (``started``,
    ``finished``), as the triggers of its kind's events match it and jobs receive it."""
    publish_on_commit(subject, event.to_dict(), dedup_key=f"{run.kind}-{run.pk}-{what}")


def repository_of(run: Run) -> dict[str, str]:
    """The repository of the run's pipeline (loaded) as the events name it: ``repo_source``, ``repo_owner``…"""
    pipeline = run.pipeline  # type: ignore[attr-defined]
    return {"repo_source": pipeline.repo_source, "repo_owner": pipeline.repo_owner, "repo_name": pipeline.repo_name}


def manual_event(user_email: str) -> dict[str, Any]:
    """The EstafetteEvent recorded on a run a person started from the UI or API."""
    return {"fired": True, "manual": {"userID": user_email}}
