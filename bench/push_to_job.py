"""Push → job latency and throughput: signed webhook → build recorded → job started (the API's part).

    .venv/bin/python bench/push_to_job.py [--pushes 50] [--burst 1000]

Starts its own nats-server and a SQLite database in a temporary directory (or uses
ESTAFETTE_DATABASE_URL); runs the outbox relay and the app's consumers on threads of this process,
with a job runner that only records when each job was started (no builder runs: that part is the
job runner's and the builder's). Each push is a new branch of one local repository, so every push
is a new event that reads ``.estafette.yaml`` through the git cache. Figures:

* latency, one push at a time: webhook request (Django test client, no HTTP server) → job started,
  p50/p99, against the baseline of a bare event through the same outbox, relay and JetStream;
* throughput: N pushes sent as fast as one client can → builds created and jobs started per second,
  and the backlog (pushes accepted but without a job) at each quarter of the burst: whether lag grows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ESTAFETTE_DATA_DIR", tempfile.mkdtemp(prefix="estafette-bench-"))
os.environ.setdefault("ESTAFETTE_SECRET_KEY", "bench-only")
os.environ.setdefault("ESTAFETTE_GIT_WEBHOOK_SECRET", "bench-only")
# the benchmark's repository is under <data dir>/repos, the only place the webhook may name a local one
os.environ.setdefault("ESTAFETTE_LOCAL_REPOSITORY_ROOTS", str(Path(os.environ["ESTAFETTE_DATA_DIR"]) / "repos"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "estafette.settings")
os.environ.setdefault("ESTAFETTE_OUTBOX_RELAY_IN_PROCESS", "false")  # the relay is started explicitly

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

import runs.dispatch  # noqa: E402
from builds.models import Build  # noqa: E402
from estafette.jobs import JobSpec, JobStatus  # noqa: E402
from estafette.queue.consumer import Consumer, ReceivedEvent  # noqa: E402
from estafette.queue.jetstream import QueueSettings  # noqa: E402
from estafette.queue.outbox import OutboxRelay, publish_on_commit  # noqa: E402
from estafette.queue.worker import run_consumers  # noqa: E402
from integrations.git.testing import GitRepository, push_body, signed_headers  # noqa: E402
from tests.tooling.nats import BackgroundLoop, NatsServer  # noqa: E402
from triggers.testing import app_consumers  # noqa: E402

MANIFEST = "stages:\n  build:\n    image: alpine\n    commands: [true]\n"


class RecordingRunner:
    """A job runner that records when each job was asked to start."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.lock = threading.Condition()

    def start(self, spec: JobSpec) -> str:
        with self.lock:
            self.started.setdefault(spec.config["git"]["repoBranch"], time.perf_counter())
            self.lock.notify_all()
        return spec.name

    def wait_for(self, count: int, timeout: float = 300) -> None:
        with self.lock:
            if not self.lock.wait_for(lambda: len(self.started) >= count, timeout):
                raise SystemExit(f"only {len(self.started)} of {count} jobs started")

    def cancel(self, job_name: str) -> bool:
        return False

    def cleanup(self, job_name: str) -> None:
        return None

    def status(self, job_name: str) -> JobStatus:
        return JobStatus.RUNNING


class Baseline(Consumer):
    subject = "estafette.events.bench"
    durable = "bench-baseline"

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Condition()

    def handle(self, event: ReceivedEvent) -> None:
        with self.lock:
            self.arrived[str(event.payload["id"])] = time.perf_counter()
            self.lock.notify_all()


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def make_branches(repository: GitRepository, count: int) -> list[str]:
    head = repository.head()
    names = [f"push-{n}" for n in range(count)]
    commands = "".join(f"create refs/heads/{name} {head}\n" for name in names)
    subprocess.run(["git", "update-ref", "--stdin"], cwd=repository.path, input=commands.encode(), check=True)
    return names


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pushes", type=int, default=50)
    parser.add_argument("--burst", type=int, default=1000)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    server = NatsServer().start()
    queue = QueueSettings.from_django(url=server.url, user=server.user, password=server.password)
    runner = RecordingRunner()
    runs.dispatch.get_job_runner = lambda: runner  # type: ignore[assignment]
    baseline = Baseline()
    consumers = [*app_consumers(), baseline]
    consuming = BackgroundLoop(lambda stop: run_consumers(consumers, queue, stop=stop), name="consumers").start()
    relay = OutboxRelay(queue, batch_size=100)
    relaying = BackgroundLoop(lambda stop: relay.run(stop, claim_on_commit=True), name="relay").start()

    repository = GitRepository(Path(settings.DATA_DIR) / "repos" / "acme" / "api")
    repository.commit({".estafette.yaml": MANIFEST}, "bench")
    branches = make_branches(repository, args.pushes + args.burst + 1)
    client = Client()
    secret = settings.GIT_WEBHOOK_SECRET

    def push(branch: str) -> float:
        body = push_body(str(repository.path), branch=branch, revision=repository.head())
        sent = time.perf_counter()
        response = client.post(
            "/api/integrations/git/events", data=body, content_type="application/json", **signed_headers(body, secret)
        )
        assert response.status_code == 202, response.content
        return sent

    try:
        time.sleep(1.0)  # let the consumers bind
        push(branches[-1])  # warm up: the git mirror, the pipeline row
        runner.wait_for(1)

        print(f"latency, {args.pushes} pushes one at a time (webhook request → job started)")
        bare: list[float] = []
        for n in range(args.pushes):
            sent = time.perf_counter()
            publish_on_commit("estafette.events.bench", {"id": n}, dedup_key=f"bench-{n}")
            with baseline.lock:
                baseline.lock.wait_for(lambda n=n: str(n) in baseline.arrived, 30)
            bare.append(baseline.arrived[str(n)] - sent)
        latencies = []
        for n in range(args.pushes):
            sent = push(branches[n])
            runner.wait_for(n + 2)
            latencies.append(runner.started[branches[n]] - sent)
        base_p50, base_p99 = percentiles(bare)
        p50, p99 = percentiles(latencies)
        print(
            f"  baseline: one bare event through outbox/relay/JetStream  p50 {base_p50:6.1f} ms  p99 {base_p99:6.1f} ms"
        )
        print(
            f"  push → build → job started (3 hops: push, created, dispatch)  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"
            f"   p50 x{p50 / base_p50:.1f} of baseline"
        )

        print(f"throughput, {args.burst} pushes sent as fast as one client can")
        burst = branches[args.pushes : args.pushes + args.burst]
        before_jobs, before_builds = len(runner.started), Build.objects.count()
        started = time.perf_counter()
        backlog: list[str] = []
        for index, branch in enumerate(burst, start=1):
            push(branch)
            if index % (args.burst // 4) == 0:
                done = len(runner.started) - before_jobs
                backlog.append(f"{index - done} after {index} ({time.perf_counter() - started:.1f}s)")
        sent_for = time.perf_counter() - started
        runner.wait_for(before_jobs + args.burst)
        total = time.perf_counter() - started
        created = Build.objects.count() - before_builds
        print(f"  accepted {args.burst / sent_for:6.0f} pushes/s; {created} builds and jobs in {total:.1f}s")
        print(f"  builds created and jobs started: {args.burst / total:6.1f} per second")
        print(f"  backlog (accepted, no job yet): {'; '.join(backlog)}")
    finally:
        relaying.stop()
        consuming.stop()
        server.close()


if __name__ == "__main__":
    main()
