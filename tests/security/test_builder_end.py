"""Attacks on the builder's end route, ``POST /api/builder/v1/{kind}/{id}/end`` (the last log batch and the final
status in one request, issue 17): the same guarantees as ``…/logs`` and ``…/status`` apart — only the job token of
exactly that run, for that run only, within the size limit, and never once the run has ended. Each refusal changes
nothing: no status, no log record, no line.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, override_settings

from builder.contracts import CONTRACT_VERSION
from builds.models import Build
from builds.testing import make_build
from estafette.lib.jobtokens import issue_job_token
from runs.callbacks import callback_end_url
from runs.models import LogRecord, LogSearchLine, RunStatus

pytestmark = pytest.mark.django_db


def end_body(build: Build, *, status: str = "succeeded", text: str = "forged line", run_id: int | None = None) -> dict:
    event = {
        "contractVersion": CONTRACT_VERSION,
        "eventType": "updateStatus",
        "jobType": "build",
        "id": str(run_id or build.pk),
        "timestamp": "2030-01-01T00:00:00Z",
        "status": status,
        "attempt": "a1",
    }
    line = {"line": 1, "timestamp": "2030-01-01T00:00:00Z", "streamType": "stdout", "text": text}
    batch = {
        "contractVersion": CONTRACT_VERSION,
        "seq": 1,
        "attempt": "a1",
        "lines": [{"step": "build", "logLine": line}],
    }
    return {"contractVersion": CONTRACT_VERSION, "status": event, "batch": batch}


def post_end(build: Build, body: dict[str, Any] | bytes, token: str | None, **headers: str) -> tuple[int, dict]:
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    url = callback_end_url(kind="build", run_id=build.pk, base_url="")
    response = Client().generic("POST", url, data, content_type="application/json", **headers)
    return response.status_code, response.json()


def token_of(build: Build) -> str:
    return issue_job_token(kind="build", run_id=build.pk)


def assert_unchanged(build: Build, status: str) -> None:
    build.refresh_from_db()
    assert build.status == status
    assert not LogRecord.objects.filter(run_id=build.pk).exists()
    assert not LogSearchLine.objects.filter(text="forged line").exists()


@pytest.mark.parametrize("token", [None, "forged", "other-key"], ids=["none", "forged", "signed with another key"])
def test_an_end_without_a_valid_job_token_is_401(token: str | None) -> None:
    build = make_build(status=RunStatus.RUNNING)
    if token == "other-key":  # the run's own claim, signed by someone who does not hold the server's key
        with override_settings(SECRET_KEY="not the server's key"):
            token = issue_job_token(kind="build", run_id=build.pk)
    status, answer = post_end(build, end_body(build), token)
    assert (status, answer["code"]) == (401, "Unauthorized")
    assert_unchanged(build, RunStatus.RUNNING)


def test_an_end_with_a_cookie_and_no_token_is_401() -> None:
    build = make_build(status=RunStatus.RUNNING)
    status, _ = post_end(build, end_body(build), None, HTTP_COOKIE="sessionid=whatever")
    assert status == 401
    assert_unchanged(build, RunStatus.RUNNING)


def test_the_job_token_of_another_run_is_403_and_never_echoed() -> None:
    # given two running builds; build A's builder (or a stage that read its token) tries to end build B
    build_a, build_b = make_build(status=RunStatus.RUNNING), make_build(status=RunStatus.RUNNING)
    status, answer = post_end(build_b, end_body(build_b), token_of(build_a))
    # then it is forbidden, names no token, and build B runs on untouched
    assert status == 403
    assert "another run" in answer["message"]
    assert token_of(build_a) not in json.dumps(answer)
    assert_unchanged(build_b, RunStatus.RUNNING)


def test_an_end_naming_another_run_in_its_body_is_400() -> None:
    # given build A's own token and URL, with a status event naming build B
    build_a, build_b = make_build(status=RunStatus.RUNNING), make_build(status=RunStatus.RUNNING)
    status, answer = post_end(build_a, end_body(build_a, run_id=build_b.pk), token_of(build_a))
    # then it is refused, and neither build changes (nor is A's batch stored: both or nothing)
    assert status == 400
    assert "post each run's end to its own endUrl" in answer["message"]
    assert_unchanged(build_a, RunStatus.RUNNING)
    assert_unchanged(build_b, RunStatus.RUNNING)


def test_a_batch_of_another_attempt_is_400() -> None:
    build = make_build(status=RunStatus.RUNNING)
    body = end_body(build)
    body["batch"]["attempt"] = "someone-else"
    status, answer = post_end(build, body, token_of(build))
    assert status == 400
    assert "batch.attempt" in answer["message"]
    assert_unchanged(build, RunStatus.RUNNING)


@pytest.mark.parametrize("status_name", ["running", "pending", "canceling"])
def test_an_end_that_is_not_a_final_status_is_400(status_name: str) -> None:
    build = make_build(status=RunStatus.RUNNING)
    status, answer = post_end(build, end_body(build, status=status_name), token_of(build))
    assert status == 400
    assert answer["message"].startswith("status")
    assert_unchanged(build, RunStatus.RUNNING)


def test_an_oversized_end_is_413_before_it_is_read(settings: Any) -> None:
    build = make_build(status=RunStatus.RUNNING)
    over = post_end(build, b" " * (settings.MAX_LOG_BATCH_BYTES + 1), token_of(build))
    claimed = post_end(build, b"{}", token_of(build), CONTENT_LENGTH=str(1024**3))
    for status, answer in (over, claimed):
        assert status == 413
        assert f"({settings.MAX_LOG_BATCH_BYTES} bytes)" in answer["message"]
    assert_unchanged(build, RunStatus.RUNNING)


@pytest.mark.parametrize("final", [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED])
def test_an_end_after_the_run_ended_is_409_and_changes_nothing(final: str) -> None:
    # given a build that has ended (by its builder, the sweeper or a cancel), and its job token (leaked by a stage)
    build = make_build(status=final)
    # when the token is used to end it again with forged lines, as failed or succeeded
    answers = [post_end(build, end_body(build, status=other), token_of(build)) for other in ("failed", "succeeded")]
    # then each is refused as final, and the build and its log are as they were
    for status, answer in answers:
        assert status == 409
        assert "has ended" in answer["message"]
    assert_unchanged(build, final)


def test_a_retried_end_is_applied_once() -> None:
    # given a build its builder ended, whose answer was lost on the way back
    build = make_build(status=RunStatus.RUNNING)
    assert post_end(build, end_body(build, text="real line"), token_of(build))[0] == 200
    # when the builder retries the same end, then it gets 409 (its retries stop) and the line is stored once
    assert post_end(build, end_body(build, text="real line"), token_of(build))[0] == 409
    build.refresh_from_db()
    assert build.status == RunStatus.SUCCEEDED
    assert LogSearchLine.objects.filter(run_id=build.pk, text="real line").count() == 1
