"""Estafette's statistics routes (``runs.stats``), for every run kind: the figures from the runs' times."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from builds.testing import make_build, make_pipeline
from estafette.testing import client_for, make_user
from releases.testing import make_release
from runs import stats
from runs.models import RunStatus
from runs.registry import run_kind

API = "/api/pipelines/github.com/acme/api"


@pytest.fixture
def client() -> Any:
    return client_for(make_user())


@pytest.mark.django_db
def test_it_counts_sums_ranks_and_dates_the_builds(client: Any) -> None:
    # given two pipelines: api with two finished builds (60 s and 30 s) and a running one, web with one build
    t0 = timezone.now() - timedelta(hours=3)
    api, web = make_pipeline("api"), make_pipeline("web")
    make_build(
        api, status=RunStatus.SUCCEEDED, now=t0, started=t0 + timedelta(seconds=5), finished=t0 + timedelta(seconds=65)
    )
    make_build(
        api,
        status=RunStatus.FAILED,
        now=t0 + timedelta(minutes=1),
        started=t0 + timedelta(minutes=1),
        finished=t0 + timedelta(minutes=1, seconds=30),
    )
    make_build(api, status=RunStatus.RUNNING, now=t0 + timedelta(minutes=2))
    make_build(web, status=RunStatus.SUCCEEDED, now=t0 - timedelta(days=30), finished=t0 - timedelta(days=30))

    # when
    count = client.get("/api/stats/buildscount?filter[since]=1d").json()
    failed = client.get("/api/stats/buildscount?filter[status]=failed").json()
    total = client.get("/api/stats/buildsduration?filter[since]=1d").json()
    most = client.get("/api/stats/mostbuilds").json()
    adoption = client.get("/api/stats/buildsadoption").json()
    pipelines = client.get("/api/stats/pipelinescount?filter[status]=running").json()

    # then
    assert count == {"count": 3}
    assert failed == {"count": 1}
    assert total == {"duration": 90 * 10**9}  # the running build is not summed
    assert [(row["repo_name"], row["nr_records"]) for row in most["items"]] == [("api", 3), ("web", 1)]
    assert most["pagination"]["totalItems"] == 2
    assert len(adoption["datetimes"]) == 2 and adoption["datetimes"][0] < adoption["datetimes"][1]
    assert pipelines == {"count": 1}


@pytest.mark.django_db
def test_a_pipelines_durations_are_its_latest_succeeded_runs_oldest_first(client: Any) -> None:
    # given three succeeded builds and a failed one
    t0 = timezone.now() - timedelta(hours=1)
    pipeline = make_pipeline("api")
    for n in range(3):
        start = t0 + timedelta(minutes=n)
        make_build(
            pipeline,
            status=RunStatus.SUCCEEDED,
            now=start,
            started=start + timedelta(seconds=2),
            finished=start + timedelta(seconds=10 + n),
        )
    make_build(pipeline, status=RunStatus.FAILED, now=t0 + timedelta(minutes=5), finished=t0 + timedelta(minutes=6))

    # when
    last_two = client.get(f"{API}/stats/buildsdurations?filter[last]=2").json()["durations"]
    every = client.get(f"{API}/stats/buildsdurations?filter[status]=all").json()["durations"]
    too_many = client.get(f"{API}/stats/buildsdurations?filter[last]=100000")

    # then
    assert [(d["pendingDuration"], d["duration"]) for d in last_two] == [
        (2 * 10**9, 9 * 10**9),
        (2 * 10**9, 10 * 10**9),
    ]
    assert len(every) == 4
    assert too_many.status_code == 400 and "filter[last]" in too_many.json()["message"]


@pytest.mark.django_db
def test_release_durations_name_their_target_and_measurements_are_empty_without_columns(client: Any) -> None:
    # given a succeeded release
    build = make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)
    release = make_release(build, "production", action="deploy", status=RunStatus.SUCCEEDED)
    kind = run_kind("release")
    if stats.has_measurement(kind, "cpu"):  # once the kind's table has the builder's measurements
        kind.model.objects.filter(pk=release.pk).update(cpu_max_usage=0.5)

    # when
    [durations] = client.get(f"{API}/stats/releasesdurations").json()["durations"]
    cpu = client.get(f"{API}/stats/releasescpu").json()["measurements"]

    # then
    assert (durations["name"], durations["action"]) == ("production", "deploy")
    if stats.has_measurement(kind, "cpu"):
        assert [(m["name"], m["cpuMaxUsage"]) for m in cpu] == [("production", 0.5)]
    else:
        assert cpu == []  # no column, no figures (not an error)
