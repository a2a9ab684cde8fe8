"""The whole system at once, as ``make run`` starts it, driven only through its webhook and its REST API.

The repository's ``Procfile`` runs under honcho as in ``make run``: gunicorn (gthread), ``manage.py consume --all``
(whose job runner is the default ``LocalProcessJobRunner``, with standbys, launching the real builder, ``python -m
builder job``, on the host executor), ``relay_outbox``, ``sweep_jobs --every`` and ``cron_loop``, on the test's
database and the test's nats-server (its ``nats`` process then idles); the server makes its own keys in its own data
dir. Repositories are real git repositories on disk. The test only signs pushes as a git server would and reads and
acts through the REST API as a user would (the ORM only makes the user and their API token).

A cron trigger firing in its minute (and only then) is shown by
``test_spine_over_nats.py::test_the_cron_tick_of_send_cron_event_fires_in_its_minute_only``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token

from estafette.jobs.local import LocalProcessJobRunner
from estafette.queue.jetstream import QueueSettings
from estafette.testing import make_user
from integrations.git.testing import GitRepository, push_body
from integrations.git.webhook import SIGNATURE_HEADER, sign
from pipelines.testing import WEBHOOK_SECRET
from tests.tooling.nats import subprocess_env
from tests.tooling.postgres import free_port
from tests.tooling.waiting import wait_until

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]

FINAL = ("succeeded", "failed", "canceled")

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


# -- the running system ------------------------------------------------------------------------------------------------


class Procfile:
    """``make run``'s process set: the repository's Procfile under honcho, on the test's database, nats-server (its
    ``nats`` process idles when ``ESTAFETTE_NATS_URL`` is set) and a data dir of its own. Output goes to ``log``."""

    def __init__(self, queue: QueueSettings, data_dir: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = log
        self.env = subprocess_env(
            queue,
            ESTAFETTE_DATA_DIR=str(data_dir),
            ESTAFETTE_HTTP_PORT=str(self.port),
            ESTAFETTE_BASE_URL=self.url,
            ESTAFETTE_GIT_WEBHOOK_SECRET=WEBHOOK_SECRET,
            ESTAFETTE_BUILDER_EXECUTOR="host",
            ESTAFETTE_JOB_SWEEP_INTERVAL_SECONDS="2",
            # gunicorn's default control socket (~/.gunicorn/gunicorn.ctl) is shared by every gunicorn of the user.
            GUNICORN_CMD_ARGS="--no-control-socket",
        )
        # The server's keys (Django's, the installation key) are its own, made in its data dir as `make run` does.
        for key in ("ESTAFETTE_SECRET_KEY", "ESTAFETTE_SECRET_DECRYPTION_KEY"):
            self.env.pop(key, None)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        no_env_file = self.data_dir / "no.env"  # not a developer's .env
        self.data_dir.mkdir(parents=True, exist_ok=True)
        no_env_file.touch()
        with open(self.log_path, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "honcho", "start", "--no-colour", "-e", str(no_env_file), "-f", "Procfile"],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._web_answers, timeout=60, what=f"gunicorn on port {self.port}\n{self.log()}")
        wait_until(
            lambda: self._check_alive() and "starting consumers" in self.log(),
            timeout=60,
            what=f"the consumers to start\n{self.log()}",
        )

    def _web_answers(self) -> bool:
        self._check_alive()
        try:
            with urllib.request.urlopen(f"{self.url}/liveness", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def _check_alive(self) -> bool:
        assert self.process is not None and self.process.poll() is None, f"honcho stopped:\n{self.log()}"
        return True

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def job_logs(self) -> str:
        return "\n".join(
            f"--- {path.parent.name} ---\n{path.read_text(errors='replace')}"
            for path in sorted((self.data_dir / "jobs").glob("*/job.log"))
        )

    def stop(self) -> None:
        """Ctrl-C as in ``make run`` (honcho stops every process), then end any job a failed test left running."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        # Jobs outlive the server's processes (as pods do).
        runner = LocalProcessJobRunner(jobs_dir=self.data_dir / "jobs")
        for workspace in runner.jobs_dir.glob("*"):
            runner.cleanup(workspace.name)


class Api:
    """The REST API over HTTP as an API client uses it (``Authorization: Token …``)."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {**self.headers, **({"Content-Type": "application/json"} if data is not None else {})}
        request = urllib.request.Request(f"{self.url}/api{path}", data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        assert status == 200, (path, status, body)
        return body


class System:
    def __init__(self, processes: Procfile, api: Api, repositories: Path) -> None:
        self.processes = processes
        self.api = api
        self.repositories = repositories

    def repository(self, owner: str, name: str, manifest: str, **files: str) -> GitRepository:
        repository = GitRepository(self.repositories / owner / name)
        repository.commit({".estafette.yaml": manifest, **files}, f"{name}: first")
        return repository

    def push(self, repository: GitRepository, *, branch: str = "main") -> None:
        """A signed push, as a git server's webhook sends it."""
        body = push_body(str(repository.path), branch=branch, revision=repository.head())
        request = urllib.request.Request(
            f"{self.processes.url}/api/integrations/git/events",
            data=body,
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, WEBHOOK_SECRET)},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202

    def builds(self, pipeline: str) -> list[dict[str, Any]]:
        """The pipeline's builds, newest first (none while the server does not know the pipeline yet)."""
        status, body = self.api.call("GET", f"/pipelines/{pipeline}/builds")
        assert status in (200, 404), (pipeline, status, body)
        return list(body["items"]) if status == 200 else []

    def wait_for_build(self, pipeline: str, *, count: int = 1) -> dict[str, Any]:
        """The pipeline's ``count``-th build, once it exists."""
        builds = wait_until(
            lambda: (found := self.builds(pipeline)) and len(found) >= count and found,
            timeout=30,
            what=f"build {count} of {pipeline}\n{self.diagnostics()}",
        )
        return min(builds, key=lambda build: int(build["id"])) if count == 1 else builds[0]

    def wait_until_final(self, path: str, field: str, *, timeout: float = 60) -> dict[str, Any]:
        return wait_until(
            lambda: (run := self.api.get(path))[field] in FINAL and run,
            timeout=timeout,
            what=f"{path} to end\n{self.diagnostics()}",
        )

    def diagnostics(self) -> str:
        return f"=== honcho ===\n{self.processes.log()[-8000:]}\n=== jobs ===\n{self.processes.job_logs()[-6000:]}"


@pytest.fixture
def system(transactional_db: None, queue_settings: QueueSettings, tmp_path: Path) -> Iterator[System]:
    processes = Procfile(queue_settings, tmp_path / "data", tmp_path / "honcho.log")
    user = make_user("ann")
    api = Api(processes.url, Token.objects.create(user=user).key)
    try:
        processes.start()
        yield System(processes, api, tmp_path / "repositories")
    finally:
        processes.stop()


# -- reading what the builder stored ---------------------------------------------------------------------------------


def steps_of(log: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["step"]: step for step in log["steps"]}


def printed(step: dict[str, Any]) -> list[str]:
    """What a stage's commands printed (without the builder's echo of each command, ``> command``)."""
    return [line["text"] for line in step["logLines"] if "> " not in line["text"]]


class LiveTail:
    """Reads ``…/logs.stream`` (Server-Sent Events) in a thread, collecting ``(event, data)`` pairs."""

    def __init__(self, api: Api, path: str) -> None:
        self.connection = http.client.HTTPConnection(api.url.removeprefix("http://"), timeout=60)
        self.connection.request("GET", f"/api{path}", headers={**api.headers, "Accept": "text/event-stream"})
        self.response = self.connection.getresponse()
        self.events: list[tuple[str, Any]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event, data = "", ""
        with contextlib.suppress(OSError, ValueError):
            for raw in self.response:
                text = raw.decode().rstrip("\n")
                if text.startswith("event: "):
                    event = text.removeprefix("event: ")
                elif text.startswith("data: "):
                    data += text.removeprefix("data: ")
                elif text == "" and event:
                    self.events.append((event, json.loads(data)))
                    event, data = "", ""

    def texts(self) -> list[str]:
        return [data["logLine"]["text"] for event, data in self.events if event == "log" and "logLine" in data]

    def names(self) -> list[str]:
        return [event for event, _ in self.events]

    def close(self) -> None:
        self.connection.close()


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
    (event,) = triggered["triggeredByEvents"]
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
    assert release["triggeredByEvents"][0]["manual"]["userID"] == "ann@example.com"
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
