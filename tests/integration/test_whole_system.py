"""The whole system at once, as ``make run`` starts it, driven only through its webhook and its REST API.

The repository's ``Procfile`` runs under supervisord as in ``make run``: gunicorn (gthread), ``manage.py consume --all
--with relay,cron,sweeper`` (whose job runner is the default ``LocalProcessJobRunner``, with a standby, launching the
real builder, ``python -m builder job``, on the host executor; the outbox relay, the job sweeper and the cron loop as
tasks of the same process), on the test's
database and the test's nats-server (its ``nats`` process then idles); the server makes its own keys in its own data
dir. Repositories are real git repositories on disk. The test only signs pushes as a git server would and reads and
acts through the REST API as a user would (the ORM only makes the user and their API token).

A cron trigger firing in its minute (and only then) is shown by
``test_spine_over_nats.py::test_the_cron_tick_of_send_cron_event_fires_in_its_minute_only``.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import pytest

from tests.harness.asserts import printed, steps_of
from tests.harness.system import LiveTail, System
from tests.tooling.waiting import wait_until

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]


APP = """\
env:
  API_TOKEN: {secret}
stages:
  compile:
    image: alpine:3.20
    commands:
    - echo "compiling app $ESTAFETTE_BUILD_VERSION"
    - echo "token=$API_TOKEN"
  test:
    image: alpine:3.20
    commands:
    - echo "testing app"
releases:
  staging:
    clone: true
    stages:
      deploy:
        image: alpine:3.20
        commands:
        - echo "deploying $(cat app.txt) $ESTAFETTE_BUILD_VERSION to $ESTAFETTE_RELEASE_NAME"
"""

DOCS = """\
triggers:
- pipeline:
    name: local/acme/app
    branch: main
stages:
  publish:
    image: alpine:3.20
    commands:
    - echo "publishing docs after $ESTAFETTE_TRIGGER_PIPELINE_REPO_NAME"
"""

SLOW = """\
stages:
  wait:
    image: alpine:3.20
    commands:
    - echo "waiting"
    - sleep 30
    - echo "never printed"
"""


# -- the stories -----------------------------------------------------------------------------------------------------


def test_a_push_builds_triggers_the_next_pipeline_and_a_release_runs_through_the_api(system: System) -> None:
    # given docs, built after each green build of app on main (known to the server from its first push)
    docs = system.repository("acme", "docs", DOCS)
    system.push(docs)
    first_docs = system.wait_for_build("local/acme/docs")
    system.wait_until_final(f"/pipelines/local/acme/docs/builds/{first_docs['id']}", "buildStatus")

    # when app, with a secret the server encrypted for it, is pushed
    status, encrypted = system.api.call(
        "POST", "/manifest/encrypt", {"value": "s3cret-value", "pipelineAllowList": "local/acme/app"}
    )
    assert status == 200, encrypted
    app = system.repository("acme", "app", APP.format(secret=encrypted["secret"]), **{"app.txt": "app"})
    system.push(app)

    # then its build runs both stages in the real builder and succeeds, with the stages' lines stored
    build = system.wait_for_build("local/acme/app")
    path = f"/pipelines/local/acme/app/builds/{build['id']}"
    build = system.wait_until_final(path, "buildStatus")
    assert (build["buildStatus"], build["buildVersion"], build["repoRevision"]) == ("succeeded", "0.0.1", app.head())
    log = system.api.get(f"{path}/logs")
    steps = steps_of(log)
    assert [name for name in steps if name in ("git-clone", "compile", "test")] == ["git-clone", "compile", "test"]
    assert {name: steps[name]["status"] for name in ("git-clone", "compile", "test")} == dict.fromkeys(
        ("git-clone", "compile", "test"), "SUCCEEDED"
    )
    assert printed(steps["compile"]) == ["compiling app 0.0.1", "token=***"]
    assert printed(steps["test"]) == ["testing app"]

    # and docs builds again, triggered by app's build, and succeeds
    triggered = system.wait_for_build("local/acme/docs", count=2)
    triggered_path = f"/pipelines/local/acme/docs/builds/{triggered['id']}"
    triggered = system.wait_until_final(triggered_path, "buildStatus")
    assert triggered["buildStatus"] == "succeeded", system.diagnostics()
    (event,) = triggered["triggerEvents"]
    assert (event["pipeline"]["repoName"], event["pipeline"]["buildVersion"]) == ("app", "0.0.1")
    docs_log = steps_of(system.api.get(f"{triggered_path}/logs"))
    assert printed(docs_log["publish"]) == ["publishing docs after app"]

    # when ann releases app 0.0.1 to staging through the API
    status, release = system.api.call(
        "POST", "/pipelines/local/acme/app/releases", {"name": "staging", "releaseVersion": "0.0.1"}
    )
    assert status == 201, release

    # then the release job runs the target's stage and the release succeeds, its log readable
    release_path = f"/pipelines/local/acme/app/releases/{release['id']}"
    release = system.wait_until_final(release_path, "releaseStatus")
    assert (release["releaseStatus"], release["name"], release["releaseVersion"]) == ("succeeded", "staging", "0.0.1")
    release_log = steps_of(system.api.get(f"{release_path}/logs"))
    assert release_log["deploy"]["status"] == "SUCCEEDED"
    assert printed(release_log["deploy"]) == ["deploying app 0.0.1 to staging"]
    assert release_log["git-clone"]["status"] == "SUCCEEDED"
    assert release["triggerEvents"][0]["manual"]["userID"] == "ann@example.com"
    # and the pipeline shows its latest build and the release on its target
    pipeline = system.api.get("/pipelines/local/acme/app")
    assert (pipeline["buildStatus"], pipeline["buildVersion"]) == ("succeeded", "0.0.1")
    (target,) = pipeline["releaseTargets"]
    assert target["name"] == "staging"
    assert [(active["releaseVersion"], active["releaseStatus"]) for active in target["activeReleases"]] == [
        ("0.0.1", "succeeded")
    ]
    assert pipeline["recentReleasers"] and pipeline["extraInfo"]["medianDuration"] > 0


def test_a_build_canceled_through_the_api_mid_stage_ends_canceled_and_its_builder_is_gone(system: System) -> None:
    # given a build whose stage printed a line and sleeps, followed through its live tail
    slow = system.repository("acme", "slow", SLOW)
    system.push(slow)
    build = system.wait_for_build("local/acme/slow")
    path = f"/pipelines/local/acme/slow/builds/{build['id']}"
    tail = LiveTail(system.api, f"{path}/logs.stream")
    try:
        assert tail.response.status == 200
        wait_until(lambda: "waiting" in tail.texts(), timeout=60, what=f"the stage's line\n{system.diagnostics()}")
        assert system.api.get(path)["buildStatus"] == "running"
        job = system.processes.data_dir / "jobs" / f"build-acme-slow-{build['id']}"
        job_group = int(json.loads((job / "job.json").read_text())["pid"])  # the job's process group
        assert processes_in_group(job_group)

        # when ann cancels it through the API
        status, canceling = system.api.call("DELETE", path)
        canceled_at = time.monotonic()
        assert status == 200, canceling
        assert canceling["buildStatus"] == "canceling"

        # then it ends canceled within seconds (SIGTERM reached the stage: not the SIGKILL 8 s later), the tail closes
        build = system.wait_until_final(path, "buildStatus", timeout=15)
        assert build["buildStatus"] == "canceled"
        assert time.monotonic() - canceled_at < 5
        tail.thread.join(10)
        assert tail.names()[-1] == "close"
    finally:
        tail.close()
    # and the stage was stopped: the builder reported it canceled, and no process of its job is left
    wait_step = steps_of(system.api.get(f"{path}/logs"))["wait"]
    assert wait_step["status"] == "CANCELED"
    assert printed(wait_step) == ["waiting"]
    wait_until(lambda: not processes_in_group(job_group), timeout=10, what=f"the processes of {job.name} to end")


def processes_in_group(group: int) -> list[int]:
    """The live (not zombie) processes of a process group."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # pid (comm) state ppid pgrp …; comm may hold spaces and parentheses, so split after its last ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) == group:
                found.append(int(stat.parent.name))
    return found
