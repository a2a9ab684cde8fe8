import pytest

from builds.models import Build
from builds.services import build_cancel, build_rebuild
from builds.testing import INVALID_MANIFEST, make_build, make_pipeline
from estafette.lib.errors import Conflict, NotFound
from pipelines.services import pipeline_archive
from runs.events import manual_event
from runs.models import RunStatus


@pytest.mark.django_db
@pytest.mark.parametrize("status", [RunStatus.FAILED, RunStatus.CANCELED])
def test_it_rebuilds_a_version_whose_builds_all_failed_or_were_canceled(status: str) -> None:
    # given
    pipeline = make_pipeline()
    failed = make_build(pipeline, status=status, branch="feature/x")
    make_build(pipeline, status=RunStatus.SUCCEEDED)

    # when
    rebuild = build_rebuild(
        pipeline=pipeline, build_version=failed.build_version, triggered_by_events=[manual_event("ann@example.com")]
    )

    # then a new pending build of the same version, branch and revision exists; no counter was taken
    assert rebuild.pk != failed.pk
    assert (rebuild.status, rebuild.build_version, rebuild.counter) == (
        RunStatus.PENDING,
        failed.build_version,
        failed.counter,
    )
    assert (rebuild.repo_branch, rebuild.repo_revision, rebuild.manifest) == (
        failed.repo_branch,
        failed.repo_revision,
        failed.manifest,
    )
    assert rebuild.triggered_by_events == [{"fired": True, "manual": {"userID": "ann@example.com"}}]
    pipeline.refresh_from_db()
    assert pipeline.build_counter == 2
    assert pipeline.latest_build_id == rebuild.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    "other_status", [RunStatus.PENDING, RunStatus.RUNNING, RunStatus.CANCELING, RunStatus.SUCCEEDED]
)
def test_it_refuses_to_rebuild_a_version_with_a_build_that_did_not_fail(other_status: str) -> None:
    # given a failed build and another build of the same version in other_status
    pipeline = make_pipeline()
    failed = make_build(pipeline, status=RunStatus.FAILED)
    again = build_rebuild(pipeline=pipeline, build_version=failed.build_version)
    if other_status != RunStatus.PENDING:
        Build.objects.filter(pk=again.pk).update(status=other_status)

    # when / then
    with pytest.raises(Conflict, match=f"has a {other_status} build"):
        build_rebuild(pipeline=pipeline, build_version=failed.build_version)
    assert Build.objects.filter(pipeline=pipeline).count() == 2


@pytest.mark.django_db
def test_it_says_which_version_is_unknown_or_that_the_pipeline_is_archived() -> None:
    pipeline = make_pipeline()
    failed = make_build(pipeline, status=RunStatus.FAILED)
    with pytest.raises(NotFound, match=r"no build with version 9\.9\.9"):
        build_rebuild(pipeline=pipeline, build_version="9.9.9")
    pipeline_archive(pipeline=pipeline)
    with pytest.raises(Conflict, match="archived"):
        build_rebuild(pipeline=pipeline, build_version=failed.build_version)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "after"),
    [
        (RunStatus.PENDING, RunStatus.CANCELED),
        (RunStatus.RUNNING, RunStatus.CANCELING),
        (RunStatus.CANCELING, RunStatus.CANCELED),
    ],
)
def test_it_cancels_pending_and_running_builds_as_estafette_does(status: str, after: str) -> None:
    # given
    build = make_build(status=status)

    # when
    build_cancel(build=build)

    # then
    build.pipeline.refresh_from_db()
    assert Build.objects.get(pk=build.pk).status == after
    assert build.pipeline.build_status == after


@pytest.mark.django_db
@pytest.mark.parametrize("status", [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED])
def test_it_refuses_to_cancel_a_finished_build(status: str) -> None:
    build = make_build(status=status)
    with pytest.raises(Conflict, match=f"is {status}; only pending or running builds can be canceled"):
        build_cancel(build=build)
    assert Build.objects.get(pk=build.pk).status == status


@pytest.mark.django_db
def test_it_refuses_to_rebuild_a_version_built_from_an_invalid_manifest() -> None:
    # given a pipeline of 1.2.x builds whose latest push had an invalid manifest
    pipeline = make_pipeline()
    make_build(pipeline, status=RunStatus.SUCCEEDED)
    invalid = make_build(pipeline, manifest=INVALID_MANIFEST)
    assert (invalid.status, invalid.build_version) == (RunStatus.FAILED, "1.2.2")

    # when it is rebuilt, then it is refused: it would fail the same way, as a second build of the same version
    with pytest.raises(Conflict, match="invalid manifest"):
        build_rebuild(pipeline=pipeline, build_version=invalid.build_version)
    assert Build.objects.filter(build_version=invalid.build_version).count() == 1
