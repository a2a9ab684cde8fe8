"""Push → build → job → triggered build through a real nats-server; exactly once under crashes and restarts.

The system tier: the webhook over real HTTP (``live_server``), the outbox relay and the consumers on threads of this
process (the harness's ``workers``; or as ``manage.py consume`` subprocesses for the SIGKILL tests), real git
repositories, and a ``FakeJobRunner`` recording the jobs' builder configurations.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from rest_framework.test import APIClient

from builds.models import Build
from builds.services import build_finish, build_start
from estafette.jobs.testing import FakeJobRunner
from estafette.queue import jetstream
from estafette.queue.jetstream import QueueSettings
from estafette.queue.models import HandledEvent, OutboxMessage
from integrations.git.intake import push_event_id
from integrations.git.testing import WEBHOOK_SECRET, GitRepository, push_body, signed_headers
from integrations.git.webhook import make_push_event
from runs.models import RunStatus
from runs.testing import config_of
from tests.harness.system import InProcessWorkers, push
from tests.tooling.nats import NatsServer, publish_event, subprocess_env
from tests.tooling.waiting import wait_until

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("intake")]

MANIFEST = "stages:\n  build:\n    image: alpine\n    commands: [true]\n"


def test_a_push_over_http_builds_runs_a_job_and_triggers_the_next_pipeline(
    live_server, workers: InProcessWorkers, job_runner: FakeJobRunner, tmp_path: Path
) -> None:
    # given web, built on api's succeeded builds, and api
    web = GitRepository(tmp_path / "acme" / "web")
    web.commit({".estafette.yaml": "triggers:\n- pipeline: {name: local/acme/api, branch: main}\n" + MANIFEST})
    api = GitRepository(tmp_path / "acme" / "api")
    api.commit({".estafette.yaml": MANIFEST}, "api: first")
    push(live_server.url, web)
    wait_until(lambda: len(job_runner.started) == 1, timeout=30, what="web's first job")

    # when api is pushed over HTTP
    push(live_server.url, api)

    # then its build exists and its job was started with its configuration
    wait_until(lambda: len(job_runner.started) == 2, timeout=30, what="api's job")
    build = Build.objects.get(pipeline__repo_name="api")
    config = config_of(job_runner.started[1])
    assert (config.build.id if config.build else None, config.git.repo_revision) == (str(build.pk), api.head())
    assert build.commits[0]["message"] == "api: first"

    # when the build runs and succeeds (as the builder would report it)
    assert build_start(build=build)
    assert build_finish(build=build, status=RunStatus.SUCCEEDED)

    # then web builds again, triggered by api's build
    wait_until(lambda: len(job_runner.started) == 3, timeout=30, what="web's triggered job")
    triggered = Build.objects.filter(pipeline__repo_name="web").order_by("-id").first()
    assert triggered is not None and triggered.triggered_by_events[0]["pipeline"]["repoName"] == "api"
    assert Build.objects.count() == 3


def test_the_cron_tick_of_send_cron_event_fires_in_its_minute_only(
    workers: InProcessWorkers, job_runner: FakeJobRunner, queue_settings: QueueSettings, tmp_path: Path, settings
) -> None:
    # given a pipeline built every day at 12:05 UTC
    settings.NATS_URL, settings.NATS_USER, settings.NATS_PASSWORD = (
        queue_settings.url,
        queue_settings.user,
        queue_settings.password,
    )
    settings.NATS_DUPLICATE_WINDOW_SECONDS = int(queue_settings.duplicate_window_seconds)
    nightly = GitRepository(tmp_path / "acme" / "nightly")
    nightly.commit({".estafette.yaml": "triggers:\n- cron: {schedule: '5 12 * * *'}\n" + MANIFEST})
    APIClient().post(
        "/api/integrations/git/events",
        data=(body := push_body(str(nightly.path), branch="main")),
        content_type="application/json",
        **signed_headers(body, WEBHOOK_SECRET),
    )
    wait_until(lambda: len(job_runner.started) == 1, timeout=30, what="the first build's job")

    # when the ticks of 12:04 and 12:05 are sent (the 12:05 one twice, as two senders would)
    call_command("send_cron_event", "--time", "2024-05-01T12:04:00Z")
    wait_until(lambda: acked(queue_settings, "triggers-cron") == (0, 1), what="the 12:04 tick")
    assert Build.objects.count() == 1
    call_command("send_cron_event", "--time", "2024-05-01T12:05:01Z")
    call_command("send_cron_event", "--time", "2024-05-01T12:05:40Z")

    # then one build, for the 12:05 tick
    wait_until(lambda: len(job_runner.started) == 2, timeout=30, what="the cron build's job")
    triggered = Build.objects.order_by("-id").first()
    assert triggered is not None and triggered.triggered_by_events == [
        {"fired": True, "cron": {"time": "2024-05-01T12:05:01Z"}}
    ]
    wait_until(lambda: acked(queue_settings, "triggers-cron") == (0, 2), what="the 12:05 tick, once")
    assert Build.objects.count() == 2


def test_no_push_is_lost_or_doubled_when_nats_server_restarts_with_events_in_flight(
    workers: InProcessWorkers, job_runner: FakeJobRunner, nats_server: NatsServer, tmp_path: Path
) -> None:
    # given a repository with twelve commits, each pushed on its own
    repository = GitRepository(tmp_path / "acme" / "api")
    revisions = [repository.commit({".estafette.yaml": MANIFEST + f"# {n}\n"}, f"commit {n}") for n in range(12)]
    client = APIClient()

    def push_revision(revision: str) -> None:
        body = push_body(str(repository.path), branch="main", revision=revision)
        response = client.post(
            "/api/integrations/git/events",
            data=body,
            content_type="application/json",
            **signed_headers(body, WEBHOOK_SECRET),
        )
        assert response.status_code == 202

    for revision in revisions[:4]:
        push_revision(revision)
    wait_until(lambda: workers.relay.published >= 2, what="some events to be published")

    # when the server is restarted, then killed, while pushes keep coming (and one is sent twice)
    nats_server.restart()
    for revision in revisions[4:8]:
        push_revision(revision)
    nats_server.kill()
    for revision in [*revisions[8:], revisions[0]]:
        push_revision(revision)
    nats_server.start()

    # then every push built exactly once, and every build got its job
    wait_until(lambda: len(job_runner.started) >= 12, timeout=90, what="twelve jobs")
    wait_until(lambda: not OutboxMessage.objects.filter(sent_at__isnull=True).exists(), what="the outbox to drain")
    built = sorted(Build.objects.values_list("repo_revision", flat=True))
    assert built == sorted(revisions)
    assert sorted(Build.objects.values_list("build_version", flat=True)) == sorted(f"0.0.{n}" for n in range(1, 13))
    assert len({spec.name for spec in job_runner.started}) == 12


# -- a consumer process killed in the middle of a push ---------------------------------------------


class ConsumeProcess:
    def __init__(self, queue: QueueSettings, log: Path, env: dict[str, str]) -> None:
        self.log = log
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "manage.py", "consume", "pipelines-git-push"),
                    *("--import", "tests.integration.pausing"),
                ],
                cwd=settings.BASE_DIR,
                env=subprocess_env(queue, **env),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        wait_until(
            lambda: "pipelines-git-push: consuming" in self.output() or self.process.poll() is not None, timeout=60
        )
        assert self.process.poll() is None, self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def processes() -> Iterator[list[ConsumeProcess]]:
    started: list[ConsumeProcess] = []
    yield started
    for process in started:
        process.kill()


def acked(queue: QueueSettings, durable: str) -> tuple[int, int]:
    async def body() -> tuple[int, int]:
        nc = await jetstream.connect(queue, name="test", wait_seconds=10)
        info = await nc.jetstream().consumer_info(queue.stream, durable)
        await nc.close()
        return info.num_ack_pending or 0, info.delivered.consumer_seq if info.delivered else 0

    return asyncio.run(body())


@pytest.mark.parametrize("killed", ["in-transaction", "after-commit"])
def test_a_push_whose_consumer_is_sigkilled_mid_message_builds_exactly_once(
    queue_settings: QueueSettings, tmp_path: Path, processes: list[ConsumeProcess], killed: str
) -> None:
    # given a consumer process that pauses while handling a push
    repository = GitRepository(tmp_path / "acme" / "api")
    revision = repository.commit({".estafette.yaml": MANIFEST})
    push = make_push_event(repository=str(repository.path), branch="main", revision=revision)
    env = {"ESTAFETTE_TEST_PAUSE": killed, "ESTAFETTE_TEST_PAUSE_DIR": str(tmp_path)}
    processes.append(ConsumeProcess(queue_settings, tmp_path / "first.log", env))
    publish_event(queue_settings, push.to_dict(), event_id=push_event_id(push))
    wait_until((tmp_path / f"{revision}.paused").exists, timeout=30, what="the handler to pause")

    # when it is SIGKILLed and another consumer takes over
    processes[0].kill()
    processes.append(ConsumeProcess(queue_settings, tmp_path / "second.log", env))

    # then the redelivery is acknowledged and the push built once
    wait_until(lambda: acked(queue_settings, "pipelines-git-push") == (0, 2), timeout=30, what="the redelivery")
    assert list(Build.objects.values_list("repo_revision", flat=True)) == [revision]
    assert HandledEvent.objects.filter(consumer="pipelines-git-push").count() == 1
