"""Reads of pipelines: the list with Estafette's filters, lookup by repository, runs filtered by their pipeline."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Lower

from estafette.access.scopes import PipelineScope
from estafette.lib.errors import NotFound
from estafette.lib.listing import Filters, Within
from pipelines.models import SEARCH_KEY_SEPARATOR, FacetKind, Pipeline, PipelineFacet
from pipelines.read_model import READ_MODEL_DEFAULTS

PIPELINE_LIST_FILTERS = (
    "status",
    "since",
    "labels",
    "branch",
    "search",
    "target",
    "recent-committer",
    "recent-releaser",
    "archived",
    "groups",
    "organizations",
)
PIPELINE_SORT_FIELDS = ("repo_source", "repo_owner", "repo_name", "last_updated_at", "build_status", "inserted_at")
PIPELINE_DEFAULT_SORT = ("repo_source", "repo_owner", "repo_name")
# The pipeline's own read model has these (or the list does not show them).
LATEST_BUILD_DEFERRED = (
    "latest_build__manifest",
    "latest_build__manifest_with_defaults",
    "latest_build__labels",
    "latest_build__release_targets",
    "latest_build__triggers",
)


def pipeline_list(*, filters: Filters) -> QuerySet[Pipeline]:
    """Pipelines with at least one build, filtered on the read model only (no aggregation over builds)."""
    pipelines = (
        Pipeline.objects.filter(latest_build__isnull=False)
        .select_related("latest_build")
        .prefetch_related("groups", "organizations")
        .defer(*LATEST_BUILD_DEFERRED)
    )
    if filters.archived is not None:
        pipelines = pipelines.filter(archived=filters.archived)
    if filters.statuses:
        pipelines = pipelines.filter(build_status__in=filters.statuses)
    if filters.since:
        pipelines = pipelines.filter(last_updated_at__gte=filters.since)
    if filters.branch:
        pipelines = pipelines.filter(latest_build__repo_branch=filters.branch)
    if filters.search:
        pipelines = pipelines.filter(_search_condition(filters.search))
    facets = [(FacetKind.LABEL, f"{key}={value}") for key, value in filters.labels]
    if filters.target:
        facets.append((FacetKind.TARGET, filters.target))
    if filters.recent_committer:
        facets.append((FacetKind.COMMITTER, filters.recent_committer))
    if filters.recent_releaser:
        facets.append((FacetKind.RELEASER, filters.recent_releaser))
    for kind, value in facets:
        pipelines = pipelines.filter(
            Exists(PipelineFacet.objects.filter(pipeline_id=OuterRef("pk"), kind=kind, value=value))
        )
    return filter_by_access(pipelines, filters, pipeline_key="pk")


def filter_by_access(rows: QuerySet, filters: Filters, *, pipeline_key: str) -> QuerySet:
    """``filter[groups]``, ``filter[organizations]`` and what the caller may see (``filters.within``), on pipelines
    (``pipeline_key="pk"``) or on runs (``"pipeline_id"``). EXISTS over the membership tables: no duplicate rows."""
    by_group, by_organization = Pipeline.groups.through.objects, Pipeline.organizations.through.objects
    if filters.groups:
        rows = rows.filter(Exists(by_group.filter(pipeline_id=OuterRef(pipeline_key), group__name__in=filters.groups)))
    if filters.organizations:
        rows = rows.filter(
            Exists(
                by_organization.filter(pipeline_id=OuterRef(pipeline_key), organization__name__in=filters.organizations)
            )
        )
    within: Within | None = filters.within
    if within is not None:
        if within.organization_ids:
            visible = by_organization.filter(
                pipeline_id=OuterRef(pipeline_key), organization_id__in=within.organization_ids
            )
        else:
            visible = by_group.filter(pipeline_id=OuterRef(pipeline_key), group_id__in=within.group_ids)
        rows = rows.filter(Exists(visible))
    return rows


def _search_condition(term: str) -> Q:
    """Estafette's ``filter[search]``: the term occurs, ignoring case, in the source, owner or name.

    One LIKE over the stored ``search_key`` (lower("source/owner/name"), carried by the listing
    index) instead of three case-folding LIKEs over every wide row. The database lower-cases the
    term with the same LOWER() that built the key, so both sides fold alike on each database. No
    field contains the separator, so a term containing it could only match across two fields, which
    the per-field search never does: such a term matches nothing.
    """
    if SEARCH_KEY_SEPARATOR in term:
        return Q(pk__in=[])
    return Q(search_key__contains=Lower(Value(term)))


def pipeline_get(*, repo_source: str, repo_owner: str, repo_name: str) -> Pipeline:
    """The pipeline of a repository, with its latest build; ``NotFound`` when there is none."""
    pipeline = (
        Pipeline.objects.select_related("latest_build")
        .prefetch_related("groups", "organizations")
        .filter(repo_source=repo_source, repo_owner=repo_owner, repo_name=repo_name)
        .first()
    )
    if pipeline is None:
        raise NotFound(f"pipeline {repo_source}/{repo_owner}/{repo_name} not found")
    return pipeline


def filter_by_pipeline_facets(runs: QuerySet, filters: Filters) -> QuerySet:
    """Apply ``filter[labels]`` and ``filter[search]`` through the run's pipeline."""
    for key, value in filters.labels:
        runs = runs.filter(
            Exists(
                PipelineFacet.objects.filter(
                    pipeline_id=OuterRef("pipeline_id"), kind=FacetKind.LABEL, value=f"{key}={value}"
                )
            )
        )
    if filters.search:
        term = filters.search
        runs = runs.filter(
            Q(pipeline__repo_name__icontains=term)
            | Q(pipeline__repo_owner__icontains=term)
            | Q(pipeline__repo_source__icontains=term)
        )
    return filter_by_access(runs, filters, pipeline_key="pipeline_id")


def pipeline_scope_of(source: str, owner: str, name: str) -> PipelineScope | None:
    """Who may see the pipeline of a repository (``estafette.access.scopes``; registered by ``PipelinesConfig.ready``).

    Here, not beside the pipeline's access endpoints: every process calls it, and those endpoints import DRF, which
    a process without views (the consumers) should not load."""
    pipeline = (
        Pipeline.objects.prefetch_related("groups", "organizations")
        .filter(repo_source=source, repo_owner=owner, repo_name=name)
        .first()
    )
    if pipeline is None:
        return None
    return PipelineScope(
        full_name=pipeline.full_name,
        group_ids=frozenset(g.pk for g in pipeline.groups.all() if g.active),
        organization_ids=frozenset(o.pk for o in pipeline.organizations.all() if o.active),
    )


def pipeline_read_model_values(*, pipeline_id: int, with_counter: bool = False) -> dict[str, Any]:
    """The pipeline's read model as stored: every field of ``READ_MODEL_DEFAULTS``, ``latest_build`` as its id; with
    ``with_counter`` also ``build_counter`` (one read for a build's creation, which takes a counter first)."""
    fields = ["latest_build_id" if name == "latest_build" else name for name in READ_MODEL_DEFAULTS]
    if with_counter:
        fields.append("build_counter")
    row = Pipeline.objects.filter(pk=pipeline_id).values(*fields).get()
    row["latest_build"] = row.pop("latest_build_id")
    return row
