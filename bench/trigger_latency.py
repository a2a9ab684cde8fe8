#!/usr/bin/env python3
"""Trigger latency and throughput of the whole system: signed webhook POST → first stage running → build finished.

    .venv/bin/python bench/trigger_latency.py [--pushes 50] [--repeat 3] [--burst 1000] [--clients 4]
    .venv/bin/python bench/trigger_latency.py --postgres        # on a throw-away PostgreSQL (or --database-url URL)
    .venv/bin/python bench/trigger_latency.py --source github   # GitHub App pushes too, beside the generic intake's

Runs the system as ``make run`` does (``bench.support.System``): every line of the Procfile — now ``web``
(gunicorn, one gthread worker), ``nats`` (``manage.py run_nats``) and the one ``worker`` (``consume --all --with
relay,cron,sweeper,audit``: the consumers, the outbox relay, cron, the job sweeper and the audit sweep in one process)
— as its own process, with ``PROMETHEUS_MULTIPROC_DIR`` set as ``scripts/run.sh`` sets it, on free ports, with a
SQLite database in a temporary data directory (or ``--database-url``), the local job runner with its warm standby and
the host executor. The repository is a local git repository with a 1-stage manifest (``commands: ['date +%s.%N']``);
every push is a new commit on ``main`` (the branch moved, then the webhook sent, as a git server does), so every push
is a new build whose manifest the API reads from its git cache after a fetch, and whose job clones the commit.

What is timed, per push (wall clock of this machine; every process shares it):

* **sent**: just before this script writes the signed ``POST /api/integrations/git/events`` on a kept-alive
  connection to gunicorn;
* **created**: the build's ``inserted_at``;
* **builder running**: the build's ``started_at`` (the API received the builder's ``running`` status);
* **first stage ran**: when the first stage's command ran, as it printed it (``date +%s.%N``): the milestone where it
  happens, which includes the cost of starting the stage (its sandbox) and not the builder's log flush interval.
  This is the "push → first stage running" of the targets and of the comparison with Buildbot;
* **first stage reported**: when the API stored the RUNNING status of the manifest's first stage (``build``): the
  ``inserted_at`` of the first log chunk of that step that carries ``status: RUNNING``, set by the API when it
  received the builder's log batch — up to the builder's log flush interval after the stage started (the milestone
  the figures before issue 17 called "first stage running"). The injected ``git-clone`` stage runs before it; its
  reported RUNNING is shown too;
* **finished**: the build's ``updated_at`` once its status is ``succeeded`` (the API received the final status,
  which the builder sends after every log batch was delivered).

1. **Latency**: ``--pushes`` pushes one after another (the next once the previous build finished), p50/p99 of each
   milestone, against the baselines measured in the same run: a bare HTTP round trip to gunicorn (``GET
   /liveness``) and one bare event through the outbox, a woken in-process relay, JetStream and a consumer (one of
   the hops a push takes: push → build created → dispatch). Repeated ``--repeat`` times; medians are reported.
2. **Throughput**: ``--burst`` pushes sent as fast as ``--clients`` kept-alive connections can → pushes accepted,
   builds created and builds finished per second, the backlog (accepted but not yet created / not yet finished)
   at each quarter of the burst and the finishing rate in each quarter of the builds (whether lag grows).

With ``--source github`` every latency round is run twice, once per intake, and both are reported side by side: the
generic signed push above, and GitHub's: the fake GitHub of the tests (``integrations.github.testing.FakeGitHub``, a
real HTTP server in this process, its requests not checked against the OpenAPI description here so as not to time the
check) serves the same repository; each push is GitHub's example push delivery for the new revision, signed with the
app's webhook secret, posted to ``/api/integrations/github/events``; the consumer reads the manifest through the
contents API with an installation token, and the job clones over HTTP (``git http-backend``) with its own. The burst
stays the generic intake's.

Targets (issue 17, on two cores): p50 ≤ 50 ms and p99 ≤ 100 ms to the first stage running (``first stage ran``),
p50 ≤ 75 ms to finished, ≥ 30 builds/s sustained. ``bench/peer_buildbot.py`` measures Buildbot beside this system in
the same run; the Buildbot figures printed here are the ones measured on this kind of machine before (180 ms, 320 ms,
4 builds/s), for orientation only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import System, ratio_text, use_database  # noqa: E402
from builder.testing import reserve_port  # noqa: E402

SECRET = "bench-webhook-secret"
# The stage prints the moment its command runs (this machine's clock): "first stage ran" is measured where it happens,
# not when the builder's next log batch reaches the API (up to its flush interval later).
MANIFEST = "stages:\n  build:\n    image: alpine\n    commands: ['date +%s.%N']\n"
FIRST_STAGE = "build"
FINAL = ("succeeded", "failed", "canceled")
MILESTONES = (
    "accepted",
    "created",
    "builder running",
    "git-clone reported",
    "first stage ran",
    "first stage reported",
    "finished",
)
# Issue 17's targets: p50 (and p99 where it has one) in ms; builds finished per second in a burst.
TARGETS = {"first stage ran": 50.0, "finished": 75.0}
TARGETS_P99 = {"first stage ran": 100.0}
TARGET_RATE = 30.0
BUILDBOT = {"first stage ran": 180.0, "finished": 320.0, "builds/s": 4.0}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pushes", type=int, default=50, help="pushes one at a time, per latency round")
    parser.add_argument("--repeat", type=int, default=3, help="latency rounds (medians are reported)")
    parser.add_argument("--burst", type=int, default=1000, help="pushes sent as fast as possible (0: skip)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections sending the burst")
    parser.add_argument("--warmup", type=int, default=5, help="builds before measuring")
    parser.add_argument("--database-url", help="ESTAFETTE_DATABASE_URL (default: SQLite in the data dir)")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL (tests/tooling)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (logs of every process)")
    parser.add_argument(
        "--source",
        choices=("git", "github"),
        default="git",
        help="github: also time GitHub App pushes (a fake GitHub in this process), beside the generic intake's",
    )
    return parser.parse_args()


GITHUB_SECRET = "bench-github-webhook-secret"


def setup_environment(args: argparse.Namespace) -> tuple[Path, Any]:
    """The server's settings, in this process's environment (the processes inherit it; Django reads it here too);
    the data directory and the throw-away PostgreSQL server, if one was asked for."""
    # The repository lives beside the data dir, not in it: the sandbox never shows a stage anything in the data dir.
    data_dir = Path(tempfile.mkdtemp(prefix="estafette-trigger-bench-")) / "data"
    data_dir.mkdir()
    os.environ.update(
        ESTAFETTE_DATA_DIR=str(data_dir),
        ESTAFETTE_SECRET_KEY="bench-only-secret-key",
        ESTAFETTE_GIT_WEBHOOK_SECRET=SECRET,
        ESTAFETTE_LOCAL_REPOSITORY_ROOTS=str(data_dir.parent / "repos"),  # where the benchmark's repository is
        ESTAFETTE_HTTP_PORT=str(reserve_port()),
        ESTAFETTE_NATS_PORT=str(reserve_port()),
        ESTAFETTE_BUILDER_EXECUTOR="host",
        ESTAFETTE_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="estafette.settings",
        # as scripts/run.sh does for make run: every process writes its metrics to files there
        PROMETHEUS_MULTIPROC_DIR=str(data_dir / "metrics"),
    )
    (data_dir / "metrics").mkdir()
    os.environ.pop("ESTAFETTE_NATS_URL", None)
    if args.source == "github":
        from integrations.github.testing import APP_ID, app_private_key

        key_file = data_dir.parent / "github-app.pem"
        key_file.write_text(app_private_key())
        os.environ.update(
            ESTAFETTE_GITHUB_APP_ID=APP_ID,
            ESTAFETTE_GITHUB_APP_PRIVATE_KEY_FILE=str(key_file),
            ESTAFETTE_GITHUB_WEBHOOK_SECRET=GITHUB_SECRET,
            # the fake GitHub's port, bound before it starts serving (start_github)
            ESTAFETTE_GITHUB_API_URL=f"http://127.0.0.1:{reserve_port()}/api/v3",
        )
    server = use_database(database_url=args.database_url, postgres=args.postgres, default_url=None)
    args.database_url = os.environ.get("ESTAFETTE_DATABASE_URL")
    return data_dir, server


# --- the repository and the pushes ------------------------------------------------------------------------------------


class Repository:
    """A local repository with ``count`` commits made ahead (under ``refs/bench/``, unseen by fetches of branches);
    ``advance(n)`` moves ``main`` to the n-th, as a push to a git server would, before its webhook is sent."""

    def __init__(self, path: Path, count: int, manifest: str = MANIFEST) -> None:
        self.path = path
        path.mkdir(parents=True)
        self._git("init", "-q", "-b", "main")
        (path / ".estafette.yaml").write_text(manifest)
        self._git("add", ".estafette.yaml")
        self._git("-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "manifest")
        head = self._git("rev-parse", "HEAD").strip().encode()
        stream = []
        for n in range(count):
            message = f"push {n}\n".encode()
            stream.append(
                b"commit refs/bench/pushes\n"
                + b"committer Bench <bench@example.com> %d +0000\n" % (1_700_000_000 + n)
                + b"data %d\n%s" % (len(message), message)
                + (b"from %s\n" % head if n == 0 else b"")
                + b"\n"
            )
        subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(stream), check=True)
        listed = self._git("rev-list", "--reverse", "main..refs/bench/pushes")
        self.revisions = listed.split()
        assert len(self.revisions) == count, f"made {len(self.revisions)} of {count} commits"
        self._ref = path / ".git" / "refs" / "heads" / "main"
        self._lock = threading.Lock()

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.path, check=True, capture_output=True, text=True).stdout

    def advance(self, revision: str) -> None:
        """``main`` → ``revision`` (a loose ref, replaced atomically: what ``git update-ref`` writes)."""
        with self._lock:
            temporary = self._ref.with_name(f"main.{threading.get_ident()}.tmp")
            temporary.write_text(revision + "\n")
            os.replace(temporary, self._ref)


class Client:
    """Sends signed pushes over one kept-alive connection."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def push(self, repository: Path, revision: str) -> tuple[float, float]:
        """POST the push of ``revision`` on main; (sent, accepted) times. Raises on anything but 202."""
        from integrations.git.webhook import SIGNATURE_HEADER, sign

        body = json.dumps(
            {"event": "push", "repository": str(repository), "branch": "main", "revision": revision}
        ).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, SECRET)}
        for attempt in (1, 2):
            sent = time.time()
            try:
                self.connection.request("POST", "/api/integrations/git/events", body=body, headers=headers)
                response = self.connection.getresponse()
                answer = response.read()
                break
            except ConnectionError:
                # gunicorn closed the kept-alive connection (idle for its keep-alive timeout): send again on a new
                # one. A push is idempotent (its event id comes from pipeline, branch and revision).
                self.connection.close()
                if attempt == 2:
                    raise
        accepted = time.time()
        if response.status != 202:
            raise SystemExit(f"the webhook answered {response.status}: {answer[:300]!r}")
        return sent, accepted

    def push_github(self, body: bytes) -> tuple[float, float]:
        """POST a GitHub push delivery to the GitHub App's webhook; (sent, accepted) times."""
        from integrations.github.testing import sign as github_sign

        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": f"bench-{time.time_ns()}",
            "X-Hub-Signature-256": github_sign(body, GITHUB_SECRET),
        }
        for attempt in (1, 2):
            sent = time.time()
            try:
                self.connection.request("POST", "/api/integrations/github/events", body=body, headers=headers)
                response = self.connection.getresponse()
                answer = response.read()
                break
            except ConnectionError:
                self.connection.close()  # as in push: gunicorn closed the idle kept-alive connection
                if attempt == 2:
                    raise
        accepted = time.time()
        if response.status != 202:
            raise SystemExit(f"the GitHub webhook answered {response.status}: {answer[:300]!r}")
        return sent, accepted

    def get(self, path: str) -> int:
        self.connection.request("GET", path)
        response = self.connection.getresponse()
        response.read()
        return response.status


# --- what the API stored ----------------------------------------------------------------------------------------------


@dataclass
class Timeline:
    """One push: when it was sent and accepted (this process's clock), and what the API stored (seconds since epoch)."""

    revision: str
    sent: float = 0.0
    at: dict[str, float] = field(default_factory=dict)
    status: str = ""

    def since_sent(self, milestone: str) -> float | None:
        moment = self.at.get(milestone)
        return None if moment is None else (moment - self.sent) * 1000


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def read_builds(revisions: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The builds of ``revisions``: status, created/started/updated times and the run id, by revision."""
    from builds.models import Build

    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(revisions), 500):
        rows = Build.objects.filter(repo_revision__in=revisions[start : start + 500]).values(
            "id", "repo_revision", "status", "inserted_at", "started_at", "updated_at"
        )
        for row in rows:
            found[row["repo_revision"]] = row
    return found


def read_timelines(timelines: Sequence[Timeline]) -> None:
    """Fill in each timeline's stored milestones (after its build finished)."""
    from runs.models import LogChunk, LogRecord

    builds = read_builds([timeline.revision for timeline in timelines])
    run_ids = {row["id"]: row["repo_revision"] for row in builds.values()}
    records: dict[int, str] = {}
    for start in range(0, len(run_ids), 500):
        chunk_ids = list(run_ids)[start : start + 500]
        for record_id, run_id in LogRecord.objects.filter(run_kind="build", run_id__in=chunk_ids).values_list(
            "id", "run_id"
        ):
            records[record_id] = run_ids[run_id]
    stage_running: dict[str, dict[str, float]] = {}
    stage_ran: dict[str, float] = {}  # revision → when the first stage's command ran, as it printed
    for start in range(0, len(records), 500):
        chunks = (
            LogChunk.objects.filter(record_id__in=list(records)[start : start + 500])
            .select_related("step")
            .order_by("seq")
            .values("record_id", "step__name", "entries", "inserted_at")
        )
        for chunk in chunks:
            revision = records[chunk["record_id"]]
            if chunk["step__name"] == FIRST_STAGE and revision not in stage_ran:
                printed = [entry["logLine"]["text"] for entry in chunk["entries"] if "logLine" in entry]
                moments = [float(text) for text in printed if text.replace(".", "", 1).isdigit()]
                if moments:
                    stage_ran[revision] = moments[0]
            if not any(entry.get("status") == "RUNNING" for entry in chunk["entries"]):
                continue
            seen = stage_running.setdefault(revision, {})
            seen.setdefault(chunk["step__name"], chunk["inserted_at"].timestamp())
    for timeline in timelines:
        row = builds.get(timeline.revision)
        if row is None:
            continue
        timeline.status = row["status"]
        timeline.at["created"] = row["inserted_at"].timestamp()
        started = _epoch(row["started_at"])
        if started is not None:
            timeline.at["builder running"] = started
        if row["status"] in FINAL:
            timeline.at["finished"] = row["updated_at"].timestamp()
        steps = stage_running.get(timeline.revision, {})
        if "git-clone" in steps:
            timeline.at["git-clone reported"] = steps["git-clone"]
        if FIRST_STAGE in steps:
            timeline.at["first stage reported"] = steps[FIRST_STAGE]
        if timeline.revision in stage_ran:
            timeline.at["first stage ran"] = stage_ran[timeline.revision]


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, system: System, every: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}; logs in {system.logs}")
        system.check()
        time.sleep(every)


def finished(revisions: Sequence[str]) -> int:
    from builds.models import Build

    return Build.objects.filter(repo_revision__in=revisions, status__in=FINAL).count()


# --- baselines --------------------------------------------------------------------------------------------------------


def http_baseline(client: Client, count: int = 200) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        client.get("/liveness")
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def queue_baseline(count: int) -> list[float]:
    """One bare event at a time: commit of ``publish_on_commit`` (in this process, its relay woken by the commit, as
    a web worker's is) → JetStream → ``handle`` of a consumer in this process."""
    import asyncio

    from django.db import transaction

    from estafette.queue.consumer import Consumer, ReceivedEvent
    from estafette.queue.jetstream import QueueSettings
    from estafette.queue.outbox import publish_on_commit, start_relay_in_process, stop_relay_in_process
    from estafette.queue.worker import run_consumers

    class Arrivals(Consumer):
        subject = "estafette.events.bench"
        durable = "bench-baseline"

        def __init__(self) -> None:
            self.arrived: dict[str, float] = {}
            self.condition = threading.Condition()

        def handle(self, event: ReceivedEvent) -> None:
            with self.condition:
                self.arrived[str(event.payload["n"])] = time.perf_counter()
                self.condition.notify_all()

    queue = QueueSettings.from_django()
    arrivals = Arrivals()
    holder: dict[str, Any] = {}
    ready = threading.Event()

    def consume() -> None:
        async def body() -> None:
            holder["loop"], holder["stop"] = asyncio.get_running_loop(), asyncio.Event()
            ready.set()
            await run_consumers([arrivals], queue, stop=holder["stop"], name="bench-baseline")

        asyncio.run(body())

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    ready.wait(10)
    start_relay_in_process(queue)
    samples = []
    try:
        for n in range(-5, count):  # the first few bind the consumer and warm the relay
            sent = time.perf_counter()
            with transaction.atomic():
                publish_on_commit("estafette.events.bench", {"n": n}, dedup_key=f"bench-baseline-{time.time()}-{n}")
            with arrivals.condition:
                if not arrivals.condition.wait_for(lambda n=n: str(n) in arrivals.arrived, 30):
                    raise SystemExit("the baseline event did not arrive within 30 s")
            if n >= 0:
                samples.append((arrivals.arrived[str(n)] - sent) * 1000)
            time.sleep(0.01)
    finally:
        stop_relay_in_process()
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(30)
    return samples


# --- the phases -------------------------------------------------------------------------------------------------------


def latency_round(
    system: System,
    client: Client,
    repository: Repository,
    revisions: Sequence[str],
    github: GitHubSource | None = None,
) -> list[Timeline]:
    """Pushes one at a time through the generic intake, or GitHub's when ``github`` is given."""
    timelines = []
    for revision in revisions:
        timeline = Timeline(revision)
        repository.advance(revision)
        if github is not None:
            timeline.sent, timeline.at["accepted"] = client.push_github(github.delivery(revision))
        else:
            timeline.sent, timeline.at["accepted"] = client.push(repository.path, revision)
        wait_until(
            lambda revision=revision: finished([revision]) == 1,
            timeout=120,
            what=f"the build of {revision[:10]} to finish",
            system=system,
            every=0.01,
        )
        timelines.append(timeline)
    read_timelines(timelines)
    failed = [timeline for timeline in timelines if timeline.status != "succeeded"]
    if failed:
        raise SystemExit(f"{len(failed)} builds did not succeed (first: {failed[0].revision}); logs in {system.logs}")
    return timelines


class GitHubSource:
    """The fake GitHub serving the bench's repository (as ``acme/api``, the app installed on it), and its pushes."""

    def __init__(self, repository: Repository, root: Path) -> None:
        from urllib.parse import urlsplit

        from integrations.github.testing import APP_ID, FakeGitHub, app_private_key

        port = urlsplit(os.environ["ESTAFETTE_GITHUB_API_URL"]).port
        self.fake = FakeGitHub(root, app_id=APP_ID, private_key=app_private_key(), check_requests=False, port=port)
        self.fake.__enter__()
        self.repository = self.fake.add_repository("acme", "api", installation=1, git_dir=repository.path / ".git")

    def delivery(self, revision: str) -> bytes:
        return json.dumps(self.repository.push_delivery(self.fake, revision, branch="main")).encode()

    def stop(self) -> None:
        self.fake.__exit__()


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass
class Burst:
    sent_for: float  # seconds from the first push sent to the last accepted
    created_for: float  # … to the last build created
    finished_for: float  # … to the last build finished
    backlog: list[str]  # at each quarter of the pushes: accepted but not created / not finished
    quarter_rates: list[float]  # builds finished per second in each quarter of the builds
    count: int
    statuses: dict[str, int]
    cpu_ms_per_build: dict[str, float]  # by Procfile process (with what it started)


def burst(system: System, repository: Repository, revisions: Sequence[str], clients: int) -> Burst:
    from builds.models import Build

    count = len(revisions)
    timelines = [Timeline(revision) for revision in revisions]
    next_index = iter(range(count))
    index_lock = threading.Lock()
    accepted = [0]
    backlog: list[str] = []
    first_sent = time.time()

    def note_quarter(done: int) -> None:
        # what the API holds when a quarter of the pushes was accepted (read while the burst goes on)
        window = revisions[: min(count, done)]
        builds = read_builds(window)
        created = len(builds)
        ended = sum(1 for row in builds.values() if row["status"] in FINAL)
        backlog.append(
            f"{done:5d} accepted at {time.time() - first_sent:5.1f}s: {done - created:4d} not created, "
            f"{done - ended:4d} not finished"
        )

    def send() -> None:
        client = Client(system.port)
        while True:
            with index_lock:
                index = next(next_index, None)
                if index is None:
                    return
                repository.advance(revisions[index])  # in order: main only moves forward
                timeline = timelines[index]
            timeline.sent, timeline.at["accepted"] = client.push(repository.path, timeline.revision)
            with index_lock:
                accepted[0] += 1
                done = accepted[0]
            if done % max(1, count // 4) == 0 and done < count:
                threading.Thread(target=note_quarter, args=(done,), daemon=True).start()

    cpu_before = system.cpu_seconds()
    threads = [threading.Thread(target=send, name=f"client-{n}") for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    note_quarter(count)
    wait_until(
        lambda: finished(revisions) == count,
        timeout=max(300, count),
        what=f"{count} builds to finish",
        system=system,
        every=0.5,
    )
    cpu_after = system.cpu_seconds()
    read_timelines(timelines)
    last_accepted = max(timeline.at["accepted"] for timeline in timelines)
    created = sorted(timeline.at["created"] for timeline in timelines)
    ends = sorted(timeline.at["finished"] for timeline in timelines)
    quarter = max(1, count // 4)
    rates = []
    for start in range(0, count - quarter + 1, quarter):
        begin = first_sent if start == 0 else ends[start - 1]
        rates.append(quarter / max(1e-6, ends[start + quarter - 1] - begin))
    statuses: dict[str, int] = {}
    for row in Build.objects.filter(repo_revision__in=revisions).values_list("status", flat=True):
        statuses[row] = statuses.get(row, 0) + 1
    return Burst(
        sent_for=last_accepted - first_sent,
        created_for=created[-1] - first_sent,
        finished_for=ends[-1] - first_sent,
        backlog=backlog,
        quarter_rates=rates,
        count=count,
        statuses=statuses,
        cpu_ms_per_build={name: (cpu_after[name] - cpu_before.get(name, 0)) * 1000 / count for name in cpu_after},
    )


# --- main -------------------------------------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    data_dir, database_server = setup_environment(args)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    sources = 2 if args.source == "github" else 1
    total = (args.warmup + args.pushes * args.repeat) * sources + args.burst
    print(f"data dir {data_dir}; preparing a repository with {total} commits to push", flush=True)
    repository = Repository(data_dir.parent / "repos" / "acme" / "api", total)
    revisions = iter(repository.revisions)
    github = GitHubSource(repository, data_dir.parent / "github") if args.source == "github" else None
    system = System(data_dir).start()
    started = time.perf_counter()
    github_rounds: list[dict[str, list[float]]] = []
    try:
        client = Client(system.port)
        print(f"system up (Procfile: {', '.join(system.processes)}); warming up with {args.warmup} builds", flush=True)
        latency_round(system, client, repository, [next(revisions) for _ in range(max(1, args.warmup))])
        if github is not None:
            latency_round(system, client, repository, [next(revisions) for _ in range(max(1, args.warmup))], github)

        http_samples = http_baseline(client)
        queue_samples = queue_baseline(args.pushes)
        rounds: list[dict[str, list[float]]] = []
        for number in range(args.repeat):
            print(f"latency round {number + 1} of {args.repeat}: {args.pushes} pushes one at a time", flush=True)
            timelines = latency_round(system, client, repository, [next(revisions) for _ in range(args.pushes)])
            rounds.append(milestones_of(timelines))
            if github is not None:
                print(f"latency round {number + 1} of {args.repeat}: {args.pushes} GitHub pushes one at a time")
                pushed = [next(revisions) for _ in range(args.pushes)]
                github_rounds.append(milestones_of(latency_round(system, client, repository, pushed, github)))
        result = None
        if args.burst:
            print(f"throughput: {args.burst} pushes from {args.clients} connections", flush=True)
            result = burst(system, repository, [next(revisions) for _ in range(args.burst)], args.clients)
    finally:
        system.stop()
        if github is not None:
            github.stop()
        if database_server is not None:
            database_server.stop()
    report(args, http_samples, queue_samples, rounds, result, github_rounds)
    print(f"\n(bench ran {time.perf_counter() - started:.0f}s)")
    if args.keep:
        print(f"kept {data_dir.parent}")
    else:
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def milestones_of(timelines: Sequence[Timeline]) -> dict[str, list[float]]:
    return {
        milestone: [value for t in timelines if (value := t.since_sent(milestone)) is not None]
        for milestone in MILESTONES
    }


def report(
    args: argparse.Namespace,
    http_samples: list[float],
    queue_samples: list[float],
    rounds: list[dict[str, list[float]]],
    result: Burst | None,
    github_rounds: Sequence[dict[str, list[float]]] = (),
) -> None:
    database = "SQLite" if not args.database_url else args.database_url.split(":", 1)[0]
    http_p50, queue_p50 = statistics.median(http_samples), statistics.median(queue_samples)
    print(f"\n== webhook → build, {database}, host executor, local runner with standbys ==")
    print("baselines (same run):")
    print(
        f"  HTTP round trip to gunicorn (GET /liveness)       p50 {http_p50:6.1f} ms  p99 "
        f"{percentile(http_samples, 0.99):6.1f} ms"
    )
    print(
        f"  one event: commit → relay → JetStream → consumer  p50 {queue_p50:6.1f} ms  p99 "
        f"{percentile(queue_samples, 0.99):6.1f} ms"
    )
    print(
        f"\nlatency, {args.pushes} pushes one at a time, {len(rounds)} rounds; ms from the webhook POST "
        "(median over rounds of each round's p50 / p99)"
    )
    header = f"  {'to':<22}{'p50':>8}{'p99':>8}   {'rounds p50':<20}{'x HTTP':>7}{'x event':>8}  {'target'}"
    print(header)
    for milestone in MILESTONES:
        p50s = [statistics.median(r[milestone]) for r in rounds if r[milestone]]
        p99s = [percentile(r[milestone], 0.99) for r in rounds if r[milestone]]
        if not p50s:
            continue
        p50, p99 = statistics.median(p50s), statistics.median(p99s)
        verdicts = []
        if (target := TARGETS.get(milestone)) is not None:
            verdicts.append(f"p50 {target:.0f} {'ok' if p50 <= target else 'MISS'}")
        if (target := TARGETS_P99.get(milestone)) is not None:
            verdicts.append(f"p99 {target:.0f} {'ok' if p99 <= target else 'MISS'}")
        verdict = ", ".join(verdicts)
        spread = " ".join(f"{value:.0f}" for value in p50s)
        print(
            f"  {milestone:<22}{p50:8.1f}{p99:8.1f}   {spread:<20}"
            f"{p50 / http_p50:7.1f}{p50 / queue_p50:8.1f}  {verdict}"
        )
    for milestone in ("first stage ran", "finished"):
        p50s = [statistics.median(r[milestone]) for r in rounds if r[milestone]]
        if p50s:
            print(
                f"  vs Buildbot {milestone} (measured before, not in this run; bench/peer_buildbot.py measures both): "
                f"{ratio_text(statistics.median(p50s), BUILDBOT[milestone])}"
            )
    if github_rounds:
        print(
            f"\nGitHub App push vs the generic intake's, same run, {args.pushes} pushes one at a time per round; "
            "ms from the webhook POST (median over rounds of each round's p50)"
        )
        print(f"  {'to':<22}{'github p50':>12}{'github p99':>12}{'generic p50':>13}{'difference':>12}")
        for milestone in MILESTONES:
            github_p50s = [statistics.median(r[milestone]) for r in github_rounds if r[milestone]]
            github_p99s = [percentile(r[milestone], 0.99) for r in github_rounds if r[milestone]]
            generic_p50s = [statistics.median(r[milestone]) for r in rounds if r[milestone]]
            if not github_p50s or not generic_p50s:
                continue
            github_p50, generic_p50 = statistics.median(github_p50s), statistics.median(generic_p50s)
            print(
                f"  {milestone:<22}{github_p50:12.1f}{statistics.median(github_p99s):12.1f}{generic_p50:13.1f}"
                f"{github_p50 - generic_p50:+12.1f}"
            )
    if result is None:
        return
    print(f"\nthroughput, {result.count} pushes from {args.clients} connections as fast as they are accepted")
    print(f"  pushes accepted  {result.count / result.sent_for:7.1f}/s  (all in {result.sent_for:.1f}s)")
    print(f"  builds created   {result.count / result.created_for:7.1f}/s  (all in {result.created_for:.1f}s)")
    builds_per_second = result.count / result.finished_for
    print(
        f"  builds finished  {builds_per_second:7.1f}/s  (all in {result.finished_for:.1f}s)   "
        f"target {TARGET_RATE:.0f}/s "
        f"{'ok' if builds_per_second >= TARGET_RATE else 'MISS'}; Buildbot {BUILDBOT['builds/s']:.0f}/s: "
        f"{ratio_text(builds_per_second, BUILDBOT['builds/s'], higher_is_better=True)}"
    )
    print("  backlog while sending:")
    for line in result.backlog:
        print(f"    {line}")
    rates = ", ".join(f"{rate:.1f}" for rate in result.quarter_rates)
    print(f"  builds finished per second in each quarter of the builds: {rates}")
    print(f"  statuses: {result.statuses}")
    cpu = sorted(result.cpu_ms_per_build.items(), key=lambda item: -item[1])
    print(
        f"  CPU per build {sum(result.cpu_ms_per_build.values()):.0f} ms: "
        + ", ".join(f"{name} {ms:.1f}" for name, ms in cpu)
        + " (worker: with the standby and the builders it launched)"
    )


if __name__ == "__main__":
    main()
