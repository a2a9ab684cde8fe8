"""Events use Estafette's camelCase JSON (EstafetteEvent) and survive a round trip."""

from __future__ import annotations

from datetime import UTC, datetime

from builder.manifest.events import (
    BitbucketEvent,
    CronEvent,
    Event,
    GithubEvent,
    ManualEvent,
    PipelineEvent,
    PubSubEvent,
    PubSubMessage,
)


def test_it_writes_estafettes_json_names() -> None:
    # given events of several kinds
    event = Event(
        name="upstream",
        fired=True,
        pipeline=PipelineEvent(
            build_version="1.0.3",
            repo_source="github.com",
            repo_owner="a",
            repo_name="b",
            branch="main",
            status="succeeded",
            event="finished",
        ),
        bitbucket=BitbucketEvent(event="repo:push", hook_uuid="h", request_uuid="r", attempt_number="1"),
        manual=ManualEvent(user_id="42"),
        cron=CronEvent(time=datetime(2024, 5, 3, 10, 0, tzinfo=UTC)),
    )

    # when it is written as JSON
    data = event.to_dict()

    # then the names are Estafette's and empty values are left out
    assert data == {
        "name": "upstream",
        "fired": True,
        "pipeline": {
            "buildVersion": "1.0.3",
            "repoSource": "github.com",
            "repoOwner": "a",
            "repoName": "b",
            "repoBranch": "main",
            "status": "succeeded",
            "event": "finished",
        },
        "bitbucket": {"event": "repo:push", "hookUUID": "h", "requestUUID": "r", "attemptNumber": "1"},
        "manual": {"userID": "42"},
        "cron": {"time": "2024-05-03T10:00:00Z"},
    }


def test_it_reads_back_what_it_writes() -> None:
    # given an event with nested parts
    event = Event(
        github=GithubEvent(event="issues", repository="github.com/a/b", delivery="d", payload="{}"),
        pubsub=PubSubEvent(
            project="p",
            topic="t",
            message=PubSubMessage(attributes={"k": "v"}, data="ZGF0YQ==", message_id="1", publish_time="x"),
        ),
    )

    # when it goes to JSON and back
    # then nothing is lost
    assert Event.from_dict(event.to_dict()) == event


def test_it_reads_go_times_with_nanoseconds() -> None:
    # given a cron event as Go writes it
    # when it is read
    event = Event.from_dict({"cron": {"time": "2024-05-03T10:00:00.123456789Z"}})

    # then the time is UTC, to the microsecond
    assert event.cron == CronEvent(time=datetime(2024, 5, 3, 10, 0, 0, 123456, tzinfo=UTC))
