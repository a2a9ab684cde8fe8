"""The delivery insights' definitions (``releases.insights``) on constructed histories, and ``GET /api/insights/dora``
on releases made through the real services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse

from builds.testing import make_build, make_pipeline
from estafette.testing import client_for, make_user
from releases.insights import Definitions, ReleaseFact, Window, dora_metrics
from releases.testing import make_release
from runs.models import RunStatus

START = datetime(2026, 3, 1, tzinfo=UTC)
WINDOW = Window(since=START, until=START + timedelta(days=10))
DEFINITIONS = Definitions(
    production_targets=("production", "prod"),
    rollback_actions=("rollback",),
    hotfix_branch_prefixes=("hotfix/",),
    failure_window=timedelta(hours=24),
)


def release(
    version: str,
    day: float,
    status: str = "succeeded",
    *,
    action: str = "deploy",
    pipeline: int = 1,
    target: str = "production",
    committed_hours_before: float = 5,
    branch: str = "main",
) -> ReleaseFact:
    finished = START + timedelta(days=day)
    return ReleaseFact(
        pipeline_id=pipeline,
        target=target,
        version=version,
        action=action,
        status=status,
        finished_at=finished,
        first_commit_at=finished - timedelta(hours=committed_hours_before),
        branch=branch,
    )


def test_no_production_releases_give_no_values_and_zero_frequency() -> None:
    metrics = dora_metrics([], WINDOW, DEFINITIONS)
    assert (metrics.deployments, metrics.deployment_frequency) == (0, 0.0)
    assert metrics.lead_time is None and metrics.change_failure_rate is None and metrics.time_to_restore is None


def test_deployments_per_day_and_median_lead_time() -> None:
    facts = [
        release("1.0.1", 1, committed_hours_before=2),
        release("1.0.2", 2, committed_hours_before=4),
        release("1.0.3", 3, committed_hours_before=30),
        release("1.0.0", -1),  # the window before
    ]
    metrics = dora_metrics(facts, WINDOW, DEFINITIONS)
    assert metrics.deployments == 3
    assert metrics.deployment_frequency == pytest.approx(0.3)
    assert metrics.lead_time == timedelta(hours=4)
    assert (metrics.changes, metrics.failed_changes, metrics.change_failure_rate) == (3, 0, 0.0)


def test_a_retried_release_is_one_change_that_failed_and_one_deployment() -> None:
    facts = [
        release("1.0.1", 1, "failed"),
        release("1.0.1", 1.5),  # the retry succeeded
        release("1.0.2", 2),
    ]
    metrics = dora_metrics(facts, WINDOW, DEFINITIONS)
    assert metrics.deployments == 2
    assert (metrics.changes, metrics.failed_changes) == (2, 1)
    assert metrics.change_failure_rate == 0.5
    assert (metrics.failures, metrics.unrestored) == (1, 0)
    assert metrics.time_to_restore == timedelta(hours=12)


def test_a_rollback_or_a_hotfix_within_the_failure_window_marks_the_change_failed() -> None:
    rolled_back = [release("1.0.1", 1), release("1.0.0", 1.5, action="rollback")]
    hotfixed = [release("1.0.1", 1), release("1.0.2", 1.2, branch="hotfix/login")]
    too_late = [release("1.0.1", 1), release("1.0.0", 3, action="rollback")]

    assert dora_metrics(rolled_back, WINDOW, DEFINITIONS).failed_changes == 1
    assert dora_metrics(rolled_back, WINDOW, DEFINITIONS).deployments == 1  # a rollback deploys no change
    assert dora_metrics(hotfixed, WINDOW, DEFINITIONS).failed_changes == 1
    assert dora_metrics(too_late, WINDOW, DEFINITIONS).failed_changes == 0


def test_time_to_restore_counts_per_pipeline_and_target_and_keeps_unrestored_apart() -> None:
    facts = [
        release("1.0.1", 1, "failed"),
        release("2.0.0", 1.1, pipeline=2),  # another pipeline's success restores nothing here
        release("1.0.2", 2),  # restores pipeline 1 after a day
        release("1.0.3", 4, "failed", target="prod"),  # never restored
    ]
    metrics = dora_metrics(facts, WINDOW, DEFINITIONS)
    assert (metrics.failures, metrics.unrestored) == (2, 1)
    assert metrics.time_to_restore == timedelta(days=1)


def test_a_change_belongs_to_the_window_its_first_release_finished_in() -> None:
    facts = [release("1.0.1", -0.5, "failed"), release("1.0.1", 0.5)]  # failed before the window, retried in it
    metrics = dora_metrics(facts, WINDOW, DEFINITIONS)
    assert metrics.changes == 0  # the change is the previous window's
    assert metrics.deployments == 1  # its deployment happened in this one
    previous = dora_metrics(facts, WINDOW.previous, DEFINITIONS)
    assert (previous.changes, previous.failed_changes, previous.deployments) == (1, 1, 0)


# -- the API -------------------------------------------------------------------------------------------------------


def admin() -> Any:
    return client_for(get_user_model().objects.filter(username="root").first() or make_user("root", staff=True))


def dated_release(build: Any, target: str, *, at: datetime, status: str = RunStatus.SUCCEEDED, action: str = "") -> Any:
    return make_release(build, target, action=action or "deploy", status=status, now=at, finished=at)


@pytest.mark.django_db
def test_the_report_over_real_releases_with_trend_and_band() -> None:
    # given a pipeline (labels team=ci, language=python) with one deployment the week before and, this week, two
    # changes: one deployed, one that failed and was retried the next day
    pipeline = make_pipeline("api")
    now = datetime.now(UTC)
    hour, day = timedelta(hours=1), timedelta(days=1)
    first, second, third = (
        make_build(pipeline, status=RunStatus.SUCCEEDED, now=now - days * day - hour) for days in (10, 3, 2)
    )
    dated_release(first, "production", at=now - 10 * day)
    dated_release(second, "production", at=now - 3 * day)
    dated_release(third, "production", at=now - 2 * day, status=RunStatus.FAILED)
    dated_release(third, "production", at=now - 1 * day)
    make_release(second, "staging", status=RunStatus.SUCCEEDED)  # not production

    # when
    response = admin().get(reverse("insights-dora"), {"filter[since]": "1w", "filter[labels]": "team=ci"})

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["productionTargets"] == ["production", "prod"]
    overall = body["overall"]
    assert overall["deploymentFrequency"] == {
        "perDay": round(2 / 7, 4),
        "deployments": 2,
        "previousPerDay": round(1 / 7, 4),
        "trend": "better",
        "band": "high",
    }
    assert overall["leadTimeForChanges"]["seconds"] == pytest.approx(13 * 3600, abs=1)  # median of 1 h and 25 h
    assert overall["leadTimeForChanges"]["band"] == "elite"
    assert overall["changeFailureRate"] | {"previousRate": None} == {
        "rate": 0.5,
        "changes": 2,
        "failedChanges": 1,
        "previousRate": None,
        "trend": "worse",
        "band": "low",
    }
    assert overall["timeToRestore"] | {"trend": None} == {
        "seconds": 86400.0,
        "failures": 1,
        "unrestored": 0,
        "previousSeconds": None,
        "trend": None,
        "band": "high",
    }
    assert [p["repoName"] for p in body["pipelines"]] == ["api"]
    assert body["pipelines"][0]["metrics"] == overall
    assert [label["label"] for label in body["labels"]] == ["language=python", "team=ci"]
    assert admin().get(reverse("insights-dora"), {"filter[labels]": "team=other"}).json()["pipelines"] == []


@pytest.mark.django_db
def test_the_window_starts_at_a_zoned_time_converted_to_utc() -> None:
    # given a deployment at 23:00 UTC, which is 01:00 the next day at +02:00
    pipeline = make_pipeline("api")
    now = datetime.now(UTC).replace(microsecond=0)
    at = (now - timedelta(days=3)).replace(hour=23, minute=0, second=0)
    build = make_build(pipeline, status=RunStatus.SUCCEEDED, now=at - timedelta(hours=6))
    dated_release(build, "production", at=at)
    zone = "+02:00"
    from_local_midnight_after = (at + timedelta(hours=2)).strftime("%Y-%m-%dT00:00:00") + zone  # 22:00 UTC: inside
    from_local_two_after = (at + timedelta(hours=2)).strftime("%Y-%m-%dT02:00:00") + zone  # 00:00 UTC next: after

    def deployments(since: str) -> int:
        response = admin().get(reverse("insights-dora"), {"filter[since]": since})
        assert response.status_code == 200, response.content
        return response.json()["overall"]["deploymentFrequency"]["deployments"]

    assert deployments(from_local_midnight_after) == 1
    assert deployments(from_local_two_after) == 0
    body = admin().get(reverse("insights-dora"), {"filter[since]": from_local_midnight_after}).json()
    assert body["window"]["since"] == (at - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    lead = body["overall"]["leadTimeForChanges"]
    assert lead["seconds"] == 6 * 3600 and lead["band"] == "elite"


@pytest.mark.django_db
@override_settings(
    INSIGHTS={
        "production_targets": ["live"],
        "rollback_actions": ["rollback"],
        "hotfix_branch_prefixes": ["hotfix/"],
        "failure_window_hours": 24,
    }
)
def test_the_operator_chooses_the_production_targets() -> None:
    build = make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)
    dated_release(build, "production", at=datetime.now(UTC) - timedelta(days=1))
    body = admin().get(reverse("insights-dora")).json()
    assert body["productionTargets"] == ["live"]
    assert body["overall"]["deploymentFrequency"]["deployments"] == 0
    assert body["pipelines"] == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"filter[since]": "yesterday"}, "filter[since] takes"),
        ({"filter[since]": "999d"}, "1 to 366 days"),
        ({"filter[since]": "2999-01-01"}, "before now"),
        ({"filter[labels]": "team"}, "key=value"),
        ({"filter[pipeline]": "a/b/c/d"}, "filter[pipeline] takes"),
        ({"filter[status]": "failed"}, "unknown filter"),
    ],
)
def test_bad_filters_are_a_400_saying_how(params: dict[str, str], says: str) -> None:
    response = admin().get(reverse("insights-dora"), params)
    assert response.status_code == 400
    assert says in response.json()["message"]
