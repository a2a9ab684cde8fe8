"""The builder endpoints: job-token scope, bodies, status transitions, heartbeats, attempts and masking."""

import json
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from builder.contracts import CONTRACT_VERSION
from builder.secrets import encrypt, generate_key, parse_key
from builds.models import Build
from builds.testing import make_build
from estafette.lib.jobtokens import issue_job_token
from releases.models import Release
from releases.testing import make_release
from runs.callbacks import callback_urls
from runs.models import LogRecord, LogStep, RunStatus
from runs.selectors import log_entries_after, log_record_latest

KEY = generate_key()


def urls(kind: str, run_id: int) -> tuple[str, str]:
    return callback_urls(kind=kind, run_id=run_id, base_url="")


def post(url: str, body: Any, token: str | None) -> tuple[int, dict[str, Any]]:
    client = APIClient()
    headers = {} if token is None else {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.generic("POST", url, data, content_type="application/json", **headers)
    return response.status_code, response.json()


def status_event(run_id: int, status: str | None, *, kind: str = "build", attempt: str | None = "a1") -> dict:
    event: dict[str, Any] = {
        "contractVersion": CONTRACT_VERSION,
        "eventType": "updateStatus" if status else "heartbeat",
        "jobType": kind,
        "id": str(run_id),
        "timestamp": "2024-01-01T00:00:00Z",
    }
    if status:
        event["status"] = status
    if attempt:
        event["attempt"] = attempt
    return event


def batch(seq: int, *texts: str, attempt: str | None = "a1", step: str = "build") -> dict:
    lines = [
        {"step": step, "logLine": {"line": n, "timestamp": "2024-01-01T00:00:00Z", "streamType": "stdout", "text": t}}
        for n, t in enumerate(texts, 1)
    ]
    body: dict[str, Any] = {"contractVersion": CONTRACT_VERSION, "seq": seq, "lines": lines}
    if attempt:
        body["attempt"] = attempt
    return body


def line_with(**log_line: Any) -> dict[str, Any]:
    """A TailLogLine's JSON whose ``logLine`` has ``log_line``'s fields changed (None: left out)."""
    fields = {"line": 1, "timestamp": "2024-01-01T00:00:00Z", "streamType": "stdout", "text": "x"} | log_line
    return {"step": "build", "logLine": {key: value for key, value in fields.items() if value is not None}}


def report(build: Build, status: str | None, **options: Any) -> tuple[int, dict[str, Any]]:
    return post(urls("build", build.pk)[0], status_event(build.pk, status, **options), token_of(build))


def token_of(build: Build) -> str:
    return issue_job_token(kind="build", run_id=build.pk)


def texts_of(record: LogRecord) -> list[str]:
    entries, _ = log_entries_after(record=record, after_seq=0)
    return [entry["logLine"]["text"] for entry in entries if "logLine" in entry]


# -- job tokens -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_refuses_a_token_of_another_run_and_never_echoes_it() -> None:
    # given two builds and a release with build B's id
    build_a, build_b = make_build(status=RunStatus.RUNNING), make_build(status=RunStatus.RUNNING)
    token_a = token_of(build_a)
    # when build A's token is used for build B, and for a release with B's id
    answers = [
        post(urls("build", build_b.pk)[1], batch(1, "x"), token_a),
        post(urls("build", build_b.pk)[0], status_event(build_b.pk, "failed"), token_a),
        post(urls("release", build_a.pk)[1], batch(1, "x"), token_a),
    ]
    # then each is forbidden with a reason, nothing is stored, and the token is not in the answer
    for status, body in answers:
        assert status == 403
        assert "another run" in body["message"]
        assert token_a not in json.dumps(body)
    assert not LogRecord.objects.exists()
    build_b.refresh_from_db()
    assert build_b.status == RunStatus.RUNNING


@pytest.mark.django_db
@pytest.mark.parametrize("authorization", [None, "garbage", "Token abc", "Bearer "])
def test_it_answers_401_without_a_valid_bearer_token(authorization: str | None) -> None:
    build = make_build(status=RunStatus.RUNNING)
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = APIClient().generic(
        "POST", urls("build", build.pk)[1], json.dumps(batch(1, "x")), content_type="application/json", **headers
    )
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}
    assert response.json()["code"] == "Unauthorized"


@pytest.mark.django_db
def test_it_answers_401_for_an_expired_token(settings: Any) -> None:
    # given a token signed a long time ago (max_age is checked against the signature's timestamp)
    from unittest import mock

    build = make_build(status=RunStatus.RUNNING)
    with mock.patch("django.core.signing.time.time", return_value=1_000_000_000):
        old_token = token_of(build)
    # when / then
    status, body = post(urls("build", build.pk)[1], batch(1, "x"), old_token)
    assert status == 401
    assert "expired" in body["message"]


# -- bodies -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b"{not json", "not JSON"),
        ({"seq": 1, "lines": [{"step": "build", "depth": "deep"}]}, "lines[0].depth"),
        ({"seq": "1", "lines": []}, "seq"),
        ({"lines": []}, "seq: is required"),
        ({"seq": 1, "lines": {"step": "build"}}, "lines: expected a list"),
        ({"seq": 1, "lines": [{"step": "build"}, "x"]}, "lines[1]: expected an object"),
        ({"seq": 1, "lines": [{"step": "build"}, {"type": "stage"}]}, "lines[1].step: is required"),
        ({"seq": 1, "lines": [{"step": " "}]}, "lines[0].step: must be a stage or service name of 1 to 256"),
        ({"seq": 1, "lines": [{"step": "x" * 257}]}, "lines[0].step: must be a stage or service name"),
        ({"seq": 1, "lines": [{"step": "x", "parentStage": "p" * 257}]}, "lines[0].parentStage: must be a stage"),
        ({"seq": 1, "lines": [{"step": "x", "type": "sidecar"}]}, "lines[0].type: expected one of stage, service"),
        ({"seq": 1, "lines": [{"step": "x", "status": "DONE"}]}, "lines[0].status: expected one of UNKNOWN, PENDING"),
        ({"seq": 1, "lines": [{"step": "x", "exitCode": "1"}]}, "lines[0].exitCode: expected an integer, got str"),
        ({"seq": 1, "lines": [{"step": "x", "duration": True}]}, "lines[0].duration: expected an integer, got bool"),
        ({"seq": 1, "lines": [{"step": "x", "runIndex": -1}]}, "lines[0].runIndex: must be at least 0, got -1"),
        ({"seq": 1, "lines": [{"step": "x", "depth": -1}]}, "lines[0].depth: must be at least 0, got -1"),
        ({"seq": 1, "lines": [{"step": "x", "autoInjected": "yes"}]}, "lines[0].autoInjected: expected a boolean"),
        ({"seq": 1, "lines": [{"step": "x", "image": {"name": 5}}]}, "lines[0].image.name: expected a string"),
        ({"seq": 1, "lines": [{"step": "x", "image": {"name": "a", "imageSize": 1.5}}]}, "lines[0].image.imageSize"),
        ({"seq": 1, "lines": [line_with(text=5)]}, "lines[0].logLine.text: expected a string, got int"),
        ({"seq": 1, "lines": [line_with(streamType="stdin")]}, "lines[0].logLine.streamType: expected one of stdout"),
        ({"seq": 1, "lines": [line_with(timestamp=None)]}, "lines[0].logLine.timestamp: is required"),
        ({"seq": 1, "lines": [line_with(line=-1)]}, "lines[0].logLine.line: must be at least 0, got -1"),
        ({"seq": 1, "lines": [{"step": "x"}] * 10_001}, "lines: a batch holds at most 10000 lines, got 10001"),
    ],
)
def test_it_refuses_a_malformed_batch_naming_the_line_and_field(body: Any, names: str) -> None:
    build = make_build(status=RunStatus.RUNNING)
    status, answer = post(urls("build", build.pk)[1], body, token_of(build))
    assert status == 400
    assert names in answer["message"]
    assert not LogStep.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "names"),
    [
        ({"status": "canceling"}, "not 'canceling'"),
        ({"jobType": "release"}, "sent to the URL of build"),
        ({"id": "999999"}, "sent to the URL of build"),
        ({"eventType": "explode"}, "eventType"),
    ],
)
def test_it_refuses_a_status_event_that_does_not_fit_the_run(change: dict, names: str) -> None:
    build = make_build(status=RunStatus.RUNNING)
    status, answer = post(urls("build", build.pk)[0], {**status_event(build.pk, "failed"), **change}, token_of(build))
    assert status == 400
    assert names in answer["message"]
    build.refresh_from_db()
    assert build.status == RunStatus.RUNNING


@pytest.mark.django_db
def test_it_answers_404_for_a_run_that_does_not_exist() -> None:
    token = issue_job_token(kind="build", run_id=123456789)
    status, answer = post(urls("build", 123456789)[0], status_event(123456789, "running"), token)
    assert status == 404
    assert "build 123456789" in answer["message"]


# -- statuses ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("before", "reported", "after"),
    [
        (RunStatus.PENDING, "running", RunStatus.RUNNING),
        (RunStatus.RUNNING, "succeeded", RunStatus.SUCCEEDED),
        (RunStatus.RUNNING, "failed", RunStatus.FAILED),
        (RunStatus.RUNNING, "canceled", RunStatus.CANCELED),  # the job was stopped from outside
        (RunStatus.CANCELING, "canceled", RunStatus.CANCELED),
        (RunStatus.CANCELING, "succeeded", RunStatus.CANCELED),  # the cancel wins
        (RunStatus.PENDING, "succeeded", RunStatus.PENDING),  # refused by the state machine: 200, nothing changes
    ],
)
def test_it_moves_the_run_as_the_builder_reports(before: str, reported: str, after: str) -> None:
    build = make_build(status=before)
    status, answer = report(build, reported)
    assert (status, answer) == (200, {"status": after})
    build.refresh_from_db()
    assert build.status == after
    # a final run's job is due for removal
    assert (build.job_cleanup_at is not None) == (after in ("succeeded", "failed", "canceled"))


@pytest.mark.django_db
def test_it_records_heartbeats_without_changing_the_status() -> None:
    # given a running build
    build = make_build(status=RunStatus.RUNNING)
    assert build.last_heartbeat_at is None
    # when the builder sends a heartbeat
    status, answer = report(build, None)
    # then its last heartbeat is recorded and it still runs
    assert (status, answer) == (200, {"status": "running"})
    build.refresh_from_db()
    assert build.last_heartbeat_at is not None
    assert build.status == RunStatus.RUNNING


@pytest.mark.django_db
def test_it_takes_reports_for_releases_too() -> None:
    release = make_release(make_build(status=RunStatus.SUCCEEDED))
    token = issue_job_token(kind="release", run_id=release.pk)
    status_url, logs_url = urls("release", release.pk)
    assert post(status_url, status_event(release.pk, "running", kind="release"), token)[0] == 200
    assert post(logs_url, batch(1, "deploying"), token)[0] == 201
    assert post(status_url, status_event(release.pk, "succeeded", kind="release"), token)[0] == 200
    assert Release.objects.get(pk=release.pk).status == RunStatus.SUCCEEDED
    record = log_record_latest(run_kind="release", run_id=release.pk)
    assert record is not None and texts_of(record) == ["deploying"]


# -- log batches and attempts -----------------------------------------------------------------


@pytest.mark.django_db
def test_it_stores_a_batch_once_per_attempt_and_seq() -> None:
    # given a running build
    build = make_build(status=RunStatus.RUNNING)
    logs_url = urls("build", build.pk)[1]
    # when the same batch arrives twice
    first = post(logs_url, batch(1, "only once"), token_of(build))
    again = post(logs_url, batch(1, "only once"), token_of(build))
    # then it is stored once: 201, then 200
    assert (first, again) == ((201, {"stored": True}), (200, {"stored": False}))
    record = LogRecord.objects.get(run_kind="build", run_id=build.pk)
    assert texts_of(record) == ["only once"]


@pytest.mark.django_db
def test_it_keeps_a_rerun_pod_as_a_new_log_record_of_the_same_run() -> None:
    # given a build whose first builder reported running and some lines, then died with its pod
    build = make_build()
    assert report(build, "running", attempt="first")[1] == {"status": "running"}
    logs_url = urls("build", build.pk)[1]
    post(logs_url, batch(1, "first try", attempt="first"), token_of(build))
    # when Kubernetes re-runs the pod: a new builder process reports with its own attempt, seqs from 1 again
    assert report(build, "running", attempt="second")[1] == {"status": "running"}
    assert post(logs_url, batch(1, "second try", attempt="second"), token_of(build))[0] == 201
    assert report(build, "succeeded", attempt="second")[1] == {"status": "succeeded"}
    # then the run has two log records, attempt 1 and 2, each with its own lines; the latest is the second
    records = list(LogRecord.objects.filter(run_kind="build", run_id=build.pk).order_by("attempt"))
    assert [(r.attempt, r.attempt_key) for r in records] == [(1, "first"), (2, "second")]
    assert [texts_of(r) for r in records] == [["first try"], ["second try"]]
    assert log_record_latest(run_kind="build", run_id=build.pk) == records[1]


@pytest.mark.django_db
def test_the_first_attempt_claims_a_record_opened_before_the_job_started() -> None:
    # given a record the dispatcher opened for the build before its job ran
    from runs.services import log_record_create

    build = make_build()
    opened = log_record_create(pipeline=build.pipeline, run_kind="build", run_id=build.pk)
    # when the builder reports
    report(build, "running", attempt="only")
    post(urls("build", build.pk)[1], batch(1, "hello", attempt="only"), token_of(build))
    # then its lines are in that record
    assert list(LogRecord.objects.filter(run_kind="build", run_id=build.pk)) == [opened]
    opened.refresh_from_db()
    assert opened.attempt_key == "only"
    assert texts_of(opened) == ["hello"]


@pytest.mark.django_db
def test_it_masks_secret_values_it_can_decrypt_before_storing_lines() -> None:
    # given a build whose manifest holds a secret sealed with the installation key
    key = generate_key()
    envelope = encrypt("hunter2-is-secret", key=parse_key(key), allow_list="github.com/acme/api")
    manifest = f"stages:\n  build:\n    image: alpine\n    password: {envelope}\n    commands:\n    - echo hi\n"
    with override_settings(SECRET_DECRYPTION_KEY=key):
        build = make_build(manifest=manifest, status=RunStatus.RUNNING)
        # when a builder lets the value through
        post(urls("build", build.pk)[1], batch(1, "password is hunter2-is-secret!", "fine"), token_of(build))
    # then the API stored it masked
    record = LogRecord.objects.get(run_kind="build", run_id=build.pk)
    assert texts_of(record) == ["password is ***!", "fine"]
