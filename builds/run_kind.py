"""Builds as a run kind of the run engine (``runs.registry``): registered by ``BuildsConfig.ready``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from builder.contracts import BuildRecord
from builder.manifest import Manifest
from builds.models import Build
from builds.selectors import LIST_DEFERRED, REVISION, build_latest_counters
from builds.services import build_cancel, build_finish, build_start
from estafette.lib.errors import BadRequest
from estafette.lib.ids import is_id
from pipelines.services import pipeline_refresh_read_model
from runs.registry import RUN_SORT_FIELDS, RunJob, RunKind, RunSection


class BuildKind(RunKind):
    name = Build.kind
    model = Build

    segment = "builds"
    own_filters = {"branch": "repo_branch"}
    branch_field = "repo_branch"
    sort_fields = (*RUN_SORT_FIELDS, "repo_branch", "build_version")
    list_deferred = LIST_DEFERRED
    pipeline_count_field = "build_count"
    serializer_path = "builds.serializers.BuildSerializer"
    detail_serializer_path = "builds.serializers.BuildDetailSerializer"
    # A report reads the build's status, times, manifest (its secrets mask the log) and repository; the pipeline's
    # name and id (the read model's refresh writes its columns without reading them).
    report_deferred = (
        "labels",
        "release_targets",
        "triggers",
        "commits",
        "triggered_by_events",
        "manifest_with_defaults",
        "pipeline__labels",
        "pipeline__release_targets",
        "pipeline__triggers",
        "pipeline__recent_committers",
        "pipeline__recent_releasers",
    )

    @property
    def key_help(self) -> str:
        return "the build's id, or a 40-character git revision (its latest build)"

    def find(self, runs: QuerySet[Build], key: str) -> Build | None:
        """A build by numeric id, or the latest build of a 40-character revision (Estafette's ``revisionOrId``)."""
        if is_id(key):
            return runs.filter(pk=int(key)).first()
        if REVISION.match(key):
            return runs.filter(repo_revision=key).order_by("-inserted_at", "-id").first()
        raise BadRequest(f"{key!r} is neither a build id nor a 40-character git revision")

    def log_fields(self, run: Build) -> dict[str, Any]:
        return {"repoBranch": run.repo_branch, "repoRevision": run.repo_revision, **super().log_fields(run)}

    def start(self, run: Build, now: datetime | None) -> bool:
        return build_start(build=run, now=now)

    def finish(self, run: Build, status: str, now: datetime | None) -> bool:
        return build_finish(build=run, status=status, now=now)

    def cancel(self, run: Build, now: datetime | None) -> Build:
        return build_cancel(build=run, now=now)

    def refresh(self, run: Build, now: datetime | None) -> None:
        pipeline_refresh_read_model(pipeline=run.pipeline, now=now)

    def job(self, run: Build) -> RunJob:
        return build_job(run, version=run.build_version, config={"build": BuildRecord(id=str(run.pk))})

    def section(self, run: Build, manifest: Manifest) -> RunSection:
        """A build runs the manifest's stages, cloning the repository first (ESTAFETTE.md §1.16)."""
        return RunSection(stages=manifest.stages, clone=True)

    def secrets_manifest(self, run: Build) -> str:
        return run.manifest


def build_job(build: Build, *, version: str, config: dict[str, object]) -> RunJob:
    """The job of a run from ``build`` (the build itself, or a release or bot run of it) running as ``version``."""
    if _is_latest(build):
        # The pipeline's latest build is the latest on its own branch too: both counters are its own, unread.
        max_counter = branch_counter = int(build.counter or 0)
    else:
        max_counter, branch_counter = build_latest_counters(pipeline_id=build.pipeline_id, branch=build.repo_branch)
    return RunJob(
        repo_branch=build.repo_branch,
        repo_revision=build.repo_revision,
        manifest=build.manifest,
        counter=int(build.counter or 0),
        version=version,
        max_counter=max_counter,
        max_counter_current_branch=branch_counter,
        config=config,
    )


def _is_latest(build: Build) -> bool:
    """Whether the read model of the build's pipeline, loaded with it, names it as the latest build (a build being
    dispatched usually is). Not asked of a pipeline that is not loaded: that would be a query too."""
    return Build.pipeline.is_cached(build) and build.pipeline.latest_build_id == build.pk
