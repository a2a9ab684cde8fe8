"""Scaled out on one database: two web processes, two worker processes (each its consumers and an outbox relay on
connections of its own) and one nats-server. A burst of pushes spread over both web processes builds every push
exactly once, with distinct consecutive counters, and every build finishes.

What makes it hold (README "Scaling horizontally in Kubernetes"): the two workers pull from the same JetStream
durable consumers, so each event goes to one of them; the git-push consumer is idempotent per event (its
``HandledEvent`` row commits with the build); the relays claim outbox rows with a conditional UPDATE under a lease;
the pipeline's counter is taken by an increment retried on serialization failures. PostgreSQL only: SQLite is one
file for one machine, and two processes writing it say nothing about a scaled-out deployment.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from builder.testing import reserve_port
from builds.models import Build
from estafette.queue.jetstream import QueueSettings
from integrations.git.testing import GitRepository
from tests.harness.system import FINAL, push, start_system
from tests.tooling.waiting import wait_until

pytestmark = [pytest.mark.nats, pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

MANIFEST = "stages:\n  build:\n    image: alpine\n    commands: [true]\n"
PUSHES = 16

WEB = (
    ".venv/bin/gunicorn estafette.wsgi --bind 127.0.0.1:{port} --workers 1 --worker-class gthread --threads 16 "
    "--access-logfile - --no-control-socket --config python:estafette.gunicorn_conf"
)
# The repository's Procfile, doubled: cron, the job sweeper and the audit sweep stay in the first worker (single
# duties, one replica each in the chart); consumers and a relay run in both.
SCALED_OUT = """\
web: {web}
web2: {web2}
nats: .venv/bin/python manage.py run_nats
worker: .venv/bin/python manage.py consume --all --with relay,cron,sweeper,audit
worker2: .venv/bin/python manage.py consume --all --with relay
"""


def test_a_burst_over_two_web_and_two_worker_processes_builds_every_push_exactly_once(
    queue_settings: QueueSettings, tmp_path: Path
) -> None:
    if connection.vendor == "sqlite":
        pytest.skip("scaling out is a PostgreSQL (or CockroachDB) deployment: run with ESTAFETTE_TEST_DB=postgres")
    # given the process set scaled out to two of each, on the test's PostgreSQL and nats-server
    port2 = reserve_port()  # the first web process takes the harness's (ESTAFETTE_HTTP_PORT), the builders report there
    procfile = tmp_path / "Procfile.scaled"
    procfile.write_text(SCALED_OUT.format(web=WEB.format(port="${ESTAFETTE_HTTP_PORT}"), web2=WEB.format(port=port2)))
    with start_system(queue_settings, tmp_path, procfile=str(procfile)) as system:
        wait_until(
            lambda: system.processes.log().count("starting consumers") >= 2,
            timeout=60,
            what=lambda: f"both workers' consumers\n{system.processes.log()[-4000:]}",
        )
        repository = GitRepository(system.repositories / "acme" / "api")
        revisions = [repository.commit({".estafette.yaml": f"{MANIFEST}# {n}\n"}, f"push {n}") for n in range(PUSHES)]
        urls = [system.processes.url, f"http://127.0.0.1:{port2}"]

        # when the pushes are sent at once from two clients, each to its own web process
        def send(url: str, share: list[str]) -> None:
            for revision in share:
                push(url, repository, revision=revision)

        clients = [threading.Thread(target=send, args=(url, revisions[n::2])) for n, url in enumerate(urls)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()

        # then every push has one build, and every build finished
        def builds() -> list[tuple[str, str, str]]:
            return list(Build.objects.values_list("repo_revision", "build_version", "status"))

        wait_until(
            lambda: len(found := builds()) >= PUSHES and all(status in FINAL for _, _, status in found),
            timeout=180,
            what=lambda: f"{PUSHES} finished builds, got {Counter(s for _, _, s in builds())}\n{system.diagnostics()}",
        )
        found = builds()
        per_push = Counter(revision for revision, _, _ in found)
        assert sorted(per_push) == sorted(revisions), "a push was lost"
        assert max(per_push.values()) == 1, f"a push was built twice: {per_push.most_common(3)}"
        assert sorted(version for _, version, _ in found) == sorted(f"0.0.{n}" for n in range(1, PUSHES + 1))
        assert Counter(status for _, _, status in found) == {"succeeded": PUSHES}, system.diagnostics()
