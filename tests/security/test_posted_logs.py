"""``POST …/builds|releases|bots/{id}/logs``: Estafette's builders post a run's whole log there at the end of a job.
Only that run's job may (its job token); people, other runs' jobs and finished runs are refused and nothing is stored.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from builds.testing import make_build, make_pipeline
from estafette.lib.jobtokens import issue_job_token
from estafette.testing import client_for, make_user, response_json
from runs.models import LogRecord, RunStatus

API = "/api/pipelines/github.com/acme/api"
LOG = {
    "repoSource": "github.com",
    "repoOwner": "acme",
    "repoName": "api",
    "steps": [
        {
            "step": "build",
            "image": {"name": "golang", "tag": "1.22", "isPulled": True, "imageSize": 9, "pullDuration": 7},
            "duration": 5_000_000_000,
            "exitCode": 0,
            "status": "SUCCEEDED",
            "logLines": [{"line": 1, "timestamp": "2030-01-01T00:00:00Z", "streamType": "stdout", "text": "built"}],
            "nestedSteps": [
                {
                    "step": "unit",
                    "depth": 1,
                    "status": "SUCCEEDED",
                    "logLines": [
                        {"line": 1, "timestamp": "2030-01-01T00:00:01Z", "streamType": "stdout", "text": "ok"}
                    ],
                }
            ],
            "services": [{"step": "db", "status": "SUCCEEDED", "logLines": []}],
        }
    ],
}


def job_client(kind: str, run_id: int) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_job_token(kind=kind, run_id=run_id)}")
    return client


@pytest.mark.django_db
def test_the_runs_job_posts_its_whole_log_once() -> None:
    # given a running build
    build = make_build(make_pipeline("api"), status=RunStatus.RUNNING)
    url = f"{API}/builds/{build.pk}/logs"

    # when its job posts the log, twice (a retry)
    first = job_client("build", build.pk).post(url, LOG, format="json")
    again = job_client("build", build.pk).post(url, LOG, format="json")

    # then it is stored once, as Estafette's reader shows it
    assert (first.status_code, again.status_code) == (201, 200)
    shown = response_json(client_for(make_user()).get(url))
    [step] = shown["steps"]
    assert (step["step"], step["status"], step["duration"], step["image"]["tag"]) == (
        "build",
        "SUCCEEDED",
        5 * 10**9,
        "1.22",
    )
    assert [line["text"] for line in step["logLines"]] == ["built"]
    assert step["nestedSteps"][0]["logLines"][0]["text"] == "ok"
    assert step["services"][0]["step"] == "db"


@pytest.mark.django_db
def test_nobody_else_posts_a_log() -> None:
    # given a running build and another one
    pipeline = make_pipeline("api")
    build, other = make_build(pipeline, status=RunStatus.RUNNING), make_build(pipeline, status=RunStatus.RUNNING)
    url = f"{API}/builds/{build.pk}/logs"

    # attacks: a signed-in person, no token, another run's job token, a malformed body
    person = client_for(make_user()).post(url, LOG, format="json")
    anonymous = APIClient().post(url, LOG, format="json")
    other_job = job_client("build", other.pk).post(url, LOG, format="json")
    malformed = job_client("build", build.pk).post(url, {"steps": [{"step": ""}]}, format="json")

    # outcome: refused, nothing stored
    assert [a.status_code for a in (person, anonymous, other_job, malformed)] == [401, 401, 403, 400]
    assert not LogRecord.objects.filter(run_id=build.pk).exists()


@pytest.mark.django_db
def test_a_finished_run_takes_no_log(db: Any) -> None:
    build = make_build(make_pipeline("api"), status=RunStatus.SUCCEEDED)
    answer = job_client("build", build.pk).post(f"{API}/builds/{build.pk}/logs", LOG, format="json")
    assert answer.status_code == 409
    assert not LogRecord.objects.filter(run_id=build.pk).exists()
