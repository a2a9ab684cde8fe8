import re

import pytest

from builds.testing import make_build, make_pipeline
from estafette.lib.errors import BadRequest, Conflict, NotFound
from pipelines.services import pipeline_archive
from releases.models import BotRun, Release
from releases.services import bot_cancel, bot_create, release_cancel, release_create
from releases.testing import make_release
from runs.models import RunStatus


@pytest.mark.django_db
def test_it_releases_a_succeeded_version_to_a_target_and_action() -> None:
    # given
    build = make_build(status=RunStatus.SUCCEEDED)

    # when
    release = release_create(
        pipeline=build.pipeline, name="production", action="deploy", release_version=build.build_version
    )

    # then
    stored = Release.objects.get(pk=release.pk)
    assert (stored.status, stored.name, stored.action, stored.release_version, stored.build_id) == (
        RunStatus.PENDING,
        "production",
        "deploy",
        build.build_version,
        build.pk,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("status", [RunStatus.PENDING, RunStatus.RUNNING, RunStatus.FAILED, RunStatus.CANCELED])
def test_it_refuses_to_release_a_version_without_a_succeeded_build(status: str) -> None:
    build = make_build(status=status)
    with pytest.raises(Conflict, match=f"has no succeeded build \\(latest is {status}\\)"):
        release_create(pipeline=build.pipeline, name="staging", release_version=build.build_version)
    assert not Release.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "action", "reason"),
    [
        ("qa", "", r"'qa' is not a release target of version .* \(targets: staging, production\)"),
        ("production", "", "needs one of the actions deploy, rollback, got ''"),
        ("production", "destroy", "needs one of the actions deploy, rollback, got 'destroy'"),
        ("staging", "deploy", "'staging' has no actions, got 'deploy'"),
    ],
)
def test_it_refuses_a_target_or_action_the_manifest_does_not_define(name: str, action: str, reason: str) -> None:
    build = make_build(status=RunStatus.SUCCEEDED)
    with pytest.raises(BadRequest, match=reason):
        release_create(pipeline=build.pipeline, name=name, action=action, release_version=build.build_version)


@pytest.mark.django_db
def test_it_says_when_the_version_is_unknown_or_the_pipeline_archived() -> None:
    build = make_build(status=RunStatus.SUCCEEDED)
    with pytest.raises(NotFound, match=r"no build with version 0\.0\.7"):
        release_create(pipeline=build.pipeline, name="staging", release_version="0.0.7")
    pipeline_archive(pipeline=build.pipeline)
    with pytest.raises(Conflict, match="is archived"):
        release_create(pipeline=build.pipeline, name="staging", release_version=build.build_version)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "after"),
    [
        (RunStatus.PENDING, RunStatus.CANCELED),
        (RunStatus.RUNNING, RunStatus.CANCELING),
        (RunStatus.CANCELING, RunStatus.CANCELED),
    ],
)
def test_it_cancels_releases_like_builds(status: str, after: str) -> None:
    release = make_release(make_build(status=RunStatus.SUCCEEDED), status=status)
    release_cancel(release=release)
    assert Release.objects.get(pk=release.pk).status == after


@pytest.mark.django_db
def test_it_refuses_to_cancel_a_finished_release() -> None:
    release = make_release(make_build(status=RunStatus.SUCCEEDED), status=RunStatus.SUCCEEDED)
    with pytest.raises(Conflict, match="only pending or running releases can be canceled"):
        release_cancel(release=release)


@pytest.mark.django_db
def test_it_runs_a_bot_of_the_latest_valid_manifest_and_cancels_it() -> None:
    # given
    build = make_build(status=RunStatus.SUCCEEDED)

    # when
    run = bot_create(pipeline=build.pipeline, name="tidy")
    bot_cancel(bot_run=run)

    # then
    stored = BotRun.objects.get(pk=run.pk)
    assert (stored.name, stored.build_id, stored.status) == ("tidy", build.pk, RunStatus.CANCELED)


@pytest.mark.django_db
def test_it_refuses_an_unknown_bot_or_a_pipeline_without_builds() -> None:
    build = make_build()
    with pytest.raises(BadRequest, match=re.escape("'nightly' is not a bot of github.com/acme/api (bots: tidy)")):
        bot_create(pipeline=build.pipeline, name="nightly")
    with pytest.raises(NotFound, match="has no build with a valid manifest"):
        bot_create(pipeline=make_pipeline("empty"), name="tidy")
