"""Attacks through Slack's slash command (issue 12): unsigned, wrongly signed, stale or replayed requests; someone
posing as another Slack user or as an administrator; hostile command text; forged release requests on the queue;
and the value of ``/estafette encrypt`` leaking into logs, answers or tables.

Against the API in process (the test client), the consumers without NATS (``settle``, ``deliver``) and the fake
Slack, a real HTTP server that checks every call against the official SDK's description of the Web API. A refused
request is 4xx with a JSON ``{code, message}``, leaves nothing on the queue and never reaches Slack.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from django.apps import apps
from django.core import serializers
from rest_framework.test import APIClient

from builds.testing import make_build, make_pipeline
from estafette.access import roles
from estafette.access.models import Group
from estafette.access.services import account_of
from estafette.queue.models import OutboxMessage
from estafette.queue.testing import Verdict, deliver
from estafette.testing import make_user
from integrations.slack.testing import FakeSlack, slack, slash_body, slash_headers  # noqa: F401
from releases.models import Release
from runs.models import RunStatus
from runs.testing import job_runner  # noqa: F401 - fixture
from triggers.consumers import ReleaseRequestConsumer
from triggers.requests import RELEASE_REQUESTS
from triggers.testing import settle

pytestmark = pytest.mark.django_db
URL = "/api/integrations/slack/slash"
FORM = "application/x-www-form-urlencoded"


def nothing_requested() -> bool:
    return not OutboxMessage.objects.filter(subject=RELEASE_REQUESTS).exists()


def release_request(pipeline: Any, changes: dict[str, Any]) -> dict[str, Any]:
    """A release request as the Slack command publishes it, with ``changes``."""
    return {
        "pipeline": pipeline.full_name,
        "target": "staging",
        "action": "",
        "version": pipeline.builds.get().build_version,
        "user": "olga@example.com",
    } | changes


def post(body: bytes, **headers: str) -> Any:
    return APIClient().post(URL, data=body, content_type=FORM, **headers)


@pytest.fixture
def pipeline(job_runner: Any) -> Any:  # noqa: F811 - the fixture imported above
    pipeline = make_pipeline("api")
    pipeline.groups.set([Group.objects.create(name="team", roles=[roles.GROUP_PIPELINES_OPERATOR])])
    make_build(pipeline, status=RunStatus.SUCCEEDED)
    return pipeline


@pytest.fixture
def operator_id(slack: FakeSlack, pipeline: Any) -> str:  # noqa: F811
    account_of(make_user("olga")).groups.set(pipeline.groups.all())
    return slack.add_user("olga@example.com")


# -- signatures --------------------------------------------------------------------------------------------------------


def test_requests_not_signed_with_the_apps_secret_or_out_of_the_window_are_refused(
    slack: FakeSlack,  # noqa: F811
    pipeline: Any,
    operator_id: str,
) -> None:
    body = slash_body(operator_id, f"release {pipeline.full_name} staging 1.2.0")
    good = slash_headers(body)
    now = int(time.time())
    stale = slash_headers(body, timestamp=now - 400)
    attacks = {
        "no signature": {"HTTP_X_SLACK_REQUEST_TIMESTAMP": good["HTTP_X_SLACK_REQUEST_TIMESTAMP"]},
        "no timestamp": {"HTTP_X_SLACK_SIGNATURE": good["HTTP_X_SLACK_SIGNATURE"]},
        "another secret": slash_headers(body, secret="guessed-secret"),
        "another body's signature": slash_headers(body + b"&x=1"),
        "a recorded request replayed after the window": stale,
        "a timestamp from the future": slash_headers(body, timestamp=now + 400),
        "the signature of another timestamp": good | {"HTTP_X_SLACK_REQUEST_TIMESTAMP": str(now - 1)},
        "a timestamp that is not a number": good | {"HTTP_X_SLACK_REQUEST_TIMESTAMP": "now"},
        "a negative timestamp": good | {"HTTP_X_SLACK_REQUEST_TIMESTAMP": "-1"},
        "another version": good | {"HTTP_X_SLACK_SIGNATURE": good["HTTP_X_SLACK_SIGNATURE"].replace("v0=", "v1=")},
        "GitHub's scheme": good
        | {"HTTP_X_SLACK_SIGNATURE": "sha256=" + good["HTTP_X_SLACK_SIGNATURE"].removeprefix("v0=")},
        "an empty signature": good | {"HTTP_X_SLACK_SIGNATURE": ""},
        "a truncated signature": good | {"HTTP_X_SLACK_SIGNATURE": good["HTTP_X_SLACK_SIGNATURE"][:-1]},
    }
    for name, headers in attacks.items():
        response = post(body, **headers)
        assert response.status_code == 401, name
        assert set(response.json()) == {"code", "message"}, name
    assert nothing_requested()
    assert slack.calls == []


def test_a_signed_body_with_a_changed_byte_is_refused(slack: FakeSlack, operator_id: str) -> None:  # noqa: F811
    body = slash_body(operator_id, "release github.com/acme/api staging 1.2.0")
    headers = slash_headers(body)

    assert post(body.replace(b"staging", b"stagint"), **headers).status_code == 401
    assert slack.calls == []


def test_without_a_signing_secret_every_request_is_refused(
    slack: FakeSlack,  # noqa: F811
    operator_id: str,
    settings: Any,
) -> None:
    settings.SLACK_SIGNING_SECRET = ""
    body = slash_body(operator_id, "encrypt x")

    for headers in (slash_headers(body), slash_headers(body, secret="")):
        response = post(body, **headers)
        assert response.status_code == 401
        assert "ESTAFETTE_SLACK_SIGNING_SECRET" in response.json()["message"]
    assert slack.calls == []


def test_a_replayed_release_within_the_window_releases_once(
    slack: FakeSlack,  # noqa: F811
    pipeline: Any,
    operator_id: str,
) -> None:
    version = pipeline.builds.get().build_version
    body = slash_body(operator_id, f"release {pipeline.full_name} staging {version}")
    headers = slash_headers(body)

    for _ in range(3):
        assert post(body, **headers).status_code == 200
    settle()

    assert Release.objects.count() == 1


# -- who asks ----------------------------------------------------------------------------------------------------------


def test_the_user_is_slacks_user_id_looked_up_never_the_name_in_the_body(
    slack: FakeSlack,  # noqa: F811
    pipeline: Any,
) -> None:
    # given an administrator, and someone without any role who claims to be them in the body's other fields
    make_user("root", staff=True)
    slack.add_user("root@example.com")
    make_user("mallory")
    mallory = slack.add_user("mallory@example.com")
    fields = dict(parse_qsl(slash_body(mallory, "encrypt x").decode()))
    fields |= {"user_name": "root", "text": "encrypt x", "user_email": "root@example.com"}
    body = urlencode(fields).encode()

    answer = post(body, **slash_headers(body)).json()

    assert "You may not do this" in answer["text"]
    assert [arguments for method, arguments in slack.calls] == [{"user": mallory}]


def test_hostile_bodies_are_refused_with_a_reason(slack: FakeSlack, operator_id: str) -> None:  # noqa: F811
    good = dict(parse_qsl(slash_body(operator_id, "encrypt x").decode()))
    bodies = {
        "not UTF-8": b"user_id=\xff\xfe&command=%2Festafette&text=x",
        "no user": urlencode({key: value for key, value in good.items() if key != "user_id"}).encode(),
        "two users": slash_body(operator_id, "encrypt x") + b"&user_id=UOTHER",
        "a user id with a path": urlencode(good | {"user_id": "../../admin"}).encode(),
        "no command": urlencode({key: value for key, value in good.items() if key != "command"}).encode(),
        "a text longer than Slack's": slash_body(operator_id, "encrypt " + "x" * 4001),
    }
    for name, body in bodies.items():
        response = post(body, **slash_headers(body))
        assert response.status_code == 400, name
        assert set(response.json()) == {"code", "message"}, name
    assert slack.calls == []
    assert nothing_requested()


@pytest.mark.parametrize(
    "text",
    [
        "release github.com/acme/../api staging 1.2.0",
        "release github.com/acme/api/extra staging 1.2.0",
        "release github.com/acme/api ../staging 1.2.0",
        "release github.com/acme/api staging 1.2.0;rm",
        "release github.com/acme/api staging 1.2.0 extra",
        "release github.com/acme/api\nstaging 1.2.0",
        "encrypt --pipeline .* x",
        "encrypt --pipeline github.com/acme/api",
    ],
)
def test_hostile_commands_change_nothing(slack: FakeSlack, pipeline: Any, operator_id: str, text: str) -> None:  # noqa: F811
    body = slash_body(operator_id, text)

    answer = post(body, **slash_headers(body)).json()
    settle()

    assert "estafette.secret(" not in answer["text"]
    assert not Release.objects.exists()


@pytest.mark.parametrize(
    "forged",
    [
        {"pipeline": "github.com/acme/../api"},
        {"pipeline": "github.com/acme"},
        {"user": "not an email"},
        {"version": 3},
        {"target": "staging\n"},
        {"user": None},
    ],
)
def test_forged_release_requests_on_the_queue_are_dead_letters(pipeline: Any, forged: dict[str, Any]) -> None:
    event = release_request(pipeline, forged)

    assert deliver(ReleaseRequestConsumer(), event, event_id="forged-1").verdict is Verdict.TERMINATE
    assert not Release.objects.exists()


# -- the encrypted value -----------------------------------------------------------------------------------------------


def test_the_value_to_encrypt_is_in_no_log_answer_or_table(
    slack: FakeSlack,  # noqa: F811
    pipeline: Any,
    operator_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_user("root", staff=True)
    root = slack.add_user("root@example.com")
    value = "hunter2-the-value-nobody-may-see"
    with caplog.at_level(logging.DEBUG):
        answers = [
            post(body, **slash_headers(body)).content.decode()
            for body in (
                slash_body(root, f"encrypt {value}"),
                slash_body(operator_id, f"encrypt {value}"),  # refused: for every pipeline
                slash_body(operator_id, f"encrypt --pipeline github.com/acme/none {value}"),  # refused
                slash_body(operator_id, f"encrypt --pipeline {pipeline.full_name} {value}"),
            )
        ]
        settle()

    assert sum("estafette.secret(" in answer for answer in answers) == 2
    rows = serializers.serialize("json", [row for model in apps.get_models() for row in model.objects.all()])
    assert value not in caplog.text
    assert not any(value in answer for answer in answers)
    assert value not in rows


def test_a_forged_reply_address_on_the_queue_is_never_called(
    slack: FakeSlack,  # noqa: F811
    pipeline: Any,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A release request's reply is checked again where it is used: only Slack's hooks are called (no SSRF)."""
    # an address of the fake, but not a command's hook
    event = release_request(pipeline, {"reply": f"slack:{slack.api_url}/chat.postMessage"})

    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(ReleaseRequestConsumer(), event, event_id="forged-reply").verdict is Verdict.ACK

    assert slack.calls == [] and slack.replies == []
    assert "response_url is not Slack's" in caplog.text
