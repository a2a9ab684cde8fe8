"""Delivery insights: the four DORA metrics of production releases, per pipeline, per label and overall.

Definitions (``GET /api/insights/dora`` documents the same; ``docs/insights.md`` explains them):

- A **production release** is a release (not a bot run) to a target the operator marks as production
  (``insights.productionTargets`` in the server configuration; default ``production`` and ``prod``), whose status is
  final: succeeded or failed (canceled ones are left out). Its time is when it finished (``updated_at``), in UTC.
- A **change** is one version of a pipeline released to one production target (pipeline, target, version). A change
  retried (a failed release of the version, then a succeeded one) is one change.
- A **deployment** is a change's first succeeded release, unless the release is a rollback (``rollbackActions``):
  undoing a change deploys none. **Deployment frequency**: deployments in the window per day.
- **Lead time for changes**: for each deployment, from the first commit of its build to the deployment. Builds record
  no commit times (a push's commits carry none here), so a commit's ``timestamp`` is used where one is recorded and the
  build's creation — when the push reached the server — otherwise. The median over the window's deployments.
- **Change failure rate**: of the changes whose first release finished in the window, the share that failed: a failed
  release of the change (even when a retry succeeded), or a rollback (``rollbackActions``) or a hotfix deployment (a
  build from a ``hotfixBranchPrefixes`` branch) of the same pipeline and target within ``failureWindowHours`` after
  its deployment.
- **Time to restore**: for each failed production release in the window, the time until the next succeeded release
  (any version, rollbacks included) of the same pipeline and target. The median; failures not restored yet are
  counted apart (``unrestored``).

Each metric is compared with the window of the same length before (``trend``: better, worse or same) and placed in
the DORA performance band of the 2023 State of DevOps report (``band``: elite, high, medium, low).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from estafette.lib.listing import Filters
from pipelines.models import FacetKind, Pipeline, PipelineFacet
from pipelines.selectors import filter_by_pipeline_facets
from releases.models import Release
from runs.models import RunStatus

DAY = timedelta(days=1)
# The 2023 State of DevOps report's bands; each entry: (band, the value must be at most/least this).
DEPLOYMENT_FREQUENCY_BANDS = (("elite", 1.0), ("high", 1 / 7), ("medium", 1 / 30))  # per day, at least
LEAD_TIME_BANDS = (("elite", DAY), ("high", 7 * DAY), ("medium", 30 * DAY))  # at most (under)
CHANGE_FAILURE_BANDS = (("elite", 0.05), ("high", 0.10), ("medium", 0.15))  # at most
RESTORE_BANDS = (("elite", timedelta(hours=1)), ("high", DAY), ("medium", 7 * DAY))  # at most (under)


@dataclass(frozen=True)
class Definitions:
    production_targets: tuple[str, ...]
    rollback_actions: tuple[str, ...]
    hotfix_branch_prefixes: tuple[str, ...]
    failure_window: timedelta

    @classmethod
    def from_settings(cls) -> Definitions:
        insights = settings.INSIGHTS
        return cls(
            production_targets=tuple(insights["production_targets"]),
            rollback_actions=tuple(insights["rollback_actions"]),
            hotfix_branch_prefixes=tuple(insights["hotfix_branch_prefixes"]),
            failure_window=timedelta(hours=insights["failure_window_hours"]),
        )


@dataclass(frozen=True)
class ReleaseFact:
    """What the metrics read of one production release."""

    pipeline_id: int
    target: str
    version: str
    action: str
    status: str
    finished_at: datetime
    first_commit_at: datetime
    branch: str


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime

    @property
    def days(self) -> float:
        return max((self.until - self.since) / DAY, 1e-9)

    @property
    def previous(self) -> Window:
        return Window(since=self.since - (self.until - self.since), until=self.since)

    def holds(self, moment: datetime) -> bool:
        return self.since <= moment < self.until


@dataclass
class Metrics:
    deployments: int = 0
    deployment_frequency: float = 0.0  # per day
    lead_time: timedelta | None = None
    changes: int = 0
    failed_changes: int = 0
    change_failure_rate: float | None = None
    failures: int = 0
    unrestored: int = 0
    time_to_restore: timedelta | None = None


# -- reading ---------------------------------------------------------------------------------------------------


def release_facts(
    *, since: datetime, definitions: Definitions, filters: Filters, pipeline_ids: Sequence[int] | None = None
) -> list[ReleaseFact]:
    """Final production releases finished from ``since`` on (one query; the ``release_target_recent`` index), of the
    pipelines ``filters`` (labels, the caller's visibility) and ``pipeline_ids`` allow."""
    releases: QuerySet[Release] = Release.objects.filter(
        name__in=definitions.production_targets,
        status__in=(RunStatus.SUCCEEDED, RunStatus.FAILED),
        # A release finishes after it is created: every release that finished since ``since`` was created before
        # it; created since a day earlier bounds the scan (releases longer than a day are cut off by the job's
        # deadline long before).
        inserted_at__gte=since - DAY,
    )
    if pipeline_ids is not None:
        releases = releases.filter(pipeline_id__in=pipeline_ids)
    releases = filter_by_pipeline_facets(releases, filters)
    rows = releases.values_list(
        "pipeline_id",
        "name",
        "release_version",
        "action",
        "status",
        "updated_at",
        "build__inserted_at",
        "build__commits",
        "build__repo_branch",
    )
    return [
        ReleaseFact(
            pipeline_id=pipeline_id,
            target=name,
            version=version,
            action=action,
            status=status,
            finished_at=finished,
            first_commit_at=_first_commit_at(commits, built),
            branch=branch,
        )
        for pipeline_id, name, version, action, status, finished, built, commits, branch in rows
        if finished >= since
    ]


def _first_commit_at(commits: Any, built: datetime) -> datetime:
    moments = [built]
    for commit in commits if isinstance(commits, list) else []:
        raw = commit.get("timestamp") if isinstance(commit, dict) else None
        if isinstance(raw, str):
            try:
                moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                continue
            if moment.tzinfo is not None:
                moments.append(moment)
    return min(moments)


# -- the metrics -----------------------------------------------------------------------------------------------


def dora_metrics(facts: Iterable[ReleaseFact], window: Window, definitions: Definitions) -> Metrics:
    """The four metrics of ``window`` from production releases (those finished after it matter for rollbacks,
    hotfixes and restores of what happened in it)."""
    by_stream: dict[tuple[int, str], list[ReleaseFact]] = defaultdict(list)
    for fact in facts:
        by_stream[(fact.pipeline_id, fact.target)].append(fact)
    metrics = Metrics()
    lead_times: list[timedelta] = []
    restores: list[timedelta] = []
    for stream in by_stream.values():
        stream.sort(key=lambda fact: fact.finished_at)
        _changes(stream, window, definitions, metrics, lead_times)
        _restores(stream, window, metrics, restores)
    metrics.deployment_frequency = metrics.deployments / window.days
    metrics.lead_time = _median(lead_times)
    metrics.change_failure_rate = metrics.failed_changes / metrics.changes if metrics.changes else None
    metrics.time_to_restore = _median(restores)
    return metrics


def _changes(
    stream: list[ReleaseFact], window: Window, definitions: Definitions, metrics: Metrics, lead_times: list[timedelta]
) -> None:
    rollback = set(definitions.rollback_actions)
    attempts: dict[str, list[ReleaseFact]] = defaultdict(list)
    for fact in stream:
        if fact.action not in rollback:
            attempts[fact.version].append(fact)
    for releases in attempts.values():  # each in time order
        deployed = next((fact for fact in releases if fact.status == RunStatus.SUCCEEDED), None)
        if deployed is not None and window.holds(deployed.finished_at):
            metrics.deployments += 1
            lead_times.append(max(deployed.finished_at - deployed.first_commit_at, timedelta(0)))
        if not window.holds(releases[0].finished_at):
            continue  # the change (and whether it failed) is the window's its first release finished in
        metrics.changes += 1
        failed = any(fact.status == RunStatus.FAILED for fact in releases)
        if failed or (deployed is not None and _undone(stream, deployed, definitions)):
            metrics.failed_changes += 1


def _undone(stream: list[ReleaseFact], deployed: ReleaseFact, definitions: Definitions) -> bool:
    """Whether a rollback or a hotfix deployment followed ``deployed`` within the failure window."""
    deadline = deployed.finished_at + definitions.failure_window
    for later in stream:
        if not deployed.finished_at < later.finished_at <= deadline or later.status != RunStatus.SUCCEEDED:
            continue
        if later.action in definitions.rollback_actions:
            return True
        if later.version != deployed.version and later.branch.startswith(definitions.hotfix_branch_prefixes):
            return True
    return False


def _restores(stream: list[ReleaseFact], window: Window, metrics: Metrics, restores: list[timedelta]) -> None:
    for position, fact in enumerate(stream):
        if fact.status != RunStatus.FAILED or not window.holds(fact.finished_at):
            continue
        metrics.failures += 1
        restored = next((later for later in stream[position + 1 :] if later.status == RunStatus.SUCCEEDED), None)
        if restored is None:
            metrics.unrestored += 1
        else:
            restores.append(restored.finished_at - fact.finished_at)


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(value.total_seconds() for value in values))


# -- bands and trends ------------------------------------------------------------------------------------------


def band_at_least(value: float | None, bands: Sequence[tuple[str, float]]) -> str | None:
    if value is None:
        return None
    return next((name for name, floor in bands if value >= floor), "low")


def band_at_most(value: Any, bands: Sequence[tuple[str, Any]]) -> str | None:
    if value is None:
        return None
    return next((name for name, ceiling in bands if value <= ceiling), "low")


def trend(current: Any, previous: Any, *, higher_is_better: bool) -> str | None:
    """better, worse or same against the previous window; None when either window has no value."""
    if current is None or previous is None:
        return None
    if current == previous:
        return "same"
    return "better" if (current > previous) == higher_is_better else "worse"


# -- the report ------------------------------------------------------------------------------------------------


@dataclass
class DoraReport:
    window: Window
    definitions: Definitions
    overall: tuple[Metrics, Metrics]  # (this window, the previous)
    pipelines: list[tuple[Pipeline, Metrics, Metrics]] = field(default_factory=list)
    labels: list[tuple[str, Metrics, Metrics]] = field(default_factory=list)


def dora_report(
    *, window: Window, filters: Filters, pipeline_ids: Sequence[int] | None = None, definitions: Definitions
) -> DoraReport:
    """The metrics of ``window`` and the window before, overall, per pipeline and per label of those pipelines."""
    facts = release_facts(
        since=window.previous.since, definitions=definitions, filters=filters, pipeline_ids=pipeline_ids
    )

    def both(selected: list[ReleaseFact]) -> tuple[Metrics, Metrics]:
        return dora_metrics(selected, window, definitions), dora_metrics(selected, window.previous, definitions)

    by_pipeline: dict[int, list[ReleaseFact]] = defaultdict(list)
    for fact in facts:
        by_pipeline[fact.pipeline_id].append(fact)
    pipelines = Pipeline.objects.only("repo_source", "repo_owner", "repo_name").in_bulk(list(by_pipeline))
    report = DoraReport(window=window, definitions=definitions, overall=both(facts))
    for pipeline_id in sorted(by_pipeline, key=lambda pk: _pipeline_name(pipelines.get(pk))):
        if pipeline_id in pipelines:
            report.pipelines.append((pipelines[pipeline_id], *both(by_pipeline[pipeline_id])))
    by_label: dict[str, list[ReleaseFact]] = defaultdict(list)
    labels = PipelineFacet.objects.filter(pipeline_id__in=list(by_pipeline), kind=FacetKind.LABEL)
    for pipeline_id, label in labels.values_list("pipeline_id", "value"):
        by_label[label].extend(by_pipeline[pipeline_id])
    for label in sorted(by_label):
        report.labels.append((label, *both(by_label[label])))
    return report


def _pipeline_name(pipeline: Pipeline | None) -> str:
    return "" if pipeline is None else f"{pipeline.repo_source}/{pipeline.repo_owner}/{pipeline.repo_name}"
