"""What a forge is told of its repositories' runs, and what it gives their jobs (``triggers.forges.Forge``).

**Run reports.** A build or release of a pipeline whose repository a registered forge hosts (``Forge.hosts``: GitHub's
for its own host) shows on its commit: ``pending`` when it starts, its final state when it ends
(``Forge.report``; GitHub's commit statuses). Reports are made from the run events by consumers
(``triggers.consumers.RunReportConsumer``), never in a request or a build's path: a forge that cannot be reached is
retried with the queue's back-off and at worst recorded as a dead letter, and the run never waits for it or fails
because of it. The state is the event's (``started`` → pending, ``finished`` → its status), so the forge sees them in
the events' order; a *redelivered* start of a run that has ended since is not sent (the end must stay the last).

**Failure and recovery notices.** A build or release that fails, or recovers (``run_notice_of``), is told to every
registered notifier (``triggers.notifications``) by consumers of their own, with the same back-off and dead letters.

**Clone credentials.** The run engine asks, when it configures a job, for the credentials its clone needs
(``runs.registry.clone_credentials``, registered by ``TriggersConfig.ready``): the hosting forge's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db.models import Q

from builds.models import Build
from estafette.lib.errors import NotFound
from pipelines.models import Pipeline
from releases.models import Release
from runs.events import run_event_key
from runs.models import RunStatus
from runs.registry import RunKind, run_kind
from triggers.forges import Forge, RepositoryName, RunReport, forge_hosting
from triggers.notifications import FAILED, RECOVERED, RunNotice, notifiers

logger = logging.getLogger(__name__)

REPORTED_KINDS = ("build", "release")
NOTIFIED_KINDS = ("build", "release")
REPORTED_TRANSITIONS = ("started", "finished")
FINAL_STATES = ("succeeded", "failed", "canceled")


def repository_of(pipeline: Pipeline) -> RepositoryName:
    return RepositoryName(source=pipeline.repo_source, owner=pipeline.repo_owner, name=pipeline.repo_name)


def run_url(kind: RunKind, run: Any) -> str:
    """The run's page in the UI (its logs), as a forge or a chat links to it."""
    return f"{settings.BASE_URL}/pipelines/{run.pipeline.full_name}/{kind.segment}/{run.pk}/logs"


def _run_of_event(event_id: str, *, kinds: tuple[str, ...], whats: tuple[str, ...]) -> tuple[str, RunKind, Any] | None:
    """What a run event (its id, ``<kind>-<id>-<what>``) tells of a run of ``kinds`` going through one of ``whats``:
    (what, its kind, the run); None for another event, or a run that is gone."""
    key = run_event_key(event_id)
    if key is None or key.kind not in kinds or key.what not in whats:
        return None
    kind = run_kind(key.kind)
    try:
        return key.what, kind, kind.get(key.run_id)
    except NotFound:
        return None


def run_report_of(*, event_id: str, part: Mapping[str, Any], deliveries: int = 1) -> tuple[Forge, RunReport] | None:
    """The report a run event (its id, ``<kind>-<id>-<what>``, and its ``pipeline``/``release`` part) makes, and the
    forge it goes to; None when it makes none: not a build's or release's start or end, a repository no forge hosts,
    a run that is gone, a redelivered start of a run that has ended since."""
    if _unhosted(part):
        return None
    found = _run_of_event(event_id, kinds=REPORTED_KINDS, whats=REPORTED_TRANSITIONS)
    if found is None:
        return None
    what, kind, run = found
    pipeline = run.pipeline
    repository = repository_of(pipeline)
    forge = forge_hosting(repository)
    if forge is None:
        return None
    if what == "started":
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
        kind=kind.name,
        target=run.name if kind.name == "release" else "",
        state=state,
        version=str(part.get("buildVersion") or part.get("releaseVersion") or ""),
        url=run_url(kind, run),
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


# -- failure and recovery notices (triggers.notifications) ------------------------------------------------------


def _previous_status(run: Any) -> str | None:
    """The status of the previous succeeded or failed run of ``run``'s series; None when there is none."""
    if isinstance(run, Build):
        series = Build.objects.filter(pipeline_id=run.pipeline_id, repo_branch=run.repo_branch)
    elif isinstance(run, Release):
        series = Release.objects.filter(pipeline_id=run.pipeline_id, name=run.name, action=run.action)
    else:
        return None
    before = Q(inserted_at__lt=run.inserted_at) | Q(inserted_at=run.inserted_at, pk__lt=run.pk)
    earlier = (
        series.filter(before, status__in=(RunStatus.SUCCEEDED, RunStatus.FAILED))
        .order_by("-inserted_at", "-id")
        .values_list("status", flat=True)
        .first()
    )
    return earlier


def run_notice_of(*, event_id: str, part: Mapping[str, Any]) -> RunNotice | None:
    """The notice a run event makes (its id, ``<kind>-<id>-<what>``, and its ``pipeline``/``release`` part); None
    when it makes none: not a build's or release's end, neither a failure nor a recovery, a run that is gone."""
    found = _run_of_event(event_id, kinds=NOTIFIED_KINDS, whats=("finished",))
    if found is None:
        return None
    _, kind, run = found
    status = str(part.get("status") or run.status)
    if status == RunStatus.FAILED:
        outcome = FAILED
    elif status == RunStatus.SUCCEEDED and _previous_status(run) == RunStatus.FAILED:
        outcome = RECOVERED
    else:
        return None
    job = kind.job(run)
    target = ""
    if isinstance(run, Release):
        target = f"{run.name}:{run.action}" if run.action else run.name
    labels = {str(item.get("key")): str(item.get("value")) for item in run.pipeline.labels or [] if "key" in item}
    return RunNotice(
        pipeline=run.pipeline.full_name,
        kind=kind.name,
        run_id=run.pk,
        outcome=outcome,
        version=job.version,
        branch=job.repo_branch,
        target=target,
        url=run_url(kind, run),
        labels=labels,
    )


def run_notice_send(*, event_id: str, part: Mapping[str, Any], deliveries: int = 1) -> RunNotice | None:
    """Send the notice of a run event to every notifier that can send (``run_notice_of``); the notice sent, or None
    (also when no notifier can send: nothing is read then). Raises ``triggers.forges.ReportError``."""
    senders = [notifier for notifier in notifiers() if notifier.can_send()]
    if not senders:
        return None
    notice = run_notice_of(event_id=event_id, part=part)
    if notice is None:
        return None
    for notifier in senders:
        notifier.notify(notice)
    return notice
