"""Commit statuses on the fake GitHub from the run events (``triggers.reports`` → ``GitHubForge.report``): pending
then the end, for builds and releases, retried when GitHub cannot be reached, never in a build's way."""

from __future__ import annotations

import pytest
from django.conf import settings

from builds.testing import make_build, make_pipeline
from estafette.jobs.testing import FakeJobRunner
from estafette.queue.testing import Verdict, deliver
from integrations.github.testing import FakeGitHub
from releases.services import release_create, release_finish, release_start
from runs.models import RunStatus
from triggers.consumers import BuildReportConsumer
from triggers.testing import settle

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline(github: FakeGitHub, job_runner: FakeJobRunner):
    github.add_repository("acme", "api")
    return make_pipeline("api", owner="acme", source="127.0.0.1")


def test_a_build_shows_pending_then_success_on_its_commit(github: FakeGitHub, pipeline) -> None:
    build = make_build(pipeline, status=RunStatus.SUCCEEDED)

    settle()

    assert github.status_states() == [("estafette", "pending"), ("estafette", "success")]
    last = github.statuses[-1]
    assert last["sha"] == build.repo_revision
    assert last["repository"] == "acme/api"
    assert last["target_url"] == f"{settings.BASE_URL}/pipelines/127.0.0.1/acme/api/builds/{build.pk}/logs"
    assert last["description"] == f"Estafette build {build.build_version} succeeded"


@pytest.mark.parametrize(("status", "states"), [("failed", ["pending", "failure"]), ("canceled", ["error"])])
def test_a_failed_or_canceled_build_shows_as_failure_or_error(
    github: FakeGitHub, pipeline, status: str, states: list[str]
) -> None:
    make_build(pipeline, status=status)

    settle()

    assert [state for _, state in github.status_states()] == states


def test_a_release_shows_under_its_own_context(github: FakeGitHub, pipeline) -> None:
    build = make_build(pipeline, status=RunStatus.SUCCEEDED)
    settle()
    release = release_create(pipeline=pipeline, name="staging", release_version=build.build_version)
    assert release_start(release=release)
    assert release_finish(release=release, status=RunStatus.SUCCEEDED)

    settle()

    assert github.status_states()[2:] == [
        ("estafette/release/staging", "pending"),
        ("estafette/release/staging", "success"),
    ]
    assert github.statuses[-1]["sha"] == build.repo_revision
    assert github.statuses[-1]["target_url"].endswith(f"/releases/{release.pk}/logs")


def test_a_github_that_cannot_be_reached_is_retried_and_the_build_is_not_held(github: FakeGitHub, pipeline) -> None:
    # given GitHub failing the next status
    github.fail("/statuses/", 502)
    build = make_build(pipeline, status=RunStatus.RUNNING)

    # when the started event is handled: it is to be retried later, and the build goes on
    outcomes = [outcome for durable, _, outcome in settle() if durable == "triggers-build-report"]
    assert [outcome.verdict for outcome in outcomes] == [Verdict.RETRY]
    assert outcomes[0].delay_seconds > 0
    build.refresh_from_db()
    assert build.status == RunStatus.RUNNING

    # then its redelivery sets the status
    assert (
        deliver(BuildReportConsumer(), {"pipeline": {}}, event_id=f"build-{build.pk}-started", deliveries=2).verdict
        is Verdict.ACK
    )
    assert github.status_states() == [("estafette", "pending")]


def test_a_status_github_refuses_for_good_is_a_dead_letter_at_once(github: FakeGitHub, pipeline) -> None:
    github.fail("/statuses/", 422)
    make_build(pipeline, status=RunStatus.RUNNING)

    outcomes = [outcome for durable, _, outcome in settle() if durable == "triggers-build-report"]

    assert [outcome.verdict for outcome in outcomes] == [Verdict.TERMINATE]


def test_a_redelivered_start_of_a_run_that_ended_since_sends_nothing(github: FakeGitHub, pipeline) -> None:
    build = make_build(pipeline, status=RunStatus.SUCCEEDED)
    settle()

    deliver(BuildReportConsumer(), {"pipeline": {}}, event_id=f"build-{build.pk}-started", deliveries=2)

    assert github.status_states() == [("estafette", "pending"), ("estafette", "success")]


def test_pipelines_of_other_hosts_get_no_status(github: FakeGitHub, job_runner: FakeJobRunner) -> None:
    make_build(make_pipeline("api", owner="acme", source="gitlab.example"), status=RunStatus.SUCCEEDED)

    settle()

    assert github.statuses == []


def test_repositories_the_app_is_not_installed_on_get_no_status(github: FakeGitHub, job_runner: FakeJobRunner) -> None:
    make_build(make_pipeline("other", owner="acme", source="127.0.0.1"), status=RunStatus.SUCCEEDED)

    settle()

    assert github.statuses == []
