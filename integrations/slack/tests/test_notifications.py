"""Failure and recovery notices in Slack from the run events (``triggers.reports.run_notice_of`` →
``SlackNotifier``): to the pipeline's channel, with a link to the run, retried when Slack is down, never in a run's
way."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from builds.testing import MANIFEST, make_build, make_pipeline
from estafette.queue.testing import Verdict, deliver
from integrations.slack.testing import FakeSlack
from releases.testing import make_release
from runs.models import RunStatus
from triggers.consumers import BuildNotifyConsumer
from triggers.reports import run_notice_send
from triggers.testing import settle

pytestmark = pytest.mark.django_db
LABELLED = MANIFEST.replace("labels:\n", 'labels:\n  slack-channel: "#api-ci, C0123"\n', 1)


@pytest.fixture
def pipeline(job_runner: Any) -> Any:
    return make_pipeline("api")


def notify_outcomes() -> list[Any]:
    """What the notify consumers did with the runs' ends (their starts make no notice)."""
    return [outcome for durable, event, outcome in settle() if durable.endswith("-notify") and "finished" in event]


def test_a_failed_build_is_posted_to_the_pipelines_channels_with_a_link(slack: FakeSlack, pipeline: Any) -> None:
    build = make_build(pipeline, status=RunStatus.FAILED, manifest=LABELLED, branch="main")

    settle()

    url = f"{settings.BASE_URL}/pipelines/github.com/acme/api/builds/{build.pk}/logs"
    assert [message["channel"] for message in slack.messages] == ["#api-ci", "C0123"]
    text = slack.messages[0]["text"]
    assert text == f":x: Build {build.build_version} of github.com/acme/api (main) failed: <{url}|open the build>"


def test_the_first_success_after_a_failure_is_a_recovery_and_later_ones_are_quiet(
    slack: FakeSlack, pipeline: Any
) -> None:
    make_build(pipeline, status=RunStatus.SUCCEEDED, manifest=LABELLED)
    make_build(pipeline, status=RunStatus.FAILED, manifest=LABELLED)
    make_build(pipeline, status=RunStatus.CANCELED, manifest=LABELLED)
    recovered = make_build(pipeline, status=RunStatus.SUCCEEDED, manifest=LABELLED)
    make_build(pipeline, status=RunStatus.SUCCEEDED, manifest=LABELLED)
    make_build(pipeline, status=RunStatus.FAILED, manifest=LABELLED, branch="other")
    make_build(pipeline, status=RunStatus.SUCCEEDED, manifest=LABELLED, branch="third")

    settle()

    texts = [message["text"] for message in slack.messages if message["channel"] == "#api-ci"]
    assert [text.split(" ")[0] for text in texts] == [":x:", ":white_check_mark:", ":x:"]
    assert f"Build {recovered.build_version} of github.com/acme/api (master) recovered" in texts[1]


def test_a_failed_release_names_its_target(slack: FakeSlack, pipeline: Any) -> None:
    build = make_build(pipeline, status=RunStatus.SUCCEEDED, manifest=LABELLED)
    release = make_release(build, "production", action="deploy", status=RunStatus.FAILED)

    settle()

    (message,) = [message for message in slack.messages if message["channel"] == "#api-ci"]
    assert message["text"].startswith(
        f":x: Release {build.build_version} of github.com/acme/api to production:deploy failed"
    )
    assert f"/releases/{release.pk}/logs|" in message["text"]


def test_the_servers_channels_are_used_for_pipelines_without_a_label(
    slack: FakeSlack, pipeline: Any, settings: Any
) -> None:
    settings.SLACK_CHANNELS = [
        {"pipelines": "gitlab.example/.+", "channel": "#elsewhere"},
        {"pipelines": "github.com/acme/.+", "channel": "#acme"},
    ]
    make_build(pipeline, status=RunStatus.FAILED)
    make_build(make_pipeline("web", owner="other"), status=RunStatus.FAILED)

    settle()

    assert [message["channel"] for message in slack.messages] == ["#acme"]


def test_slack_down_is_retried_and_the_build_is_not_held(slack: FakeSlack, pipeline: Any) -> None:
    slack.fail("chat.postMessage", 503)
    build = make_build(pipeline, status=RunStatus.FAILED, manifest=LABELLED)

    outcomes = notify_outcomes()

    assert [outcome.verdict for outcome in outcomes] == [Verdict.RETRY]
    assert outcomes[0].delay_seconds > 0
    build.refresh_from_db()
    assert build.status == RunStatus.FAILED
    redelivered = deliver(BuildNotifyConsumer(), {"pipeline": {}}, event_id=f"build-{build.pk}-finished", deliveries=2)
    assert redelivered.verdict is Verdict.ACK
    assert [message["channel"] for message in slack.messages] == ["#api-ci", "C0123"]


def test_a_channel_slack_refuses_for_good_is_a_dead_letter_at_once(slack: FakeSlack, pipeline: Any) -> None:
    slack.fail("chat.postMessage", "channel_not_found")
    make_build(pipeline, status=RunStatus.FAILED, manifest=LABELLED)

    assert [outcome.verdict for outcome in notify_outcomes()] == [Verdict.TERMINATE]


def test_without_a_bot_token_or_a_channel_nothing_is_sent(slack: FakeSlack, pipeline: Any, settings: Any) -> None:
    make_build(pipeline, status=RunStatus.FAILED)  # no label, no server channel
    settings.SLACK_BOT_TOKEN = ""
    make_build(make_pipeline("web"), status=RunStatus.FAILED, manifest=LABELLED)

    assert [outcome.verdict for outcome in notify_outcomes()] == [Verdict.ACK, Verdict.ACK]
    assert slack.messages == []


def test_without_a_bot_token_a_runs_end_is_not_even_read(pipeline: Any, settings: Any) -> None:
    # given a failed build, and Slack (the only notifier) without a bot token
    settings.SLACK_BOT_TOKEN = ""
    build = make_build(pipeline, status=RunStatus.FAILED)

    # when its end reaches the notify consumer
    with CaptureQueriesContext(connection) as queries:
        notice = run_notice_send(event_id=f"build-{build.pk}-finished", part={"status": RunStatus.FAILED})

    # then no notice is worked out: no query at all (the run is not loaded)
    assert notice is None
    assert len(queries) == 0
