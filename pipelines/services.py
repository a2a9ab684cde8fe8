"""Pipeline workflows: identity, and the read model the list pages read (computed by its parts, ``read_model``)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, models
from django.utils import timezone

from estafette.lib.db import atomic_with_retry
from estafette.lib.errors import BadRequest, Conflict
from pipelines.models import FacetKind, Pipeline, PipelineFacet
from pipelines.read_model import READ_MODEL_DEFAULTS, ReadModelPart, read_model_parts


def pipeline_get_or_create(*, repo_source: str, repo_owner: str, repo_name: str) -> Pipeline:
    """The pipeline of a repository, created on first sight.

    Safe under concurrency: when two callers create the same pipeline at once, the loser of the
    unique constraint reads the winner's row. Raises ``BadRequest`` for an empty or malformed identity.
    """
    for label, value in (("repo_source", repo_source), ("repo_owner", repo_owner), ("repo_name", repo_name)):
        if not value or not value.strip() or "/" in value or len(value) > 256:
            raise BadRequest(f"{label} must be a non-empty name without '/', got {value!r}")
    # The common case, a pipeline seen before, without the savepoint the creation needs.
    existing = Pipeline.objects.filter(repo_source=repo_source, repo_owner=repo_owner, repo_name=repo_name).first()
    if existing is not None:
        return existing
    try:
        return _get_or_create(repo_source=repo_source, repo_owner=repo_owner, repo_name=repo_name)
    except IntegrityError:
        # A concurrent transaction created it first; ours saw a snapshot without it.
        return Pipeline.objects.get(repo_source=repo_source, repo_owner=repo_owner, repo_name=repo_name)


@atomic_with_retry
def _get_or_create(*, repo_source: str, repo_owner: str, repo_name: str) -> Pipeline:
    pipeline, _ = Pipeline.objects.get_or_create(repo_source=repo_source, repo_owner=repo_owner, repo_name=repo_name)
    return pipeline


def pipeline_set_repo_url(*, pipeline: Pipeline, repo_url: str) -> bool:
    """Remember where jobs of the pipeline clone from (credentials must already be removed). True if it changed.

    Nothing is written when ``pipeline`` (read in the caller's transaction) already has it: every push names it."""
    if pipeline.repo_url == repo_url:
        return False
    return _set_repo_url(pipeline=pipeline, repo_url=repo_url)


@atomic_with_retry
def _set_repo_url(*, pipeline: Pipeline, repo_url: str) -> bool:
    changed = Pipeline.objects.filter(pk=pipeline.pk).exclude(repo_url=repo_url).update(repo_url=repo_url)
    pipeline.repo_url = repo_url
    return bool(changed)


@atomic_with_retry
def pipeline_rename(*, pipeline: Pipeline, repo_source: str, repo_owner: str, repo_name: str) -> bool:
    """Give a pipeline the new name of its repository; its runs stay its own (they point at the row, not the name).

    True if the name changed. Raises ``Conflict`` when another pipeline already has that name. The clone URL is
    forgotten (the next push names the new one).
    """
    taken = (
        Pipeline.objects.filter(
            repo_source__iexact=repo_source, repo_owner__iexact=repo_owner, repo_name__iexact=repo_name
        )
        .exclude(pk=pipeline.pk)
        .exists()
    )
    if taken:
        raise Conflict(f"another pipeline is already named {repo_source}/{repo_owner}/{repo_name}")
    name = {"repo_source": repo_source, "repo_owner": repo_owner, "repo_name": repo_name}
    if all(getattr(pipeline, field) == value for field, value in name.items()):
        return False
    Pipeline.objects.filter(pk=pipeline.pk).update(**name, repo_url="")
    for field, value in name.items():
        setattr(pipeline, field, value)
    pipeline.repo_url = ""
    return True


@atomic_with_retry
def pipeline_archive(*, pipeline: Pipeline, archived: bool = True) -> bool:
    """Archive (or with ``archived=False`` unarchive) a pipeline: it leaves the default lists.

    Returns whether anything changed. Archived pipelines refuse rebuilds and releases.
    """
    changed = Pipeline.objects.filter(pk=pipeline.pk).exclude(archived=archived).update(archived=archived)
    pipeline.archived = archived
    return bool(changed)


@atomic_with_retry
def pipeline_refresh_read_model(*, pipeline: Pipeline, now: datetime | None = None) -> Pipeline:
    """Recompute the pipeline's read model from its runs (Estafette's computed_pipelines).

    Call it in the same transaction as any change to a run of the pipeline. Every registered part
    (``pipelines.read_model``) computes its values — the latest build, the last few builds and releases, the active
    release of every release target and action…; ``last_updated_at`` is the latest activity any part reports. It
    writes only read-model fields (never ``build_counter`` or ``archived``) and the pipeline's facet rows.
    Idempotent. Returns the pipeline with the new values set.
    """
    now = now or timezone.now()
    values: dict[str, Any] = copy.deepcopy(dict(READ_MODEL_DEFAULTS))
    activity: list[datetime] = []
    for part in read_model_parts():
        update = part.refresh(pipeline=pipeline, values=values, now=now)
        values.update(_read_model_values(part, update.values))
        if update.last_activity is not None:
            activity.append(update.last_activity)
    values["last_updated_at"] = max(activity, default=None)
    Pipeline.objects.filter(pk=pipeline.pk).update(**values)
    for name, value in values.items():
        setattr(pipeline, name, value)
    _replace_facets(pipeline, _facets(values))
    return pipeline


@atomic_with_retry
def pipeline_update_read_model(
    *, pipeline: Pipeline, part: str, values: Mapping[str, Any], last_activity: datetime | None = None
) -> None:
    """Write read-model ``values`` that one part recomputed after a change it knows touches only them (a build
    started or finished: its status and medians), with a fraction of a full refresh's reads.

    ``last_activity`` — the part's latest run changed — also recomputes ``last_updated_at``, asking the other parts
    for theirs. Facets are left alone: they follow which runs exist, refreshed by the services that create them.
    Call it in the transaction of the change. Raises ``ValueError`` for a field that is not the read model's.
    """
    by_name = {registered.name: registered for registered in read_model_parts()}
    updates = _read_model_values(by_name[part], values)
    if last_activity is not None:
        others = (other.last_activity(pipeline_id=pipeline.pk) for name, other in by_name.items() if name != part)
        updates["last_updated_at"] = max([last_activity, *(moment for moment in others if moment is not None)])
    if updates:
        Pipeline.objects.filter(pk=pipeline.pk).update(**updates)
        for name, value in updates.items():
            setattr(pipeline, name, value)


@atomic_with_retry(savepoint=False)
def pipeline_change_read_model(
    *,
    pipeline: Pipeline,
    part: str,
    before: Mapping[str, Any],
    values: Mapping[str, Any],
    last_activity: datetime | None = None,
    now: datetime | None = None,
) -> Pipeline:
    """Write read-model ``values`` one part recomputed after a change of its runs (a build created), and what follows
    from them, with the writes and reads a full refresh would need only for what changed.

    ``before`` is the whole read model as stored (``selectors.pipeline_read_model_values``, read in this transaction
    after the change locked the pipeline's row). The parts that need ``part`` follow its new values
    (``ReadModelPart.follow``); ``last_activity`` — the part's latest run changed — is ``last_updated_at`` unless an
    earlier moment than the stored one, when the other parts are asked for theirs; the facet rows are replaced only
    when the values they come from changed. Only changed fields are written. Call it in the transaction of the
    change. Returns the pipeline with the new values set.
    """
    now = now or timezone.now()
    parts = read_model_parts()
    by_name = {registered.name: registered for registered in parts}
    after: dict[str, Any] = {**before, **_read_model_values(by_name[part], values)}
    if isinstance(after["latest_build"], models.Model):  # compared and written by id, as ``before`` holds it
        after["latest_build"] = after["latest_build"].pk
    changed = {part}
    for follower in parts:
        if follower.name in changed or not changed.intersection(follower.needs):
            continue
        update = follower.follow(pipeline=pipeline, before=before, after=after, now=now)
        if update.values:
            after.update(_read_model_values(follower, update.values))
            changed.add(follower.name)
    if last_activity is not None:
        stored = before.get("last_updated_at")
        if stored is None or last_activity >= stored:
            after["last_updated_at"] = last_activity
        else:
            others = (other.last_activity(pipeline_id=pipeline.pk) for other in parts if other.name != part)
            after["last_updated_at"] = max([last_activity, *(moment for moment in others if moment is not None)])
    updates = {_field(name): value for name, value in after.items() if name not in before or before[name] != value}
    if updates:
        Pipeline.objects.filter(pk=pipeline.pk).update(**updates)
    for name, value in after.items():
        setattr(pipeline, _field(name), value)
    wanted = _facets(after)
    if wanted != _facets(before):
        _replace_facets(pipeline, wanted)
    return pipeline


def _field(name: str) -> str:
    return "latest_build_id" if name == "latest_build" else name


def _read_model_values(part: ReadModelPart, values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(READ_MODEL_DEFAULTS)
    if unknown:
        raise ValueError(f"read model part {part.name!r} sets fields the read model does not have: {sorted(unknown)}")
    return dict(values)


def _facets(values: Mapping[str, Any]) -> set[tuple[str, str]]:
    facets = {(FacetKind.LABEL.value, f"{label['key']}={label['value']}") for label in values["labels"]}
    facets |= {(FacetKind.TARGET.value, target["name"]) for target in values["release_targets"]}
    facets |= {(FacetKind.COMMITTER.value, email) for email in values["recent_committers"]}
    facets |= {(FacetKind.RELEASER.value, email) for email in values["recent_releasers"]}
    for part in read_model_parts():
        facets |= {(str(kind), value) for kind, value in part.facets(values)}
    return {(kind, value[:512]) for kind, value in facets}


def _replace_facets(pipeline: Pipeline, wanted: Iterable[tuple[str, str]]) -> None:
    wanted = set(wanted)
    existing = {(kind, value): pk for pk, kind, value in pipeline.facets.values_list("pk", "kind", "value")}
    stale = [pk for key, pk in existing.items() if key not in wanted]
    if stale:
        PipelineFacet.objects.filter(pk__in=stale).delete()
    missing = [PipelineFacet(pipeline=pipeline, kind=kind, value=value) for kind, value in wanted - existing.keys()]
    if missing:
        PipelineFacet.objects.bulk_create(missing)
