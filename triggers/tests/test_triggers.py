"""Triggers fire on pipeline, release, cron, Pub/Sub and Docker events, once per (event, pipeline, trigger)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from builds.models import Build
from builds.services import build_finish, build_start
from estafette.jobs.testing import FakeJobRunner
from estafette.queue.models import OutboxMessage
from estafette.queue.testing import deliver
from integrations.git.testing import GitRepository, push
from pipelines.models import Pipeline
from pipelines.services import pipeline_archive
from releases.models import BotRun, Release
from releases.services import release_finish, release_start
from runs.models import LogStep, RunStatus
from runs.testing import config_of
from triggers.consumers import MATCH_CONSUMERS
from triggers.testing import settle

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("intake")]

UPSTREAM = """\
stages:
  build:
    image: alpine
releases:
  production:
    clone: true
    triggers:
    - pipeline:
        name: self
        branch: main
    stages:
      deploy:
        image: alpine
"""


def downstream(trigger: str) -> str:
    return f"triggers:\n{trigger}\nstages:\n  build:\n    image: alpine\n"


@pytest.fixture
def api(tmp_path: Path) -> GitRepository:
    repository = GitRepository(tmp_path / "acme" / "api")
    repository.commit({".estafette.yaml": UPSTREAM}, "api")
    return repository


def make_downstream(tmp_path: Path, trigger: str, name: str = "web") -> GitRepository:
    """A pipeline with ``trigger`` that has built once (a builds action rebuilds its latest build)."""
    repository = GitRepository(tmp_path / "acme" / name)
    repository.commit({".estafette.yaml": downstream(trigger)}, name)
    push(repository)
    settle()
    return repository


def finish(build: Build, status: str = RunStatus.SUCCEEDED) -> None:
    assert build_start(build=build)
    assert build_finish(build=build, status=status)


def builds_of(name: str) -> list[Build]:
    return list(Build.objects.filter(pipeline__repo_name=name).order_by("id"))


PIPELINE_TRIGGER = "- pipeline:\n    name: local/acme/api\n    branch: main"


def test_a_pipeline_trigger_builds_the_second_pipeline_after_the_first_succeeds(
    api: GitRepository, tmp_path: Path, job_runner: FakeJobRunner
) -> None:
    # given a web pipeline triggered by api's builds on main
    web = make_downstream(tmp_path, PIPELINE_TRIGGER)
    (first_web,) = builds_of("web")
    push(api)
    settle()
    (api_build,) = builds_of("api")

    # when api's build starts: nothing yet
    assert build_start(build=api_build)
    settle()
    assert len(builds_of("web")) == 1

    # when it succeeds
    assert build_finish(build=api_build, status=RunStatus.SUCCEEDED)
    settle()

    # then web builds its latest revision again, with a new version, recording why
    first, second = builds_of("web")
    assert (second.repo_revision, second.repo_branch) == (web.head(), "main")
    assert (first.build_version, second.build_version) == ("0.0.1", "0.0.2")
    assert second.triggered_by_events == [
        {
            "fired": True,
            "pipeline": {
                "buildVersion": "0.0.1",
                "repoSource": "local",
                "repoOwner": "acme",
                "repoName": "api",
                "repoBranch": "main",
                "status": "succeeded",
                "event": "finished",
            },
        }
    ]
    assert config_of(job_runner.started[-1]).trigger_events == tuple(second.triggered_by_events)
    assert first_web.pk == first.pk


def test_a_failed_build_does_not_fire_a_trigger_for_succeeded_builds(api: GitRepository, tmp_path: Path) -> None:
    make_downstream(tmp_path, PIPELINE_TRIGGER)
    push(api)
    settle()

    finish(builds_of("api")[0], RunStatus.FAILED)
    settle()

    assert len(builds_of("web")) == 1


def test_the_same_event_fires_a_trigger_once(api: GitRepository, tmp_path: Path) -> None:
    # given web triggered by api, and api's finished event handled once
    make_downstream(tmp_path, PIPELINE_TRIGGER)
    push(api)
    settle()
    finish(builds_of("api")[0])
    event = OutboxMessage.objects.get(subject="estafette.events.pipeline", dedup_key__endswith="-finished")
    settle()

    # when the event is delivered again, to a fresh consumer (as after a restart)
    deliver(MATCH_CONSUMERS["pipeline"](), event.payload.encode(), event_id=event.dedup_key)
    settle()

    # then web built once more, not twice
    assert len(builds_of("web")) == 2


def test_an_archived_pipeline_is_not_triggered(api: GitRepository, tmp_path: Path) -> None:
    make_downstream(tmp_path, PIPELINE_TRIGGER)
    pipeline_archive(pipeline=Pipeline.objects.get(repo_name="web"))
    push(api)
    settle()

    finish(builds_of("api")[0])
    settle()

    assert len(builds_of("web")) == 1


def test_a_release_trigger_releases_the_same_version_with_its_own_stages(
    api: GitRepository, job_runner: FakeJobRunner
) -> None:
    # given api, whose production target releases every succeeded main build (pipeline self)
    push(api)
    settle()
    build = builds_of("api")[0]

    # when the build succeeds
    finish(build)
    settle()

    # then that version is released to production, and its job runs the target's stages after a clone
    release = Release.objects.get()
    assert (release.name, release.release_version, release.build_id) == ("production", build.build_version, build.pk)
    config = config_of(job_runner.started[-1])
    assert config.job_type == "release"
    assert config.release is not None and (config.release.id, config.release.name) == (str(release.pk), "production")
    assert [stage["name"] for stage in config.stages] == ["git-clone", "deploy"]
    assert (config.git.repo_revision, config.version.version) == (build.repo_revision, build.build_version)
    assert config.ci_server.status_url.endswith(f"/api/builder/v1/release/{release.pk}/status")


def test_a_finished_release_triggers_another_pipeline(
    api: GitRepository, tmp_path: Path, job_runner: FakeJobRunner
) -> None:
    # given web, built on api's production releases
    make_downstream(tmp_path, "- release:\n    name: local/acme/api\n    target: production")
    push(api)
    settle()
    finish(builds_of("api")[0])
    settle()
    release = Release.objects.get()

    # when the release succeeds
    assert release_start(release=release)
    settle()
    assert len(builds_of("web")) == 1  # started is not finished
    assert release_finish(release=release, status=RunStatus.SUCCEEDED)
    settle()

    # then
    assert len(builds_of("web")) == 2
    assert builds_of("web")[1].triggered_by_events[0]["release"]["target"] == "production"


def test_a_release_trigger_for_a_version_without_a_build_releases_nothing(api: GitRepository, tmp_path: Path) -> None:
    # given web, whose staging target is released version 9.9.9 whenever api succeeds
    repository = GitRepository(tmp_path / "acme" / "web")
    repository.commit(
        {
            ".estafette.yaml": (
                "stages: {build: {image: alpine}}\n"
                "releases:\n  staging:\n    triggers:\n    - pipeline: {name: local/acme/api}\n"
                "      releases: {version: 9.9.9}\n    stages: {deploy: {image: alpine}}\n"
            )
        }
    )
    push(repository)
    settle()
    push(api)
    settle()

    finish(builds_of("api")[0])
    settle()

    assert not Release.objects.filter(pipeline__repo_name="web").exists()


def test_a_push_fires_the_git_triggers_of_other_pipelines_only(api: GitRepository, tmp_path: Path) -> None:
    # given web, built on pushes to api's main, and api with a git trigger on itself
    make_downstream(tmp_path, "- git:\n    repository: local/acme/api\n    branch: main")
    api.commit({".estafette.yaml": downstream("- git:\n    repository: local/acme/api")}, "self trigger")

    # when api is pushed on main, then on another branch
    push(api)
    settle()
    api.checkout("feature/y")
    api.commit({"README": "y"})
    push(api, branch="feature/y")
    settle()

    # then web built once more (for main only), and api only from its pushes
    web_builds = builds_of("web")
    assert len(web_builds) == 2
    assert web_builds[1].triggered_by_events == [
        {"fired": True, "git": {"event": "push", "repository": "local/acme/api", "branch": "main"}}
    ]
    assert len(builds_of("api")) == 2


CRON_TRIGGER = "- cron:\n    schedule: '*/5 * * * *'"


@pytest.mark.parametrize(("time", "builds"), [("2024-05-01T12:05:00Z", 2), ("2024-05-01T12:05:59Z", 2)])
def test_a_cron_trigger_fires_in_its_minute(tmp_path: Path, time: str, builds: int) -> None:
    make_downstream(tmp_path, CRON_TRIGGER)

    deliver(MATCH_CONSUMERS["cron"](), {"time": time}, event_id=f"cron-{time}")
    settle()

    assert len(builds_of("web")) == builds
    assert builds_of("web")[-1].triggered_by_events == [{"fired": True, "cron": {"time": time}}]


@pytest.mark.parametrize("time", ["2024-05-01T12:04:59Z", "2024-05-01T12:06:00Z", "2024-05-01T13:07:00Z"])
def test_a_cron_trigger_does_not_fire_in_other_minutes(tmp_path: Path, time: str) -> None:
    make_downstream(tmp_path, CRON_TRIGGER)

    deliver(MATCH_CONSUMERS["cron"](), {"time": time}, event_id=f"cron-{time}")
    settle()

    assert len(builds_of("web")) == 1


def test_a_bot_cron_trigger_runs_the_bot(tmp_path: Path, job_runner: FakeJobRunner) -> None:
    # given a pipeline with a bot run every night at 02:00 UTC
    repository = GitRepository(tmp_path / "acme" / "tidy")
    repository.commit(
        {
            ".estafette.yaml": (
                "stages: {build: {image: alpine}}\n"
                "bots:\n  tidy:\n    triggers:\n    - cron: {schedule: '0 2 * * *'}\n"
                "    stages: {tidy: {image: alpine, commands: [echo tidy]}}\n"
            )
        }
    )
    push(repository)
    settle()

    deliver(MATCH_CONSUMERS["cron"](), {"time": "2024-05-02T02:00:10Z"}, event_id="cron-2024-05-02T02:00Z")
    settle()

    run = BotRun.objects.get()
    assert run.name == "tidy"
    config = config_of(job_runner.started[-1])
    assert (config.job_type, [stage["name"] for stage in config.stages]) == ("bot", ["tidy"])  # no clone: false


def test_a_pubsub_push_fires_pubsub_triggers(tmp_path: Path, settings) -> None:
    # given
    settings.PUBSUB_TOKEN = "pubsub-token"
    make_downstream(tmp_path, "- pubsub:\n    project: acme-.+\n    topic: releases")
    body = {
        "message": {"attributes": {"k": "v"}, "data": "aGk=", "messageId": "42", "publishTime": "2024-05-01T12:00:00Z"},
        "subscription": "projects/acme-prod/subscriptions/releases~estafette-ci-pubsub-trigger",
    }

    # when
    response = APIClient().post("/api/integrations/pubsub/events?token=pubsub-token", body, format="json")
    settle()

    # then
    assert response.status_code == 202, response.content
    assert len(builds_of("web")) == 2
    event = builds_of("web")[1].triggered_by_events[0]
    assert event["pubsub"]["project"] == "acme-prod"
    assert event["pubsub"]["topic"] == "releases"
    assert event["pubsub"]["message"]["messageId"] == "42"


def test_a_docker_image_push_fires_docker_triggers(tmp_path: Path, settings) -> None:
    # given
    settings.DOCKER_WEBHOOK_TOKEN = "registry-token"
    make_downstream(tmp_path, "- docker:\n    image: acme/base\n    tag: '1\\..+'")
    envelope = {
        "events": [
            {"id": "e1", "action": "push", "target": {"repository": "acme/base", "digest": "sha256:1"}},
            {"id": "e2", "action": "push", "target": {"repository": "acme/base", "tag": "1.4"}},
            {"id": "e3", "action": "push", "target": {"repository": "acme/other", "tag": "1.4"}},
        ]
    }

    # when
    response = APIClient().post(
        "/api/integrations/docker/events",
        data=json.dumps(envelope),
        content_type="application/vnd.docker.distribution.events.v1+json",
        HTTP_AUTHORIZATION="Bearer registry-token",
    )
    settle()

    # then: only the tagged push of the matching image fired
    assert response.status_code == 202, response.content
    assert response.json() == {"ids": ["docker-e2", "docker-e3"]}
    assert len(builds_of("web")) == 2
    assert builds_of("web")[1].triggered_by_events[0]["docker"] == {"event": "push", "image": "acme/base", "tag": "1.4"}


NAMED_TRIGGER = "- name: upstream\n  pipeline:\n    name: local/acme/api\n    branch: main"


def test_a_named_trigger_exposes_the_last_succeeded_build_to_every_job(
    api: GitRepository, tmp_path: Path, job_runner: FakeJobRunner
) -> None:
    # given api built successfully once
    push(api)
    settle()
    api_build = builds_of("api")[0]
    finish(api_build)
    settle()

    # when web, which names api's builds "upstream", is pushed
    make_downstream(tmp_path, NAMED_TRIGGER)

    # then its job gets a (not fired) event for api's build, next to the push
    config = config_of(job_runner.started[-1])
    assert config.job_type == "build"
    assert config.trigger_events[0]["git"]["repository"] == "local/acme/web"
    assert config.trigger_events[1] == {
        "name": "upstream",
        "pipeline": {
            "buildVersion": api_build.build_version,
            "repoSource": "local",
            "repoOwner": "acme",
            "repoName": "api",
            "repoBranch": "main",
            "status": "succeeded",
            "event": "finished",
        },
    }


def test_a_named_trigger_without_a_succeeded_build_cancels_the_job_saying_why(
    tmp_path: Path, job_runner: FakeJobRunner
) -> None:
    make_downstream(tmp_path, NAMED_TRIGGER)

    (build,) = builds_of("web")
    assert build.status == RunStatus.CANCELED
    assert job_runner.started == []
    assert list(LogStep.objects.values_list("name", "status")) == [("validate-triggers", "FAILED")]
