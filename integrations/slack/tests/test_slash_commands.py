"""``/estafette encrypt`` and ``/estafette release`` through the API in process, against the fake Slack: the Slack
user is found by email and each command authorized by the policy's rule of the API route that does the same."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from builder.secrets import open_envelope
from builds.testing import make_build, make_pipeline
from estafette.access import roles
from estafette.access.models import AuditEntry, Group
from estafette.access.services import account_of
from estafette.lib.crypt import installation_key
from estafette.queue.models import DeadLetter
from estafette.testing import make_user
from integrations.slack.testing import FakeSlack, slash_body, slash_headers
from releases.models import Release
from runs.models import RunStatus
from triggers.testing import settle

pytestmark = pytest.mark.django_db
URL = "/api/integrations/slack/slash"


def slash(user_id: str, text: str, *, response_url: str = "https://hooks.slack.com/commands/1/2") -> dict[str, Any]:
    body = slash_body(user_id, text, response_url=response_url)
    response = APIClient().post(URL, data=body, content_type="application/x-www-form-urlencoded", **slash_headers(body))
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    return answer


@pytest.fixture
def pipeline(job_runner: Any) -> Any:
    pipeline = make_pipeline("api")
    team = Group.objects.create(name="team", roles=[roles.GROUP_PIPELINES_OPERATOR])
    pipeline.groups.set([team])
    make_build(pipeline, status=RunStatus.SUCCEEDED)
    return pipeline


def operator(slack: FakeSlack, pipeline: Any) -> str:
    user = make_user("olga")
    account_of(user).groups.set(pipeline.groups.all())
    return slack.add_user("OLGA@example.com")


# -- encrypt ---------------------------------------------------------------------------------------------------------


def test_an_administrator_encrypts_a_secret_for_every_pipeline(slack: FakeSlack) -> None:
    make_user("root", staff=True)
    user_id = slack.add_user("root@example.com")

    answer = slash(user_id, "encrypt  my very secret value ")

    envelope = answer["text"].split("```")[1]
    assert open_envelope(envelope, key=installation_key()) == ("my very secret value", "")
    assert AuditEntry.objects.filter(action="ci.secrets.encrypt", actor="root@example.com").exists()


def test_an_operator_encrypts_for_their_pipeline_but_not_for_every_pipeline(slack: FakeSlack, pipeline: Any) -> None:
    user_id = operator(slack, pipeline)

    mine = slash(user_id, f"encrypt --pipeline {pipeline.full_name} s3cret")
    everyone = slash(user_id, "encrypt s3cret")

    assert open_envelope(mine["text"].split("```")[1], key=installation_key()) == ("s3cret", pipeline.full_name)
    assert "estafette.secret(" not in everyone["text"]
    assert "needs the administrator role" in everyone["text"]


# -- release ---------------------------------------------------------------------------------------------------------


def test_an_operator_releases_as_themselves(
    slack: FakeSlack, pipeline: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user_id = operator(slack, pipeline)
    version = pipeline.builds.get().build_version

    answer = slash(user_id, f"release {pipeline.full_name} staging {version}", response_url=slack.response_url)
    # The reply goes once the release is committed (the test's transaction never commits: run what it would).
    with django_capture_on_commit_callbacks(execute=True):
        settle()

    assert answer["text"].startswith(f"Releasing {version} of {pipeline.full_name} to staging as OLGA@example.com")
    assert f"{settings.BASE_URL}/pipelines/{pipeline.full_name}/releases" in answer["text"]
    release = Release.objects.get()
    assert (release.name, release.release_version) == ("staging", version)
    assert release.triggered_by_events == [{"fired": True, "manual": {"userID": "OLGA@example.com"}}]
    assert AuditEntry.objects.filter(action="ci.releases.create", actor="OLGA@example.com").exists()
    (reply,) = slack.replies
    assert reply["url"] == slack.response_url
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == (
        f"The release of {version} of {pipeline.full_name} to staging is on its way: "
        f"{settings.BASE_URL}/pipelines/{pipeline.full_name}/releases/{release.pk}/logs"
    )


def test_someone_without_a_role_on_the_pipeline_is_told_why(slack: FakeSlack, pipeline: Any) -> None:
    make_user("vic")
    user_id = slack.add_user("vic@example.com")

    answer = slash(user_id, f"release {pipeline.full_name} staging 1.2.0")
    settle()

    assert "You may not do this" in answer["text"]
    assert "group.pipelines.operator" in answer["text"]
    assert not Release.objects.exists()


def test_a_release_of_a_version_that_does_not_exist_is_refused_and_the_user_told_why(
    slack: FakeSlack, pipeline: Any
) -> None:
    user_id = operator(slack, pipeline)

    slash(user_id, f"release {pipeline.full_name} staging 9.9.9", response_url=slack.response_url)
    settle()

    assert not Release.objects.exists()
    assert "has no build with version 9.9.9" in DeadLetter.objects.get().reason
    assert [reply["text"] for reply in slack.replies] == [
        f"The release of 9.9.9 of {pipeline.full_name} to staging was not made: "
        f"{pipeline.full_name} has no build with version 9.9.9"
    ]


def test_a_response_url_that_is_not_slacks_gets_no_reply(slack: FakeSlack, pipeline: Any) -> None:
    user_id = operator(slack, pipeline)
    version = pipeline.builds.get().build_version

    slash(user_id, f"release {pipeline.full_name} staging {version}", response_url="http://127.0.0.1:1/elsewhere")
    settle()

    assert Release.objects.exists()
    assert slack.replies == []


def test_slack_that_cannot_take_the_reply_does_not_undo_the_release(
    slack: FakeSlack, pipeline: Any, django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    user_id = operator(slack, pipeline)
    version = pipeline.builds.get().build_version
    slash(user_id, f"release {pipeline.full_name} staging {version}", response_url=slack.response_url)
    slack.server.shutdown()  # Slack is gone once the command was answered
    slack.server.server_close()

    with django_capture_on_commit_callbacks(execute=True):
        settle()

    assert Release.objects.count() == 1
    assert "the reply to a release request (slack) was not delivered" in caplog.text


@pytest.mark.parametrize(
    ("setup", "text", "reason"),
    [
        ("nobody", "release github.com/acme/api staging 1.0.0", "No Estafette user has your Slack email"),
        ("hidden", "release github.com/acme/api staging 1.0.0", "users:read.email"),
        ("bot", "release github.com/acme/api staging 1.0.0", "Only people"),
        ("inactive", "release github.com/acme/api staging 1.0.0", "No Estafette user has your Slack email"),
        ("operator", "release github.com/acme/nothing staging 1.0.0", "There is no pipeline github.com/acme/nothing"),
        ("operator", "release api staging 1.0.0", "source/owner/name"),
        ("operator", "release github.com/acme/api staging", "needs a pipeline, a target and a version"),
        ("operator", "deploy everything", "Usage"),
        ("operator", "", "Usage"),
        ("operator", "encrypt", "encrypt needs a value"),
    ],
)
def test_what_cannot_be_done_is_answered_with_the_reason(
    slack: FakeSlack, pipeline: Any, setup: str, text: str, reason: str
) -> None:
    if setup == "operator":
        user_id = operator(slack, pipeline)
    elif setup == "inactive":
        user = make_user("ina")
        user.is_active = False
        user.save()
        user_id = slack.add_user("ina@example.com")
    else:
        user_id = slack.add_user("nobody@example.com", show_email=setup != "hidden", is_bot=setup == "bot")

    answer = slash(user_id, text)
    settle()

    assert reason in answer["text"]
    assert not Release.objects.exists()


def test_slack_that_cannot_say_who_typed_the_command_is_a_reason_too(slack: FakeSlack, pipeline: Any) -> None:
    user_id = operator(slack, pipeline)
    slack.fail("users.info", 503)

    answer = slash(user_id, f"release {pipeline.full_name} staging 1.2.0")

    assert "cannot ask Slack who you are" in answer["text"]
