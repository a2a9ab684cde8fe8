from datetime import UTC, datetime

import pytest

from builds.models import Build
from builds.services import build_create
from builds.testing import INVALID_MANIFEST, MANIFEST, make_build, make_pipeline, next_revision
from estafette.lib.errors import BadRequest
from runs.models import LogRecord, RunStatus
from runs.selectors import log_record_latest, log_steps


@pytest.mark.django_db
def test_it_numbers_builds_per_pipeline_across_branches() -> None:
    # given
    api, web = make_pipeline("api"), make_pipeline("web")

    # when
    first = make_build(api, branch="master")
    second = make_build(api, branch="feature/login")
    other = make_build(web)

    # then
    assert (first.counter, first.build_version) == (1, "1.2.1")
    assert (second.counter, second.build_version) == (2, "1.2.2-feature-login")
    assert (other.counter, other.build_version) == (1, "1.2.1")


@pytest.mark.django_db
def test_it_records_what_the_manifest_says_about_labels_and_release_targets() -> None:
    # when
    build = make_build(commits=[{"message": "Fix", "author": {"email": "ann@example.com", "name": "Ann"}}])

    # then
    stored = Build.objects.get(pk=build.pk)
    assert stored.status == RunStatus.PENDING
    assert stored.labels == [{"key": "language", "value": "python"}, {"key": "team", "value": "ci"}]
    assert stored.release_targets == [
        {"name": "staging", "actions": []},
        {
            "name": "production",
            "actions": [{"name": "deploy", "hideBadge": False}, {"name": "rollback", "hideBadge": True}],
        },
    ]
    assert stored.manifest == MANIFEST
    assert stored.triggers == [{"cron": {"schedule": "0 2 * * *"}, "runs": {"bot": "tidy", "branch": "master"}}]
    assert "labelTemplate: '{{branch}}'" in stored.manifest_with_defaults
    assert stored.commits[0]["author"]["email"] == "ann@example.com"


@pytest.mark.django_db
def test_it_keeps_a_given_version_without_taking_a_counter() -> None:
    # given
    pipeline = make_pipeline()
    make_build(pipeline)

    # when
    build = build_create(
        pipeline=pipeline,
        repo_branch="master",
        repo_revision=next_revision(),
        manifest_text=MANIFEST,
        build_version="1.2.1",
    )

    # then
    pipeline.refresh_from_db()
    assert (build.build_version, build.counter) == ("1.2.1", 1)
    assert pipeline.build_counter == 1


@pytest.mark.django_db
def test_it_records_a_failed_build_with_the_errors_for_an_invalid_manifest() -> None:
    # given a pipeline whose previous build had labels and release targets
    pipeline = make_pipeline()
    previous = make_build(pipeline, status=RunStatus.SUCCEEDED)
    now = datetime(2030, 5, 1, 8, 0, tzinfo=UTC)

    # when
    build = build_create(
        pipeline=pipeline, repo_branch="master", repo_revision=next_revision(), manifest_text=INVALID_MANIFEST, now=now
    )

    # then it failed straight away, versioned as the previous manifest versions (not as a bare "2" among 1.2.x),
    # with the previous build's labels
    assert build.status == RunStatus.FAILED
    assert build.manifest_valid is False
    assert (build.build_version, build.counter) == ("1.2.2", 2)
    assert build.labels == previous.labels
    assert build.release_targets == previous.release_targets
    # and its only log step says why
    record = log_record_latest(run_kind=Build.kind, run_id=build.pk)
    assert record is not None
    [step] = log_steps(record=record)
    assert (step["step"], step["status"], step["exitCode"]) == ("validate-manifest", "FAILED", 1)
    assert step["logLines"]
    assert all(line["streamType"] == "stderr" for line in step["logLines"])
    assert all(line["text"].startswith(".estafette.yaml:") for line in step["logLines"])
    assert step["logLines"][0]["timestamp"] == "2030-05-01T08:00:00Z"
    assert LogRecord.objects.filter(run_kind=Build.kind, run_id=build.pk).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("branch", "revision"), [("", "a" * 40), ("master", ""), ("b" * 257, "a" * 40)])
def test_it_refuses_an_empty_or_overlong_branch_or_revision(branch: str, revision: str) -> None:
    with pytest.raises(BadRequest, match="must be 1 to 256 characters"):
        build_create(pipeline=make_pipeline(), repo_branch=branch, repo_revision=revision, manifest_text=MANIFEST)
    assert not Build.objects.exists()


@pytest.mark.django_db
def test_an_invalid_manifest_of_a_new_pipeline_is_versioned_by_its_counter() -> None:
    # given a pipeline without a valid manifest so far
    pipeline = make_pipeline()
    make_build(pipeline, manifest=INVALID_MANIFEST)

    # when another invalid manifest is pushed
    build = build_create(
        pipeline=pipeline, repo_branch="master", repo_revision=next_revision(), manifest_text=INVALID_MANIFEST
    )

    # then there is no versioning to follow: the bare counter, as in Estafette
    assert (build.status, build.build_version, build.counter) == (RunStatus.FAILED, "2", 2)
