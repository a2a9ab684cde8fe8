"""The system as ``make run`` starts it, for tests that drive it from outside: the Procfile under supervisord, the REST
API over HTTP as a client uses it, signed pushes as a git server sends them.

``start_system(...)`` is a context manager; the ``system`` fixture is the usual way in. Processes run on the test's
database and nats-server, with a data dir of their own (the server makes its own keys there, as ``make run`` does);
jobs run on the real builder with the host executor. ``env`` adds or overrides the processes' ``ESTAFETTE_*``
variables.

The lighter tier runs the queue's side in the test process instead: ``InProcessWorkers`` (the ``workers`` fixture),
the outbox relay and every app consumer on threads, beside Django's ``live_server`` or the test client.
``push``/``post_git_event`` send signed webhook bodies to either; ``manage`` runs a ``manage.py`` command.
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
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from builder.testing import reserve_port
from estafette.apitokens.services import api_token_create
from estafette.jobs.local import LocalProcessJobRunner
from estafette.queue.jetstream import QueueSettings
from estafette.queue.outbox import OutboxRelay
from estafette.queue.worker import run_consumers
from estafette.testing import make_user
from integrations.git.testing import WEBHOOK_SECRET, GitRepository, push_body
from integrations.git.webhook import SIGNATURE_HEADER, sign
from tests.tooling.nats import BackgroundLoop, subprocess_env
from tests.tooling.waiting import wait_until
from triggers.testing import app_consumers

FINAL = ("succeeded", "failed", "canceled")


# A forge's end-to-end build: one stage printing a file of the pushed revision and the branch it was built from.
FORGE_MANIFEST = """\
stages:
  test:
    image: alpine:3.20
    commands:
    - echo "built $(cat app.txt) from $ESTAFETTE_GIT_BRANCH"
"""


def post_git_event(url: str, body: bytes) -> tuple[int, Any]:
    """POST ``body`` to the git webhook of the server at ``url``, signed as a git server signs it: status and JSON."""
    request = urllib.request.Request(
        f"{url}/api/integrations/git/events",
        data=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, WEBHOOK_SECRET)},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def push(url: str, repository: GitRepository, *, branch: str = "main", revision: str | None = None) -> Any:
    """A signed push of ``repository`` (its head unless ``revision``), as a git server's webhook sends it; must be
    accepted (202). The webhook's answer."""
    status, answer = post_git_event(url, push_body(str(repository.path), branch=branch, revision=revision))
    assert status == 202, f"the push was refused: {status} {answer}"
    return answer


def manage(env: Mapping[str, str], *args: str) -> str:
    """``manage.py ARGS`` in a process of its own with ``env`` (e.g. a ``Procfile``'s); must succeed. Its output."""
    command = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *args]
    done = subprocess.run(
        command, check=False, env=dict(env), cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def answers_200(url: str) -> bool:
    """Whether a GET of ``url`` answers 200 now (a server still starting answers nothing)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class Procfile:
    """``make run``'s process set: the repository's Procfile under supervisord (``scripts/supervise.py``), on the test's
    database, nats-server (its ``nats`` process idles when ``ESTAFETTE_NATS_URL`` is set; ``own_nats`` runs the set's
    own nats-server instead) and a data dir of its own. Output goes to ``log``. ``procfile``: another process set than
    the repository's (a path, e.g. several web and worker processes)."""

    def __init__(
        self,
        queue: QueueSettings,
        data_dir: Path,
        log: Path,
        env: Mapping[str, str] = {},
        *,
        own_nats: bool = False,
        procfile: str = "Procfile",
    ) -> None:
        self.procfile = procfile
        self.port = reserve_port()
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
            # Every process's metrics meet here (prometheus-client's multiprocess mode), as `make run` sets it.
            PROMETHEUS_MULTIPROC_DIR=str(data_dir / "metrics"),
        )
        if own_nats:
            for variable in ("ESTAFETTE_NATS_URL", "ESTAFETTE_NATS_USER", "ESTAFETTE_NATS_PASSWORD"):
                self.env.pop(variable)
            self.env["ESTAFETTE_NATS_PORT"] = str(reserve_port())
        self.env.update(env)
        # The server's keys (Django's, the installation key) are its own, made in its data dir as `make run` does.
        for key in ("ESTAFETTE_SECRET_KEY", "ESTAFETTE_SECRET_DECRYPTION_KEY"):
            self.env.pop(key, None)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def supervisor_config(self) -> Path:
        return self.data_dir / "supervisor" / "supervisord.conf"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as output:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "scripts/supervise.py",
                    "--procfile",
                    self.procfile,
                    "--directory",  # the Procfile's commands run from the repository, wherever the file is
                    str(settings.BASE_DIR),
                    "--state-dir",
                    str(self.data_dir / "supervisor"),
                ],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._web_answers, timeout=60, what=lambda: f"gunicorn on port {self.port}\n{self.log()}")
        wait_until(
            lambda: self._check_alive() and "starting consumers" in self.log(),
            timeout=60,
            what=lambda: f"the consumers to start\n{self.log()}",
        )

    def _web_answers(self) -> bool:
        return self._check_alive() and answers_200(f"{self.url}/liveness")

    def _check_alive(self) -> bool:
        assert self.process is not None and self.process.poll() is None, f"supervisord stopped:\n{self.log()}"
        return True

    def supervisorctl(self, *args: str) -> str:
        """``supervisorctl ARGS`` on this set's supervisord; its output (it exits non-zero for a stopped process)."""
        command = [str(Path(sys.executable).parent / "supervisorctl"), "-c", str(self.supervisor_config), *args]
        return subprocess.run(command, check=False, capture_output=True, text=True, timeout=30).stdout

    def pid(self, name: str) -> int:
        """The pid of the Procfile's process ``name`` now (0 while it is not running)."""
        answer = self.supervisorctl("pid", name).strip()
        return int(answer) if answer.isdigit() else 0

    def running(self, name: str) -> bool:
        """Whether supervisord counts ``name`` as started (it ran its ``startsecs``)."""
        return " RUNNING " in f" {self.supervisorctl('status', name)} "

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def job_logs(self) -> str:
        return "\n".join(
            f"--- {path.parent.name} ---\n{path.read_text(errors='replace')}"
            for path in sorted((self.data_dir / "jobs").glob("*/job.log"))
        )

    def stop(self) -> None:
        """Ctrl-C as in ``make run`` (supervisord stops every process), then end any job a failed test left running."""
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
        push(self.processes.url, repository, branch=branch, revision=repository.head())

    def post_git_event(self, body: bytes) -> tuple[int, Any]:
        """Any body, signed, to the git webhook: status and JSON answer."""
        return post_git_event(self.processes.url, body)

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
        return f"=== processes ===\n{self.processes.log()[-8000:]}\n=== jobs ===\n{self.processes.job_logs()[-6000:]}"

    def database_dump(self) -> str:
        """Every table as ``manage.py dumpdata`` writes it, from the system's own settings."""
        done = subprocess.run(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "dumpdata", "--natural-foreign"],
            check=True,
            env=self.processes.env,
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert len(done.stdout) > 1000
        return done.stdout


def api_token_for(user: Any) -> str:
    """The key of a new API token of ``user`` (what ``manage.py drf_create_token`` makes)."""
    return api_token_create(user=user, name="system harness")[1]


@contextlib.contextmanager
def start_system(
    queue: QueueSettings,
    directory: Path,
    *,
    env: Mapping[str, str] = {},
    username: str = "ann",
    own_nats: bool = False,
    procfile: str = "Procfile",
) -> Iterator[System]:
    """The running system in ``directory`` (data dir, logs, repositories), stopped on leaving. The webhook takes
    local repositories under ``directory / "repositories"`` (``ESTAFETTE_LOCAL_REPOSITORY_ROOTS``, unless ``env``
    sets it)."""
    env = {"ESTAFETTE_LOCAL_REPOSITORY_ROOTS": str(directory / "repositories"), **env}
    processes = Procfile(
        queue, directory / "data", directory / "processes.log", env, own_nats=own_nats, procfile=procfile
    )
    # An administrator: the system tests drive every command (authorization has its own tests: estafette/access).
    api = Api(processes.url, api_token_for(make_user(username, staff=True)))
    try:
        processes.start()
        yield System(processes, api, directory / "repositories")
    finally:
        processes.stop()


@pytest.fixture
def system(transactional_db: None, queue_settings: QueueSettings, tmp_path: Path) -> Iterator[System]:
    with start_system(queue_settings, tmp_path) as running:
        yield running


class InProcessWorkers:
    """The outbox relay and every app consumer, on threads of the test process (on the test's database)."""

    def __init__(self, queue: QueueSettings) -> None:
        self.relay = OutboxRelay(queue, batch_size=5)
        self.relaying = BackgroundLoop(self.relay.run, name="relay").start()
        self.consuming = BackgroundLoop(
            lambda stop: run_consumers(app_consumers(), queue, stop=stop), name="consumers"
        ).start()

    def stop(self) -> None:
        self.consuming.stop()
        self.relaying.stop()


@pytest.fixture
def workers(queue_settings: QueueSettings) -> Iterator[InProcessWorkers]:
    running = InProcessWorkers(queue_settings)
    try:
        yield running
    finally:
        running.stop()


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
