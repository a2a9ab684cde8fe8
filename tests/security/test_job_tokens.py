"""A job token ends with its run, against the real stack over HTTP.

Seen before: a finished build's log was extended with forged lines under a new attempt, which hid the real log (the
UI shows the latest attempt), for as long as the token lived (6 hours). Now every report for a finished run — status,
heartbeat or log batch, of any attempt — is refused with 409 and the API shows exactly what it showed before.

The token used here is what the server issues for the run (signed with the server's own key, from its data dir): the
token a builder holds, and a stage or a log could leak.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from builder.contracts import CONTRACT_VERSION
from estafette.jobs.local import LocalProcessJobRunner
from estafette.lib.jobtokens import issue_job_token
from estafette.queue.jetstream import QueueSettings
from tests.harness.system import System, start_system
from tests.tooling.waiting import wait_until

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]

QUICK = """\
stages:
  build:
    image: alpine:3.20
    commands:
    - echo "the real log"
"""

SLOW = """\
stages:
  build:
    image: alpine:3.20
    commands:
    - echo "started"
    - sleep 600
"""


def job_token(system: System, kind: str, run_id: str) -> str:
    """The job token of a run as the server issues it (its key is in its data dir)."""
    key = (system.processes.data_dir / "secret-key").read_text().strip()
    with override_settings(SECRET_KEY=key):
        return issue_job_token(kind=kind, run_id=int(run_id))


def report(system: System, path: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{system.processes.url}/api/builder/v1/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def forged_reports(run_id: str, attempt: str) -> list[tuple[str, dict[str, Any]]]:
    """What someone holding a finished build's token tries: open a new attempt, fill it with lines, change the
    status; and the same with the original attempt's key."""
    event = {"contractVersion": CONTRACT_VERSION, "jobType": "build", "id": run_id, "timestamp": "2030-01-01T00:00:00Z"}
    line = {"step": "build", "logLine": {"line": 1, "timestamp": "2030-01-01T00:00:00Z", "streamType": "stdout"}}
    lines = [{**line, "logLine": {**line["logLine"], "text": "FORGED: all tests passed"}}]
    return [
        (f"build/{run_id}/status", {**event, "eventType": "updateStatus", "status": "running", "attempt": attempt}),
        (f"build/{run_id}/logs", {"contractVersion": CONTRACT_VERSION, "seq": 1, "attempt": attempt, "lines": lines}),
        (f"build/{run_id}/logs", {"contractVersion": CONTRACT_VERSION, "seq": 99, "lines": lines}),
        (f"build/{run_id}/status", {**event, "eventType": "heartbeat", "attempt": attempt}),
        (f"build/{run_id}/status", {**event, "eventType": "updateStatus", "status": "failed", "attempt": attempt}),
    ]


def what_the_api_shows(system: System, path: str) -> dict[str, Any]:
    build = system.api.get(path)
    return {
        "status": build["buildStatus"],
        "log": system.api.get(f"{path}/logs"),
        "attempts": system.api.get(f"{path}/alllogs"),
    }


def has_logged(system: System, path: str, text: str) -> bool:
    status, log = system.api.call("GET", f"{path}/logs")
    return status == 200 and text in json.dumps(log)


def assert_refused(answers: list[tuple[int, dict[str, Any]]]) -> None:
    for status, body in answers:
        assert status == 409, body
        assert set(body) == {"code", "message"}
        assert "has ended" in body["message"]


def test_a_finished_builds_token_can_neither_extend_nor_hide_its_log(system: System) -> None:
    # given a build that ran to the end in the real builder
    repository = system.repository("acme", "app", QUICK)
    system.push(repository)
    build = system.wait_for_build("local/acme/app")
    path = f"/pipelines/local/acme/app/builds/{build['id']}"
    assert system.wait_until_final(path, "buildStatus")["buildStatus"] == "succeeded"
    before = what_the_api_shows(system, path)
    assert "the real log" in json.dumps(before["log"])
    # when its job token reports lines under a new attempt, and under its own, and a status
    token = job_token(system, "build", build["id"])
    answers = [report(system, url, token, body) for url, body in forged_reports(build["id"], "forged-attempt")]
    # then each report is refused with 409, and the API shows what it showed before: no new attempt, no line
    assert_refused(answers)
    after = what_the_api_shows(system, path)
    assert after == before
    assert "FORGED" not in json.dumps(after)


def test_a_canceled_builds_token_is_refused_too(system: System) -> None:
    # given a build canceled through the API while its stage ran
    repository = system.repository("acme", "slow", SLOW)
    system.push(repository)
    build = system.wait_for_build("local/acme/slow")
    path = f"/pipelines/local/acme/slow/builds/{build['id']}"
    wait_until(lambda: has_logged(system, path, "started"), timeout=60, what="the stage to run")
    status, _ = system.api.call("DELETE", path)
    assert status == 200
    assert system.wait_until_final(path, "buildStatus")["buildStatus"] == "canceled"
    before = what_the_api_shows(system, path)
    # when its token reports afterwards
    token = job_token(system, "build", build["id"])
    answers = [report(system, url, token, body) for url, body in forged_reports(build["id"], "late")]
    # then it is refused and nothing changed
    assert_refused(answers)
    assert what_the_api_shows(system, path) == before


def test_a_builder_still_reporting_after_the_sweeper_failed_its_run_is_refused(
    transactional_db: None, queue_settings: QueueSettings, tmp_path: Path
) -> None:
    # given a running build whose job the API lost (its process killed): the sweeper fails it with the reason
    with start_system(queue_settings, tmp_path, env={"ESTAFETTE_JOB_CHECK_AFTER_SECONDS": "1"}) as system:
        repository = system.repository("acme", "lost", SLOW)
        system.push(repository)
        build = system.wait_for_build("local/acme/lost")
        path = f"/pipelines/local/acme/lost/builds/{build['id']}"
        wait_until(lambda: has_logged(system, path, "started"), timeout=60, what="the stage to run")
        runner = LocalProcessJobRunner(jobs_dir=system.processes.data_dir / "jobs")
        for workspace in runner.jobs_dir.glob("*"):
            runner.cleanup(workspace.name)  # kills the builder and its stage
        assert system.wait_until_final(path, "buildStatus")["buildStatus"] == "failed"
        before = what_the_api_shows(system, path)
        assert "without reporting the outcome" in json.dumps(before["log"])
        # when a builder of that run reports afterwards (one that was only cut off from the API, say)
        token = job_token(system, "build", build["id"])
        answers = [report(system, url, token, body) for url, body in forged_reports(build["id"], "cut-off")]
        # then it is refused: the run stays failed with the sweeper's reason as its latest log
        assert_refused(answers)
        assert what_the_api_shows(system, path) == before
