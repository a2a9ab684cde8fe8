"""A run that ends failed or canceled ends the steps its log still shows running (a killed builder never says so)."""

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from builder.contracts import TailLogLine
from builds.models import Build
from builds.services import build_cancel, build_finish
from builds.testing import make_build
from releases.services import release_create, release_finish
from runs.models import LogRecord, RunStatus
from runs.selectors import log_steps
from runs.services import log_append, log_record_create
from runs.testing import output_line


def running_log(build: Build) -> LogRecord:
    """The log a builder leaves when it is killed mid-stage: clone done, build (and its service) still running."""
    record = log_record_create(pipeline=build.pipeline, run_kind=Build.kind, run_id=build.pk)
    log_append(
        record=record,
        seq=1,
        lines=[
            TailLogLine(step="git-clone", status="SUCCEEDED", exit_code=0, duration=1_000_000_000),
            output_line("build", "compiling", 1),
            TailLogLine(step="build", status="RUNNING"),
            TailLogLine(step="postgres", type="service", parent_stage="build", status="RUNNING"),
            TailLogLine(step="deploy", status="PENDING"),
        ],
    )
    return record


def statuses(record: LogRecord) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for step in log_steps(record=record):
        found[step["step"]] = step["status"]
        for service in step["services"]:
            found[f"{step['step']}/{service['step']}"] = service["status"]
    return found


@pytest.mark.django_db
def test_a_canceled_build_whose_builder_was_killed_shows_its_running_stage_canceled() -> None:
    # given a running build whose builder reported the build stage running, then was killed by a forced cancel
    build = make_build(status=RunStatus.RUNNING)
    record = running_log(build)
    build_cancel(build=build)  # running → canceling
    # when the cancel is forced (the job is gone; no builder reports the stage's end)
    build_cancel(build=build)
    # then every step still open ends canceled; the finished one keeps its outcome
    assert build.status == RunStatus.CANCELED
    assert statuses(record) == {
        "git-clone": "SUCCEEDED",
        "build": "CANCELED",
        "build/postgres": "CANCELED",
        "deploy": "CANCELED",
    }


@pytest.mark.django_db
def test_a_lost_build_shows_its_running_stage_failed_through_the_api(admin_user: Any) -> None:
    # given a running build whose builder died mid-stage
    build = make_build(status=RunStatus.RUNNING)
    running_log(build)
    # when the run is failed for it (the sweeper's verdict, or the builder's last word without the stage's)
    assert build.lose()
    # then the log the UI reads shows no step running
    client = APIClient()
    client.force_authenticate(admin_user)
    response = client.get(f"/api/pipelines/github.com/acme/api/builds/{build.pk}/logs")
    assert response.status_code == 200
    body = json.loads(b"".join(response.streaming_content))
    steps = {step["step"]: step["status"] for step in body["steps"]}
    assert steps == {"git-clone": "SUCCEEDED", "build": "FAILED", "deploy": "FAILED"}


@pytest.mark.django_db
def test_a_succeeded_run_keeps_the_steps_its_builder_reported() -> None:
    # given a running build whose log (oddly) still shows a running stage
    build = make_build(status=RunStatus.RUNNING)
    record = running_log(build)
    # when the builder reports success
    assert build_finish(build=build, status=RunStatus.SUCCEEDED)
    # then the steps are the builder's report, untouched
    assert statuses(record)["build"] == "RUNNING"


@pytest.mark.django_db
def test_a_failed_release_ends_only_its_own_steps() -> None:
    # given a running build with a running stage, and a release of an earlier version whose stage is running
    released = make_build(status=RunStatus.SUCCEEDED)
    build = make_build(released.pipeline, status=RunStatus.RUNNING)
    build_record = running_log(build)
    release = release_create(pipeline=build.pipeline, name="staging", release_version=released.build_version)
    release_record = log_record_create(pipeline=build.pipeline, run_kind=release.kind, run_id=release.pk)
    log_append(record=release_record, seq=1, lines=[TailLogLine(step="deploy", status="RUNNING")])
    release.start()
    # when the release fails
    assert release_finish(release=release, status=RunStatus.FAILED)
    # then its stage failed, and the build's log is untouched
    assert statuses(release_record) == {"deploy": "FAILED"}
    assert statuses(build_record)["build"] == "RUNNING"
