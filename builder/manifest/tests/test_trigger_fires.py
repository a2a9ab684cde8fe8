"""Which events fire which triggers (ESTAFETTE.md §1.10; trigger_fires_test.go), with Estafette's
github/bitbucket and docker bugs fixed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from builder.manifest.events import (
    BitbucketEvent,
    CronEvent,
    DockerEvent,
    Event,
    GitEvent,
    GithubEvent,
    PipelineEvent,
    PubSubEvent,
    ReleaseEvent,
)
from builder.manifest.triggers import (
    BitbucketTrigger,
    CronTrigger,
    DockerTrigger,
    GithubTrigger,
    GitTrigger,
    PipelineTrigger,
    PubSubTrigger,
    ReleaseTrigger,
    Trigger,
)

MANIFEST = "github.com/estafette/estafette-ci-manifest"


def pipeline_event(**overrides: str) -> Event:
    values = {
        "repo_source": "github.com",
        "repo_owner": "estafette",
        "repo_name": "estafette-ci-manifest",
        "branch": "main",
        "status": "succeeded",
        "event": "finished",
    }
    values.update(overrides)
    return Event(pipeline=PipelineEvent(**values))


def release_event(**overrides: str) -> Event:
    values = {
        "repo_source": "github.com",
        "repo_owner": "estafette",
        "repo_name": "estafette-ci-manifest",
        "target": "development",
        "status": "succeeded",
        "event": "finished",
    }
    values.update(overrides)
    return Event(release=ReleaseEvent(**values))


PIPELINE = Trigger(pipeline=PipelineTrigger(event="finished", status="succeeded", name=MANIFEST, branch="main"))
NOT_MAIN = Trigger(pipeline=PipelineTrigger(event="finished", status="succeeded", name=MANIFEST, branch="!~ main"))
RELEASE = Trigger(release=ReleaseTrigger(event="finished", status="succeeded", name=MANIFEST, target="development"))
GIT = Trigger(git=GitTrigger(event="push", repository=MANIFEST, branch="master|main"))
GITHUB = Trigger(github=GithubTrigger(events=("issues", "issue_comment"), repository=MANIFEST))
BITBUCKET = Trigger(bitbucket=BitbucketTrigger(events=("repo:push",), repository="bitbucket.org/xivart/app"))
PUBSUB = Trigger(pubsub=PubSubTrigger(project="my-project", topic="my-topic"))
PUBSUB_REGEX = Trigger(pubsub=PubSubTrigger(project=".+-project", topic="my-topic"))
DOCKER = Trigger(docker=DockerTrigger(event="push", image="golang", tag="1.8-alpine"))
DOCKER_ANY_TAG = Trigger(docker=DockerTrigger(image="golang"))


@pytest.mark.parametrize(
    ("trigger", "event", "fires"),
    [
        (PIPELINE, pipeline_event(), True),
        (PIPELINE, pipeline_event(repo_name="Estafette-CI-Manifest"), True),  # names compare case-insensitively
        (PIPELINE, pipeline_event(event="started"), False),
        (PIPELINE, pipeline_event(status="failed"), False),
        (PIPELINE, pipeline_event(repo_name="estafette-ci-api"), False),
        (PIPELINE, pipeline_event(branch="develop"), False),
        (PIPELINE, pipeline_event(branch="main-2"), False),  # anchored
        (NOT_MAIN, pipeline_event(branch="develop"), True),
        (NOT_MAIN, pipeline_event(branch="main"), False),
        (RELEASE, release_event(), True),
        (RELEASE, release_event(target="production"), False),
        (RELEASE, release_event(status="failed"), False),
        (RELEASE, release_event(event="started"), False),
        (GIT, Event(git=GitEvent(event="push", repository=MANIFEST, branch="master")), True),
        (GIT, Event(git=GitEvent(event="push", repository=MANIFEST, branch="feature")), False),
        (GIT, Event(git=GitEvent(event="push", repository="github.com/estafette/other", branch="main")), False),
        (GITHUB, Event(github=GithubEvent(event="issues", repository=MANIFEST)), True),
        (GITHUB, Event(github=GithubEvent(event="issue_comment", repository=MANIFEST)), True),
        (GITHUB, Event(github=GithubEvent(event="push", repository=MANIFEST)), False),  # fixed: honours events
        (GITHUB, Event(github=GithubEvent(event="issues", repository="github.com/estafette/other")), False),
        (BITBUCKET, Event(bitbucket=BitbucketEvent(event="repo:push", repository="bitbucket.org/xivart/app")), True),
        (
            BITBUCKET,
            Event(bitbucket=BitbucketEvent(event="issue:created", repository="bitbucket.org/xivart/app")),
            False,
        ),
        (PUBSUB, Event(pubsub=PubSubEvent(project="my-project", topic="my-topic")), True),
        (PUBSUB, Event(pubsub=PubSubEvent(project="other-project", topic="my-topic")), False),
        (PUBSUB, Event(pubsub=PubSubEvent(project="my-project", topic="other-topic")), False),
        (PUBSUB_REGEX, Event(pubsub=PubSubEvent(project="any-project", topic="my-topic")), True),
        (PUBSUB_REGEX, Event(pubsub=PubSubEvent(project="project", topic="my-topic")), False),
        (DOCKER, Event(docker=DockerEvent(event="push", image="golang", tag="1.8-alpine")), True),  # fixed: fires
        (DOCKER, Event(docker=DockerEvent(event="push", image="golang", tag="1.9-alpine")), False),
        (DOCKER, Event(docker=DockerEvent(event="push", image="node", tag="1.8-alpine")), False),
        (DOCKER, Event(docker=DockerEvent(event="delete", image="golang", tag="1.8-alpine")), False),
        (DOCKER_ANY_TAG, Event(docker=DockerEvent(event="push", image="golang", tag="anything")), True),
        (PIPELINE, Event(git=GitEvent(event="push", repository=MANIFEST, branch="main")), False),  # other type
        (GIT, Event(), False),
    ],
)
def test_it_fires_for_matching_events_only(trigger: Trigger, event: Event, fires: bool) -> None:
    # given a trigger and an event
    # when the trigger is asked whether it fires
    # then it answers as the filter says
    assert trigger.fires(event) is fires


@pytest.mark.parametrize(
    ("schedule", "moment", "fires"),
    [
        ("*/5 * * * *", datetime(2018, 5, 3, 11, 10, 0, tzinfo=UTC), True),
        ("*/5 * * * *", datetime(2018, 5, 3, 11, 10, 59, tzinfo=UTC), True),
        ("*/5 * * * *", datetime(2018, 5, 3, 11, 12, 1, tzinfo=UTC), False),
        ("0 10 * * *", datetime(2018, 5, 3, 12, 0, tzinfo=timezone(timedelta(hours=2))), True),  # 10:00 UTC
        ("0 10 * * *", datetime(2018, 5, 3, 10, 0), True),  # naive times are UTC
        ("@hourly", datetime(2018, 5, 3, 10, 0, tzinfo=UTC), True),
        ("0 10 */1 * * *", datetime(2018, 5, 3, 10, 0, tzinfo=UTC), False),  # six fields never fire
    ],
)
def test_it_fires_cron_triggers_in_the_minutes_their_schedule_selects(
    schedule: str, moment: datetime, fires: bool
) -> None:
    # given a cron trigger
    trigger = Trigger(cron=CronTrigger(schedule=schedule))

    # when a cron tick arrives
    # then it fires only in a selected minute
    assert trigger.fires(Event(cron=CronEvent(time=moment))) is fires
