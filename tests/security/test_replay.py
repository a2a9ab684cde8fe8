"""Attacks on ``GET …/builds/{id}/replay`` (what ``python -m builder replay`` reads): no token, a caller who cannot
see the pipeline, and an answer that must hold no secret — no decrypted envelope, credential, job token or clone
token (the server never decrypts anything for a replay)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from builds.testing import make_build
from estafette.access.services import account_of
from estafette.access.tests.conftest import Team, team  # noqa: F401 — the fixture
from estafette.lib.crypt import secret_encrypt
from estafette.lib.jobtokens import issue_job_token
from estafette.testing import client_for, make_user
from runs.models import RunStatus
from runs.registry import register_clone_credentials

pytestmark = pytest.mark.django_db

MANIFEST = """\
env:
  API_TOKEN: {secret}
stages:
  build:
    image: alpine:3.20
    commands:
    - echo "token=$API_TOKEN"
"""
CREDENTIALS = [
    {
        "name": "registry",
        "type": "container-registry",
        "allowedPipelines": ".+",
        "repository": "acme",
        "password": "plain-text-password",
    }
]


def replay_url(build: Any) -> str:
    pipeline = build.pipeline
    return f"/api/pipelines/{pipeline.full_name}/builds/{build.pk}/replay"


def test_without_a_token_the_replay_is_refused_with_401(team: Team) -> None:  # noqa: F811
    answer = APIClient().get(replay_url(team.build))

    assert answer.status_code == 401
    assert "manifest" not in answer.content.decode()


@override_settings(ANONYMOUS_READ=True)
def test_anonymous_reads_do_not_open_the_replay(team: Team) -> None:  # noqa: F811
    assert APIClient().get(replay_url(team.build)).status_code == 401


def test_a_caller_who_cannot_see_the_pipeline_is_refused(team: Team) -> None:  # noqa: F811
    for user in (team.nobody, team.outsider):
        answer = client_for(user).get(replay_url(team.build))
        assert answer.status_code in (403, 404), (user, answer.content)
        assert "config" not in answer.json()


def test_a_viewer_may_replay_and_a_build_of_another_pipeline_is_not_found(team: Team) -> None:  # noqa: F811
    viewer = make_user("vera")
    account_of(viewer).groups.set([team.team_a])
    other = make_build(status=RunStatus.SUCCEEDED)  # github.com/acme/api is the team's; this one too
    assert client_for(viewer).get(replay_url(team.build)).status_code == 200

    wrong = f"/api/pipelines/github.com/acme/none/builds/{other.pk}/replay"
    assert client_for(viewer).get(wrong).status_code in (403, 404)


def test_the_answer_holds_no_secret_credential_job_token_or_clone_token(team: Team) -> None:  # noqa: F811
    # given a build whose manifest holds a secret, the installation's credentials and a forge's clone token
    envelope = secret_encrypt(value="hunter2-secret")
    build = make_build(team.build.pipeline, manifest=MANIFEST.format(secret=envelope), status=RunStatus.SUCCEEDED)
    asked: list[str] = []

    def clone_token(pipeline: Any) -> list[Any]:
        from builder.contracts import Credential

        asked.append(pipeline.full_name)
        return [Credential(name="clone", type="github-api-token", additional_properties={"token": "ghs_clonetoken"})]

    register_clone_credentials(clone_token)
    try:
        with override_settings(CREDENTIALS=CREDENTIALS):
            answer = client_for(team.operator).get(replay_url(build))
    finally:
        from runs import registry

        registry._clone_credentials.remove(clone_token)

    # then the configuration comes back with the envelope still encrypted and nothing secret
    assert answer.status_code == 200, answer.content
    text = answer.content.decode()
    body = json.loads(text)
    job_token = issue_job_token(kind="build", run_id=build.pk)
    for secret in ("hunter2-secret", "plain-text-password", "ghs_clonetoken", job_token):
        assert secret not in text
    assert envelope in text
    assert body["config"]["ciServer"]["jobToken"] == ""
    assert body["config"].get("credentials", []) == [] and body["config"].get("trustedImages", []) == []
    assert asked == []  # no forge was asked for a token
    assert body["env"]["ESTAFETTE_GIT_REVISION"] == build.repo_revision
    assert body["env"]["ESTAFETTE_BUILD_VERSION"] == build.build_version
