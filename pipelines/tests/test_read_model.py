from datetime import UTC, datetime, timedelta

import pytest

from builds.testing import make_build, make_pipeline
from pipelines.models import FacetKind, Pipeline
from pipelines.services import pipeline_refresh_read_model
from releases.testing import make_release
from runs.models import RunStatus

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


def facets(pipeline: Pipeline) -> set[tuple[str, str]]:
    return set(pipeline.facets.values_list("kind", "value"))


@pytest.mark.django_db
def test_it_follows_the_latest_build_and_its_status() -> None:
    # given
    pipeline = make_pipeline()
    make_build(pipeline, status=RunStatus.SUCCEEDED, now=T0)
    latest = make_build(pipeline, status=RunStatus.RUNNING, branch="develop", now=T0 + timedelta(minutes=5))

    # when
    pipeline.refresh_from_db()

    # then
    assert pipeline.latest_build_id == latest.pk
    assert pipeline.build_status == RunStatus.RUNNING
    assert pipeline.labels == latest.labels
    assert pipeline.build_count == 2
    assert (FacetKind.LABEL, "team=ci") in facets(pipeline)


@pytest.mark.django_db
def test_it_shows_the_active_release_of_every_target_and_action() -> None:
    # given
    pipeline = make_pipeline()
    old = make_build(pipeline, status=RunStatus.SUCCEEDED, now=T0)
    new = make_build(pipeline, status=RunStatus.SUCCEEDED, now=T0 + timedelta(hours=1))
    make_release(old, "staging", status=RunStatus.SUCCEEDED, now=T0 + timedelta(hours=2))
    staging = make_release(new, "staging", status=RunStatus.RUNNING, now=T0 + timedelta(hours=3))
    deploy = make_release(old, "production", action="deploy", status=RunStatus.SUCCEEDED, now=T0 + timedelta(hours=4))

    # when
    pipeline.refresh_from_db()

    # then
    targets = {target["name"]: target for target in pipeline.release_targets}
    assert targets["staging"]["activeReleaseIds"] == [staging.pk]
    assert targets["production"]["activeReleaseIds"] == [deploy.pk]
    assert targets["production"]["actions"][1] == {"name": "rollback", "hideBadge": True}
    assert pipeline.release_count == 3
    assert {(FacetKind.TARGET, "staging"), (FacetKind.TARGET, "production")} <= facets(pipeline)
    assert pipeline.last_updated_at == deploy.updated_at


@pytest.mark.django_db
def test_it_lists_who_committed_and_released_in_the_last_week() -> None:
    # given
    now = T0 + timedelta(days=30)
    pipeline = make_pipeline()
    make_build(
        pipeline, commits=[{"message": "old", "author": {"email": "old@example.com"}}], now=now - timedelta(days=8)
    )
    build = make_build(
        pipeline,
        status=RunStatus.SUCCEEDED,
        commits=[
            {"message": "a", "author": {"email": "ann@example.com"}},
            {"message": "b", "author": {"email": "bob@example.com"}},
        ],
        now=now - timedelta(days=1),
    )
    make_release(build, "staging", by="cat@example.com", now=now - timedelta(hours=1))

    # when
    refreshed = pipeline_refresh_read_model(pipeline=pipeline, now=now)

    # then
    assert refreshed.recent_committers == ["ann@example.com", "bob@example.com"]
    assert refreshed.recent_releasers == ["cat@example.com"]
    assert (FacetKind.COMMITTER, "ann@example.com") in facets(refreshed)
    assert (FacetKind.COMMITTER, "old@example.com") not in facets(refreshed)
    assert (FacetKind.RELEASER, "cat@example.com") in facets(refreshed)


@pytest.mark.django_db
def test_it_takes_median_durations_over_the_succeeded_builds_among_the_last_ten() -> None:
    # given 12 builds: the two oldest are slow and fall out of the window; a failed one never counts
    pipeline = make_pipeline()
    durations = [100, 100, 10, 20, 30, 40, 50, 60, 70, 80, 90, 999]
    for index, seconds in enumerate(durations):
        inserted = T0 + timedelta(hours=index)
        make_build(
            pipeline,
            status=RunStatus.FAILED if seconds == 999 else RunStatus.SUCCEEDED,
            now=inserted,
            started=inserted + timedelta(seconds=5),
            finished=inserted + timedelta(seconds=5 + seconds),
        )

    # when
    pipeline.refresh_from_db()

    # then the median of 10..90 is 50 s; every build waited 5 s
    assert pipeline.median_duration_ns == 50 * 10**9
    assert pipeline.median_pending_duration_ns == 5 * 10**9


@pytest.mark.django_db
def test_it_gives_the_same_read_model_when_refreshed_again() -> None:
    # given
    pipeline = make_pipeline()
    build = make_build(pipeline, status=RunStatus.SUCCEEDED, commits=[{"message": "m", "author": {"email": "a@b.c"}}])
    make_release(build, "production", action="rollback", by="a@b.c")
    pipeline.refresh_from_db()
    before = Pipeline.objects.filter(pk=pipeline.pk).values().get(), facets(pipeline)

    # when
    pipeline_refresh_read_model(pipeline=pipeline)

    # then
    assert (Pipeline.objects.filter(pk=pipeline.pk).values().get(), facets(pipeline)) == before


@pytest.mark.django_db
def test_a_status_change_leaves_the_read_model_a_full_refresh_would_compute() -> None:
    # given finished builds with durations, a release, and two pending builds (the later one is the latest)
    from builds.services import build_finish, build_start

    pipeline = make_pipeline()
    for index in range(3):
        inserted = T0 + timedelta(hours=index)
        make_build(
            pipeline,
            status=RunStatus.SUCCEEDED,
            commits=[{"message": "m", "author": {"email": f"dev{index}@example.com"}}],
            now=inserted,
            started=inserted + timedelta(seconds=5),
            finished=inserted + timedelta(seconds=30 + index),
        )
    make_release(make_build(pipeline, status=RunStatus.SUCCEEDED, now=T0 + timedelta(hours=4)), "staging", by="a@b.c")
    older = make_build(pipeline, now=T0 + timedelta(hours=5))
    latest = make_build(pipeline, now=T0 + timedelta(hours=6))

    def read_model() -> tuple[dict[str, object], set[tuple[str, str]]]:
        return Pipeline.objects.filter(pk=pipeline.pk).values().get(), facets(pipeline)

    pipeline_refresh_read_model(pipeline=pipeline)  # as of now: the window of recent releasers moved on

    # when each status change is applied, then its read model is what a full refresh computes from scratch
    changes = [
        lambda: build_start(build=latest, now=T0 + timedelta(hours=7)),
        lambda: build_start(build=older, now=T0 + timedelta(hours=7, seconds=1)),
        lambda: build_finish(build=older, status=RunStatus.SUCCEEDED, now=T0 + timedelta(hours=7, seconds=50)),
        lambda: build_finish(build=latest, status=RunStatus.FAILED, now=T0 + timedelta(hours=7, seconds=60)),
    ]
    for change in changes:
        assert change()
        after_change = read_model()
        pipeline_refresh_read_model(pipeline=pipeline)
        assert after_change == read_model()
    assert read_model()[0]["build_status"] == RunStatus.FAILED
