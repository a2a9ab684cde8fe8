"""The read model a build's creation or status change leaves is the one a full refresh computes from scratch.

Creation and status changes update the pipeline's read model incrementally (``builds.read_model``); the full refresh
(``pipelines.services.pipeline_refresh_read_model``) is the reference. After every event of a sequence — creations
with other labels, targets, triggers and committers, an invalid manifest, a creation dated before the latest build,
releases, status changes of older builds after newer ones, cancels and a rebuild — and after concurrent creations and
status changes on real threads, the stored read model and its facets must equal what a full refresh then writes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from builds.models import Build
from builds.services import build_cancel, build_create, build_finish, build_rebuild, build_start
from builds.testing import INVALID_MANIFEST, MANIFEST, make_pipeline, next_revision
from pipelines.models import Pipeline
from pipelines.services import pipeline_refresh_read_model
from releases.testing import make_release
from runs.models import RunStatus

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
# Builds created while as many others start and finish. More contend for the pipeline's row longer than a status
# change's retries last on PostgreSQL (each racer's transaction writes it).
RACERS = 4

OTHER_MANIFEST = """\
labels:
  team: platform
version:
  semver:
    major: 1
    minor: 2
stages:
  build:
    image: alpine:3.20
    commands:
    - make
releases:
  canary:
    stages:
      deploy:
        image: extensions/deploy:stable
triggers:
- pipeline:
    name: github.com/acme/library
    branch: main
"""

ReadModel = tuple[dict[str, Any], set[tuple[str, str]]]


def read_model(pipeline: Pipeline) -> ReadModel:
    return Pipeline.objects.filter(pk=pipeline.pk).values().get(), set(pipeline.facets.values_list("kind", "value"))


def assert_as_refreshed(pipeline: Pipeline, *, now: datetime | None = None) -> ReadModel:
    """The stored read model equals what a full refresh (as of ``now``) computes; returns it."""
    incremental = read_model(pipeline)
    pipeline_refresh_read_model(pipeline=Pipeline.objects.get(pk=pipeline.pk), now=now)
    assert incremental == read_model(pipeline)
    return incremental


def commit_by(email: str) -> list[dict[str, Any]]:
    return [{"message": "change", "author": {"email": email, "name": "", "username": ""}}]


@pytest.mark.django_db
def test_every_event_of_a_sequence_leaves_the_read_model_a_full_refresh_computes() -> None:
    # given a pipeline whose builds and releases all happen within the week before NOW
    pipeline = make_pipeline()
    now = T0
    builds: dict[str, Build] = {}

    def at(minutes: float) -> datetime:
        return T0 + timedelta(minutes=minutes)

    def create(key: str, *, minutes: float, manifest: str = MANIFEST, email: str = "ann@example.com") -> bool:
        builds[key] = build_create(
            pipeline=Pipeline.objects.get(pk=pipeline.pk),
            repo_branch="master",
            repo_revision=next_revision(),
            manifest_text=manifest,
            commits=commit_by(email),
            now=at(minutes),
        )
        return True

    events: list[tuple[str, Callable[[], object]]] = [
        ("first build", lambda: create("a", minutes=0)),
        ("a second one by someone else", lambda: create("b", minutes=1, email="bob@example.com")),
        ("the older one starts", lambda: build_start(build=builds["a"], now=at(2))),
        ("the latest one starts", lambda: build_start(build=builds["b"], now=at(3))),
        ("the latest one succeeds", lambda: build_finish(build=builds["b"], status=RunStatus.SUCCEEDED, now=at(4))),
        ("a release of it", lambda: make_release(builds["b"], "staging", by="cat@example.com", now=at(5))),
        ("other labels, targets and triggers", lambda: create("c", minutes=6, manifest=OTHER_MANIFEST)),
        ("back to the first targets", lambda: create("d", minutes=7, email="dan@example.com")),
        ("an invalid manifest", lambda: create("e", minutes=8, manifest=INVALID_MANIFEST)),
        ("the older one fails after", lambda: build_finish(build=builds["a"], status=RunStatus.FAILED, now=at(9))),
        ("a creation dated before the latest", lambda: create("f", minutes=7, email="eve@example.com")),
        ("a pending one is canceled", lambda: build_cancel(build=builds["d"], now=at(10))),
        ("a pending one starts", lambda: build_start(build=builds["c"], now=at(11))),
        ("a running one is asked to cancel", lambda: build_cancel(build=builds["c"], now=at(12))),
        ("it ends canceled", lambda: build_finish(build=builds["c"], status=RunStatus.CANCELED, now=at(13))),
        ("the canceled version again", lambda: build_rebuild(pipeline=pipeline, build_version="1.2.4", now=at(14))),
        ("another release", lambda: make_release(builds["b"], "production", action="deploy", now=at(15))),
        ("a later build", lambda: create("g", minutes=16, email="bob@example.com")),
        ("a release after it", lambda: make_release(builds["b"], "staging", now=at(17))),
        ("the latest build, dated before that release", lambda: create("h", minutes=16.5)),
    ]

    # when each event happens, then its read model is what a full refresh computes
    for name, event in events:
        event()
        now = max(now, at(17))
        try:
            assert_as_refreshed(pipeline, now=now)
        except AssertionError as error:
            raise AssertionError(f"after {name!r}: {error}") from None

    final, facets = read_model(pipeline)
    assert final["build_count"] == 9
    assert final["latest_build_id"] == builds["h"].pk
    assert final["last_updated_at"] == at(17)
    assert ("committer", "eve@example.com") in facets


@pytest.mark.django_db
def test_a_creation_that_changes_nothing_else_writes_no_facet() -> None:
    # given
    pipeline = make_pipeline()
    build_create(pipeline=pipeline, repo_branch="master", repo_revision=next_revision(), manifest_text=MANIFEST)
    facet_ids = set(pipeline.facets.values_list("pk", flat=True))

    # when the same manifest by the same (no) committer is built again
    build_create(pipeline=pipeline, repo_branch="master", repo_revision=next_revision(), manifest_text=MANIFEST)

    # then the facet rows are the same rows
    assert set(pipeline.facets.values_list("pk", flat=True)) == facet_ids
    assert_as_refreshed(pipeline)


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_and_status_changes_leave_the_read_model_a_full_refresh_computes() -> None:
    # given builds to start and finish while new ones are created, each on its own thread and connection
    pipeline = make_pipeline("busy")
    existing = [
        build_create(
            pipeline=pipeline,
            repo_branch="master",
            repo_revision=next_revision(),
            manifest_text=MANIFEST if index % 2 else OTHER_MANIFEST,
            commits=commit_by(f"dev{index}@example.com"),
        )
        for index in range(RACERS)
    ]
    start = threading.Barrier(2 * RACERS)

    def create(index: int) -> None:
        try:
            start.wait(timeout=60)
            build_create(
                pipeline=Pipeline.objects.get(pk=pipeline.pk),
                repo_branch="master",
                repo_revision=next_revision(),
                manifest_text=OTHER_MANIFEST if index % 3 else MANIFEST,
                commits=commit_by(f"new{index}@example.com"),
            )
        finally:
            connection.close()

    def run(build: Build) -> None:
        try:
            start.wait(timeout=60)
            fresh = Build.objects.select_related("pipeline").get(pk=build.pk)
            assert build_start(build=fresh)
            assert build_finish(build=fresh, status=RunStatus.SUCCEEDED)
        finally:
            connection.close()

    # when
    with ThreadPoolExecutor(max_workers=2 * RACERS) as pool:
        futures = [pool.submit(create, index) for index in range(RACERS)] + [pool.submit(run, b) for b in existing]
        for future in futures:
            future.result()

    # then
    stored, _ = assert_as_refreshed(pipeline)
    assert stored["build_count"] == 2 * RACERS
    assert stored["median_duration_ns"] is not None
