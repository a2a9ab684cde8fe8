"""What a forge is told of its repositories' runs, and what it gives their jobs (``triggers.forges.Forge``).

**Run reports.** A build or release of a pipeline whose repository a registered forge hosts (``Forge.hosts``: GitHub's
for its own host) shows on its commit: ``pending`` when it starts, its final state when it ends
(``Forge.report``; GitHub's commit statuses). Reports are made from the run events by consumers
(``triggers.consumers.RunReportConsumer``), never in a request or a build's path: a forge that cannot be reached is
retried with the queue's back-off and at worst recorded as a dead letter, and the run never waits for it or fails
because of it. The state is the event's (``started`` → pending, ``finished`` → its status), so the forge sees them in
the events' order; a *redelivered* start of a run that has ended since is not sent (the end must stay the last).

**Clone credentials.** The run engine asks, when it configures a job, for the credentials its clone needs
(``runs.registry.clone_credentials``, registered by ``TriggersConfig.ready``): the hosting forge's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from estafette.lib.errors import NotFound
from pipelines.models import Pipeline
from runs.events import run_event_key
from runs.registry import run_kind
from triggers.forges import Forge, RepositoryName, RunReport, forge_hosting

logger = logging.getLogger(__name__)

REPORTED_KINDS = ("build", "release")
REPORTED_TRANSITIONS = ("started", "finished")
FINAL_STATES = ("succeeded", "failed", "canceled")


def repository_of(pipeline: Pipeline) -> RepositoryName:
    return RepositoryName(source=pipeline.repo_source, owner=pipeline.repo_owner, name=pipeline.repo_name)


def run_report_of(*, event_id: str, part: Mapping[str, Any], deliveries: int = 1) -> tuple[Forge, RunReport] | None:
    """The report a run event (its id, ``<kind>-<id>-<what>``, and its ``pipeline``/``release`` part) makes, and the
    forge it goes to; None when it makes none: not a build's or release's start or end, a repository no forge hosts,
    a run that is gone, a redelivered start of a run that has ended since."""
    key = run_event_key(event_id)
    if key is None or key.kind not in REPORTED_KINDS or key.what not in REPORTED_TRANSITIONS or _unhosted(part):
        return None
    kind = run_kind(key.kind)
    try:
        run = kind.get(key.run_id)
    except NotFound:
        return None
    pipeline = run.pipeline
    repository = repository_of(pipeline)
    forge = forge_hosting(repository)
    if forge is None:
        return None
    if key.what == "started":
        if deliveries > 1 and run.is_final:
            return None
        state = "pending"
    else:
        state = str(part.get("status") or run.status)
        if state not in FINAL_STATES:
            return None
    report = RunReport(
        repository=repository,
        revision=kind.job(run).repo_revision,
        kind=key.kind,
        target=run.name if key.kind == "release" else "",
        state=state,
        version=str(part.get("buildVersion") or part.get("releaseVersion") or ""),
        url=f"{settings.BASE_URL}/pipelines/{pipeline.full_name}/{kind.segment}/{run.pk}/logs",
    )
    return forge, report


def _unhosted(part: Mapping[str, Any]) -> bool:
    """Whether the event names a repository no forge hosts (most runs of a plain git server or a local repository):
    nothing to report, so no run to load, which was ~5% of the worker's CPU per build. False when it names none."""
    named = RepositoryName(
        source=str(part.get("repoSource") or ""),
        owner=str(part.get("repoOwner") or ""),
        name=str(part.get("repoName") or ""),
    )
    return bool(named.source) and forge_hosting(named) is None


def run_report_send(*, event_id: str, part: Mapping[str, Any], deliveries: int = 1) -> RunReport | None:
    """Send the report of a run event to its forge (``run_report_of``); the report sent, or None. Raises
    ``triggers.forges.ReportError``."""
    found = run_report_of(event_id=event_id, part=part, deliveries=deliveries)
    if found is None:
        return None
    forge, report = found
    forge.report(report)
    return report


def clone_credentials_of(pipeline: Pipeline) -> list[Any]:
    """The credentials a job of ``pipeline`` clones with: its hosting forge's (none for a plain git repository)."""
    repository = repository_of(pipeline)
    forge = forge_hosting(repository)
    return list(forge.clone_credentials(repository)) if forge is not None else []
