"""A GitHub push through the consumers (no NATS: ``settle``) against the fake GitHub: the manifest read through the
contents API at the pushed revision, the build with the pushed commits, the job's clone token, the token cache."""

from __future__ import annotations

import json
import logging

import pytest
from rest_framework.test import APIClient

from builds.models import Build
from estafette.jobs.testing import FakeJobRunner
from integrations.github.testing import FakeGitHub, FakeRepository, delivery_headers, on_host, webhook_example
from releases.models import BotRun
from runs.testing import config_of, opened_credential
from triggers.testing import settle

pytestmark = pytest.mark.django_db
MANIFEST = "stages:\n  test:\n    image: alpine:3.20\n    commands: [echo hi]\n"


def deliver(event: str, payload: dict, *, delivery: str) -> None:
    body = json.dumps(payload).encode()
    response = APIClient().post(
        "/api/integrations/github/events",
        data=body,
        content_type="application/json",
        **delivery_headers(event, body, delivery=delivery),
    )
    assert response.status_code == 202, response.content


@pytest.fixture
def repository(github: FakeGitHub) -> FakeRepository:
    return github.add_repository("Codertocat", "Hello-World", installation=31)


def test_a_push_builds_the_revision_with_its_manifest_and_commits(
    github: FakeGitHub, repository: FakeRepository, job_runner: FakeJobRunner
) -> None:
    # given a revision with a manifest on the fake GitHub
    revision = repository.commit({".estafette.yaml": MANIFEST})

    # when GitHub delivers its push
    deliver("push", repository.push_delivery(github, revision), delivery="push-1")
    settle()

    # then the pipeline of the repository has a build of that revision, with the delivery's commits
    build = Build.objects.select_related("pipeline").get()
    assert build.pipeline.full_name == "127.0.0.1/Codertocat/Hello-World"
    assert build.pipeline.repo_url == github.clone_url("Codertocat", "Hello-World")
    assert (build.repo_branch, build.repo_revision, build.manifest) == ("master", revision, MANIFEST)
    assert build.commits == [
        {
            "message": "Initial commit",
            "author": {
                "email": "21031067+Codertocat@users.noreply.github.com",
                "name": "Codertocat",
                "username": "Codertocat",
            },
        }
    ]
    # and the manifest was read through the contents API with an installation token, at the revision
    contents = [request for request in github.requests if "/contents/" in request.path]
    assert [request.path for request in contents] == ["/repos/Codertocat/Hello-World/contents/.estafette.yaml"]


def test_the_job_clones_with_an_installation_token_that_is_stored_nowhere(
    github: FakeGitHub, repository: FakeRepository, job_runner: FakeJobRunner
) -> None:
    revision = repository.commit({".estafette.yaml": MANIFEST})

    deliver("push", repository.push_delivery(github, revision), delivery="push-1")
    settle()

    (spec,) = job_runner.started
    (credential,) = [c for c in config_of(spec).credentials if c.type == "github-api-token"]
    sealed = credential.additional_properties["token"]
    assert sealed.startswith("estafette.secret(")  # the configuration a runner writes down holds no usable token
    token = opened_credential(spec, sealed)
    assert github.valid_token(token)
    assert config_of(spec).git.repo_url == github.clone_url("Codertocat", "Hello-World")
    build = Build.objects.get()
    assert token not in json.dumps([build.manifest, build.commits, build.triggered_by_events])


def test_a_revision_without_a_manifest_makes_no_build(
    github: FakeGitHub, repository: FakeRepository, caplog: pytest.LogCaptureFixture
) -> None:
    revision = repository.commit({"README.md": "no manifest here"})

    with caplog.at_level(logging.INFO):
        deliver("push", repository.push_delivery(github, revision), delivery="push-1")
        settle()

    assert not Build.objects.exists()
    assert "has no .estafette.yaml" in caplog.text


def test_installation_tokens_are_reused_until_shortly_before_they_expire(
    github: FakeGitHub, repository: FakeRepository, job_runner: FakeJobRunner
) -> None:
    for number in range(2):
        revision = repository.commit({".estafette.yaml": MANIFEST}, message=f"change {number}")
        deliver("push", repository.push_delivery(github, revision), delivery=f"push-{number}")
        settle()

    assert Build.objects.count() == 2
    assert sum(request.path.endswith("/access_tokens") for request in github.requests) == 1


def test_a_token_about_to_expire_is_renewed(
    github: FakeGitHub, repository: FakeRepository, job_runner: FakeJobRunner
) -> None:
    github.token_lifetime = 4 * 60  # less than the margin: never reused
    for number in range(2):
        revision = repository.commit({".estafette.yaml": MANIFEST}, message=f"change {number}")
        deliver("push", repository.push_delivery(github, revision), delivery=f"push-{number}")
        settle()

    assert sum(request.path.endswith("/access_tokens") for request in github.requests) >= 2


BOT_MANIFEST = """\
stages:
  test:
    image: alpine:3.20
    commands: [echo hi]
bots:
  triage:
    triggers:
    - github: {events: [issues]}
    stages:
      label:
        image: alpine:3.20
        commands: [echo triage]
"""


def test_any_event_of_the_repository_runs_the_bots_listening_to_it(
    github: FakeGitHub, repository: FakeRepository, job_runner: FakeJobRunner
) -> None:
    # given the pipeline built once, its manifest with a bot for GitHub's issues events (of its own repository)
    revision = repository.commit({".estafette.yaml": BOT_MANIFEST})
    deliver("push", repository.push_delivery(github, revision), delivery="push-1")
    settle()

    # when GitHub delivers an issue opened on the repository
    issue = on_host(webhook_example("issues", lambda e: e.get("action") == "opened"), github.url)
    issue["repository"].update(
        full_name="Codertocat/Hello-World",
        html_url=f"{github.url}/Codertocat/Hello-World",
        clone_url=github.clone_url("Codertocat", "Hello-World"),
    )
    deliver("issues", issue, delivery="issue-1")
    settle()

    # then the bot ran, with the delivery as its event
    (bot_run,) = BotRun.objects.all()
    assert bot_run.name == "triage"
    (event,) = bot_run.triggered_by_events
    assert event["github"]["event"] == "issues"
    assert event["github"]["repository"] == "127.0.0.1/Codertocat/Hello-World"
    assert event["github"]["delivery"] == "issue-1"
    assert json.loads(event["github"]["payload"])["action"] == "opened"
