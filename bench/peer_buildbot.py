#!/usr/bin/env python3
"""Buildbot beside us in one run: the same trivial builds on both systems, interleaved, on this machine.

    .venv/bin/python bench/peer_buildbot.py            # full run: 30 builds of each kind per system, a burst of 200
    .venv/bin/python bench/peer_buildbot.py --quick    # smoke run: 3 builds of each kind, a burst of 10
    .venv/bin/python bench/peer_buildbot.py --builds 50 --burst 500 --buildbot-workers 2

Buildbot (``buildbot``, ``buildbot-worker`` and ``buildbot-www`` ==4.3.0 from PyPI) is installed once into a
throw-away virtualenv, ``var/bench/buildbot-4.3.0`` (``--buildbot-venv``; delete it to install again), pip's progress
shown. Then, in a temporary directory:

* **Buildbot**: a master (``buildbot start --nodaemon``: one process, SQLite database, the web server with the REST
  API and the worker protocol on free loopback ports) and ``--buildbot-workers`` local workers (one process each).
  Two builders: ``one-stage`` (one ``ShellCommand`` step) and ``three-stage`` (three), each with a force scheduler,
  ``collapseRequests=False`` (every trigger is a build of its own, as every push is here).
* **This system**, as ``make run`` starts it (``bench.support.System``: the Procfile's ``web``, ``nats`` and
  ``worker``), with the host executor, on SQLite, set up as ``bench/trigger_latency.py`` sets it up (its helpers are
  used: the same pushes, the same stored milestones); two local repositories, one with a 1-stage manifest, one
  with a 3-stage one.

Equivalent builds: the first stage (step) runs ``date +%s.%N`` — ``true`` that prints when it ran, so that "started"
is measured where it happens on both systems, from the command's own timestamp —, the others ``true``. Our builds
also clone the repository (the injected ``git-clone`` stage) and run each stage in the host executor's sandbox;
Buildbot's have no source step: that difference is in Buildbot's favour.

How each is triggered: ours with the signed generic push webhook (``POST /api/integrations/git/events``, after
moving ``main``), as ``bench/trigger_latency.py`` does; Buildbot through its REST API, the force scheduler's
JSON-RPC ``force`` (``POST /api/v2/forceschedulers/<name>``). The force scheduler rather than a change hook because
its answer names the build request it created, so each build is matched to its trigger exactly, with no change
filter or tree-stable timer in the path (a change hook answers before the scheduler has made the request, and
matching a change to its build needs the change's id read back); both are one HTTP POST that becomes a queued build.

What is measured, every figure printed for both systems with the ratio ours / Buildbot's:

1. **Idle RSS** of each system's process set (every process with what it started: gunicorn's worker, the builder
   standby; the master and the workers), once both are up, warmed up and their RSS held still for 3 s.
2. **Latency**, ``--builds`` builds of each kind per system, one at a time, alternating between the systems (ours
   1-stage, Buildbot's 1-stage, ours 3-stage, Buildbot's 3-stage, again): p50 and p90 in ms from the trigger
   (just before the POST is written) to
   * **started**: the first stage's command ran (its printed timestamp; read back from the build's log);
   * **finished**: ours, the time the API stored the final status (the build's ``updated_at``); Buildbot's data API
     stores only whole seconds (``complete_at``), so its is when this script received the build's ``finished`` event
     on the master's websocket (``/ws``, ``startConsuming builds/*/*``, what Buildbot's UI listens to): a message
     sent after the master stored the build's end, so a little late, in our favour (not polled: polling every 10 ms
     took a quarter of the master's CPU and slowed the builds being timed).
3. **Throughput**: a burst of ``--burst`` 1-stage builds sent as fast as ``--clients`` kept-alive connections can,
   on one system then the other → builds finished per second (first trigger sent → last build finished), and the
   **CPU per build** of each process of the set (user + system from ``/proc``, of the process and everything it
   started, reaped children included: a job's builder counts under the worker that launched it; Buildbot's shell
   commands under its worker) over the burst.

Full-run defaults: ``--builds 30 --burst 200 --clients 4 --warmup 3 --buildbot-workers 1``. ``--quick``: 3 builds
of each kind, a burst of 10, 1 warm-up build. Every process started is stopped at the end, on an error and on
Ctrl-C (SIGINT) or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import trigger_latency as ours  # noqa: E402
from bench.support import (  # noqa: E402
    Memory,
    System,
    children_of,
    ratio_text,
    settle_memory,
    tree_cpu_seconds,
    tree_memory,
)
from builder.testing import reserve_port  # noqa: E402

BUILDBOT_VERSION = "4.3.0"
BUILDBOT_PACKAGES = tuple(f"{name}=={BUILDBOT_VERSION}" for name in ("buildbot", "buildbot-worker", "buildbot-www"))
DEFAULT_VENV = ROOT / "var" / "bench" / f"buildbot-{BUILDBOT_VERSION}"
FIRST_COMMAND = "date +%s.%N"  # `true` that says when it ran
KINDS = {"1-stage": 1, "3-stage": 3}
BUILDERS = {"1-stage": "one-stage", "3-stage": "three-stage"}
STAGE_NAMES = ("build", "test", "ship")
WORKER_PASSWORD = "bench-only-worker-password"  # a loopback worker of a throw-away master


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: --builds 3 --burst 10 --warmup 1")
    parser.add_argument("--builds", type=int, default=30, help="latency: builds of each kind per system")
    parser.add_argument("--burst", type=int, default=200, help="throughput: 1-stage builds per system (0: skip)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections sending a burst")
    parser.add_argument("--warmup", type=int, default=3, help="builds of each kind per system before measuring")
    parser.add_argument("--buildbot-workers", type=int, default=1, help="Buildbot worker processes")
    parser.add_argument("--buildbot-venv", type=Path, default=DEFAULT_VENV, help="where Buildbot is installed")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs of every process)")
    args = parser.parse_args(argv)
    if args.quick:
        args.builds, args.burst, args.warmup = 3, 10, 1
    # what bench/trigger_latency.py's setup reads
    args.database_url, args.postgres, args.source = None, False, "git"
    return args


# --- Buildbot ---------------------------------------------------------------------------------------------------------


def master_config(*, www_port: int, pb_port: int, workers: Sequence[str], password: str) -> str:
    """``master.cfg`` of the bench's master: ``workers`` on the worker protocol at ``pb_port``, the REST API at
    ``www_port`` (both loopback only), and per kind of build (``KINDS``) a builder with its force scheduler."""
    builders = {BUILDERS[kind]: [FIRST_COMMAND] + ["true"] * (stages - 1) for kind, stages in KINDS.items()}
    return f"""\
# Written by bench/peer_buildbot.py: the trivial builds of the comparison, on a throw-away master.
from buildbot.plugins import schedulers, steps, util, worker

c = BuildmasterConfig = {{}}
c["title"] = "estafette bench peer"
c["buildbotURL"] = "http://127.0.0.1:{www_port}/"
c["buildbotNetUsageData"] = None
c["db"] = {{"db_url": "sqlite:///state.sqlite"}}
c["protocols"] = {{"pb": {{"port": "tcp:{pb_port}:interface=127.0.0.1"}}}}
c["www"] = {{"port": "tcp:{www_port}:interface=127.0.0.1", "plugins": {{}}}}
c["workers"] = [worker.Worker(name, {password!r}) for name in {list(workers)!r}]
c["change_source"] = []
BUILDS = {builders!r}


def factory(commands):
    built = util.BuildFactory()
    for number, command in enumerate(commands, start=1):
        built.addStep(steps.ShellCommand(name=f"stage-{{number}}", command=command.split()))
    return built


c["builders"] = [
    util.BuilderConfig(name=name, workernames={list(workers)!r}, factory=factory(commands), collapseRequests=False)
    for name, commands in BUILDS.items()
]
c["schedulers"] = [schedulers.ForceScheduler(name=name, builderNames=[name]) for name in BUILDS]
"""


def ensure_buildbot(venv: Path) -> Path:
    """The virtualenv with Buildbot ``BUILDBOT_VERSION`` (installed on first use, pip's progress shown); its bin/."""
    marker = venv / ".installed"
    wanted = " ".join(BUILDBOT_PACKAGES)
    if marker.exists() and marker.read_text() == wanted:
        return venv / "bin"
    print(f"installing Buildbot {BUILDBOT_VERSION} into {venv} (once; about a minute)", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "pip"), "install", "--progress-bar", "on", *BUILDBOT_PACKAGES]
    installed = subprocess.run(pip, check=False)
    if installed.returncode != 0:
        raise SystemExit(
            f"pip could not install {wanted} (exit {installed.returncode}); see its output above, fix the index "
            f"(PIP_INDEX_URL) or pass --buildbot-venv with a virtualenv that has them"
        )
    marker.write_text(wanted)
    return venv / "bin"


@dataclass
class BuildbotBuild:
    """One forced build: when it was triggered (this clock), what Buildbot said about it, and our milestones."""

    request: int
    sent: float
    build: int | None = None
    results: int | None = None
    at: dict[str, float] = field(default_factory=dict)

    def since_sent(self, milestone: str) -> float | None:
        moment = self.at.get(milestone)
        return None if moment is None else (moment - self.sent) * 1000


class Api:
    """Buildbot's REST API over one kept-alive connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        for attempt in (1, 2):
            try:
                self.connection.request(method, f"/api/v2/{path}", body=payload, headers=headers)
                response = self.connection.getresponse()
                answer = response.read()
                break
            except (ConnectionError, http.client.HTTPException):
                # the master closed the kept-alive connection: again on a new one (a GET is safe to repeat; a force
                # that failed this way never reached the scheduler)
                self.connection.close()
                if attempt == 2:
                    raise
        if response.status != 200:
            raise SystemExit(f"Buildbot answered {method} /api/v2/{path} with {response.status}: {answer[:300]!r}")
        return json.loads(answer)

    def force(self, scheduler: str) -> BuildbotBuild:
        """Trigger one build; its build request."""
        sent = time.time()
        request = {"jsonrpc": "2.0", "method": "force", "id": 1, "params": {}}
        answer = self.call("POST", f"forceschedulers/{scheduler}", request)
        if "error" in answer:
            raise SystemExit(f"Buildbot's force scheduler {scheduler} refused: {answer['error']}")
        _buildset, requests = answer["result"]
        return BuildbotBuild(request=int(next(iter(requests.values()))), sent=sent)

    def first_stage_ran(self, build: int) -> float | None:
        """When the first stage's command ran, as it printed it (its stdout lines are prefixed "o" in the log)."""
        logs = self.call("GET", f"builds/{build}/steps/stage-1/logs")["logs"]
        if not logs:
            return None
        contents = self.call("GET", f"logs/{logs[0]['logid']}/contents")
        for chunk in contents["logchunks"]:
            for line in chunk["content"].splitlines():
                text = line[1:].strip()
                if line.startswith("o") and text.replace(".", "", 1).isdigit():
                    return float(text)
        return None


class BuildEvents:
    """Buildbot's build events as they happen, from the web server's websocket (``/ws``, what its UI listens to):
    when each build request's build was announced (``builds/<id>/new``) and finished (``builds/<id>/finished``),
    this process's clock at receipt.

    Pushed rather than polled: the data API stores whole seconds only (``started_at``, ``complete_at``), and polling
    it every 10 ms cost the master ~4 ms of CPU per request — a quarter of its time, which slowed the very builds
    being timed. A websocket message costs it a JSON dump per event, which it does for every open UI anyway.
    """

    def __init__(self, port: int) -> None:
        import websocket  # websocket-client: a plain blocking client, read on a thread of its own

        self.socket = websocket.create_connection(f"ws://127.0.0.1:{port}/ws", timeout=30)
        self.socket.send(json.dumps({"cmd": "startConsuming", "path": "builds/*/*", "_id": 1}))
        answer = json.loads(self.socket.recv())
        if answer.get("code") != 200:
            raise SystemExit(f"Buildbot's websocket refused to stream build events: {answer}")
        self.socket.settimeout(None)
        self.condition = threading.Condition()
        self.started: dict[int, float] = {}  # by build request
        self.finished: dict[int, tuple[float, int, int]] = {}  # by build request: when, build id, results
        self.closed = False
        self.thread = threading.Thread(target=self._read, name="buildbot-events", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        import websocket

        while True:
            try:
                frame = self.socket.recv()
            except (websocket.WebSocketException, OSError):
                break
            received = time.time()
            if not frame:
                break
            message = json.loads(frame)
            key, build = str(message.get("k", "")), message.get("m") or {}
            if not key.startswith("builds/") or "buildrequestid" not in build:
                continue
            with self.condition:
                if key.endswith("/new"):
                    self.started[build["buildrequestid"]] = received
                elif key.endswith("/finished"):
                    self.finished[build["buildrequestid"]] = (received, build["buildid"], build["results"])
                self.condition.notify_all()
        with self.condition:
            self.closed = True
            self.condition.notify_all()

    def wait(self, condition: Callable[[], bool], *, timeout: float, what: str, buildbot: Buildbot) -> None:
        deadline = time.monotonic() + timeout
        with self.condition:
            while not condition():
                if self.closed:
                    raise SystemExit(f"Buildbot's websocket closed while waiting for {what}")
                if time.monotonic() > deadline:
                    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")
                # woken by every event; the timeout only to notice a master that died
                self.condition.wait(1.0)
                buildbot.check()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.socket.close()


class Buildbot:
    """A master and its workers in a work directory, each process in a session of its own, logs in the directory."""

    def __init__(self, bin_dir: Path, work: Path, workers: int) -> None:
        self.bin = bin_dir
        self.work = work
        self.worker_names = [f"local-{number}" for number in range(1, workers + 1)]
        self.www_port, self.pb_port = reserve_port(), reserve_port()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        # Buildbot's processes get a plain environment, not this bench's settings (its worker copies its own
        # environment into every step's log header).
        self.env = {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8"}
        self.builders: dict[str, int] = {}

    def _run(self, *argv: str) -> None:
        done = subprocess.run(argv, cwd=self.work, env=self.env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stdout[-500:]}{done.stderr[-500:]}")

    def _spawn(self, name: str, *argv: str) -> None:
        with open(self.work / f"{name}.out", "wb") as log:
            self.processes[name] = subprocess.Popen(
                argv,
                cwd=self.work,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self) -> Buildbot:
        try:
            master = self.work / "master"
            self._run(str(self.bin / "buildbot"), "create-master", "--quiet", str(master))
            (master / "master.cfg").write_text(
                master_config(
                    www_port=self.www_port, pb_port=self.pb_port, workers=self.worker_names, password=WORKER_PASSWORD
                )
            )
            for name in self.worker_names:
                self._run(
                    str(self.bin / "buildbot-worker"),
                    *("create-worker", "--quiet", str(self.work / name), f"127.0.0.1:{self.pb_port}", name),
                    WORKER_PASSWORD,
                )
            self._spawn("master", str(self.bin / "buildbot"), "start", "--nodaemon", str(master))
            self._wait(self._answers, what="the master's REST API")
            # The web server starts before the worker port: a worker that finds the port closed retries only after a
            # growing back-off (seen: 1.9, 3.1, 3.8, 5.3, 8, 12, 17 s…). A run right after the install (the master's
            # first imports compile every module) once timed out waiting for the worker to attach.
            self._wait(self._accepts_workers, what="the master's worker port")
            for name in self.worker_names:
                self._spawn(name, str(self.bin / "buildbot-worker"), "start", "--nodaemon", str(self.work / name))
            api = Api(self.www_port)
            self._wait(lambda: self._workers_attached(api), what="every worker to attach")
            self.builders = {row["name"]: row["builderid"] for row in api.call("GET", "builders")["builders"]}
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        with contextlib.suppress(OSError, http.client.HTTPException):
            connection = http.client.HTTPConnection("127.0.0.1", self.www_port, timeout=2)
            connection.request("GET", "/api/v2/builders")
            return connection.getresponse().status == 200
        return False

    def _accepts_workers(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.pb_port), timeout=2):
            return True
        return False

    def _workers_attached(self, api: Api) -> bool:
        try:
            rows = api.call("GET", "workers")["workers"]
        except (OSError, http.client.HTTPException):
            return False  # the web server restarts once the master loaded its configuration: ask again
        return len(rows) == len(self.worker_names) and all(row["connected_to"] for row in rows)

    def _wait(self, condition: Callable[[], bool], *, what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            self.check()
            if time.monotonic() > deadline:
                # the work directory goes with the bench unless --keep: the logs' ends go in the message
                raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}\n{self.log_tails()}")
            time.sleep(0.2)

    def log_tails(self, lines: int = 15) -> str:
        """The last ``lines`` lines of each process's ``twistd.log``, for an error message."""
        tails = []
        for name in self.processes:
            log = self.work / name / "twistd.log"
            text = log.read_text(errors="replace").splitlines()[-lines:] if log.exists() else ["(no log)"]
            tails.append(f"--- {log} ---\n" + "\n".join(text))
        return "\n".join(tails)

    def check(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                output = (self.work / f"{name}.out").read_text(errors="replace").splitlines()[-15:]
                raise SystemExit(
                    f"Buildbot's {name} exited with {process.returncode}; its output ends:\n"
                    + "\n".join(output)
                    + f"\n{self.log_tails()}"
                )

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes.values()]

    def cpu_seconds(self) -> dict[str, float]:
        children = children_of()
        return {name: tree_cpu_seconds(process.pid, children) for name, process in self.processes.items()}

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


def buildbot_build(buildbot: Buildbot, api: Api, events: BuildEvents, kind: str) -> BuildbotBuild:
    """Force one build of ``kind`` and wait for it to finish; its milestones."""
    forced = api.force(BUILDERS[kind])
    events.wait(
        lambda: forced.request in events.finished,
        timeout=120,
        what=f"Buildbot's build request {forced.request}",
        buildbot=buildbot,
    )
    forced.at["finished"], forced.build, forced.results = events.finished[forced.request]
    if forced.results != 0:
        raise SystemExit(f"Buildbot's build {forced.build} ended with results {forced.results} (0 is success)")
    ran = api.first_stage_ran(forced.build)
    if ran is not None:
        forced.at["started"] = ran
    return forced


# --- our side ---------------------------------------------------------------------------------------------------------


def manifest(stages: int) -> str:
    """Our manifest of ``stages`` stages: the first prints when it ran, the others run ``true``."""
    lines = ["stages:"]
    for number, name in enumerate(STAGE_NAMES[:stages]):
        command = FIRST_COMMAND if number == 0 else "true"
        lines += [f"  {name}:", "    image: alpine", f"    commands: ['{command}']"]
    return "\n".join(lines) + "\n"


def our_build(system: System, client: ours.Client, repository: ours.Repository, revision: str) -> dict[str, float]:
    """Push one revision and wait for its build (trigger_latency's round of one); its milestones in ms."""
    (timeline,) = ours.latency_round(system, client, repository, [revision])
    found = {"started": timeline.since_sent("first stage ran"), "finished": timeline.since_sent("finished")}
    return {milestone: float("nan") if value is None else value for milestone, value in found.items()}


# --- figures ----------------------------------------------------------------------------------------------------------


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` percentile of what was measured (NaN: a milestone missing from a build); NaN if nothing."""
    measured = [sample for sample in samples if sample == sample]
    return ours.percentile(measured, fraction) if measured else float("nan")


@dataclass
class BurstFigures:
    builds: int
    seconds: float  # first trigger sent → last build finished
    cpu_ms_per_build: dict[str, float]  # by process of the set, with what it started
    outcome: str

    @property
    def rate(self) -> float:
        return self.builds / self.seconds if self.seconds > 0 else 0.0


def latency_lines(samples: dict[str, dict[str, dict[str, list[float]]]]) -> list[str]:
    """The latency table: per kind of build and milestone, p50 and p90 of each system and the ratios of the p50s
    and p90s (ours / Buildbot's; below 1 is ours faster). ``samples[system][kind][milestone]``: ms."""
    lines = [
        f"  {'build':<9}{'trigger →':<11}{'ours p50':>10}{'p90':>8}{'Buildbot p50':>14}{'p90':>8}"
        f"   {'ours / Buildbot p50':<24}{'p90':<20}"
    ]
    for kind in KINDS:
        for milestone in ("started", "finished"):
            mine, theirs = samples["ours"][kind][milestone], samples["buildbot"][kind][milestone]
            if not mine or not theirs:
                continue
            mine_50, mine_90 = percentile(mine, 0.5), percentile(mine, 0.9)
            their_50, their_90 = percentile(theirs, 0.5), percentile(theirs, 0.9)
            lines.append(
                f"  {kind:<9}{milestone:<11}{mine_50:10.1f}{mine_90:8.1f}{their_50:14.1f}{their_90:8.1f}"
                f"   {ratio_text(mine_50, their_50):<24}{ratio_text(mine_90, their_90):<20}"
            )
    return lines


def burst_lines(mine: BurstFigures, theirs: BurstFigures) -> list[str]:
    lines = [
        f"  builds/s        ours {mine.rate:6.1f}   Buildbot {theirs.rate:6.1f}   "
        f"{ratio_text(mine.rate, theirs.rate, higher_is_better=True)}",
        f"                  (all {mine.builds} finished in {mine.seconds:.1f} s: {mine.outcome}; "
        f"Buildbot's in {theirs.seconds:.1f} s: {theirs.outcome})",
    ]
    mine_total, their_total = sum(mine.cpu_ms_per_build.values()), sum(theirs.cpu_ms_per_build.values())
    lines.append(
        f"  CPU ms/build    ours {mine_total:6.1f}   Buildbot {their_total:6.1f}   "
        f"{ratio_text(mine_total, their_total)}"
    )
    lines.append("    ours:     " + ", ".join(f"{name} {ms:.1f}" for name, ms in sorted(mine.cpu_ms_per_build.items())))
    lines.append(
        "    Buildbot: " + ", ".join(f"{name} {ms:.1f}" for name, ms in sorted(theirs.cpu_ms_per_build.items()))
    )
    return lines


def memory_lines(mine: Memory, theirs: Memory) -> list[str]:
    return [
        f"  RSS MB          ours {mine.rss_kb / 1024:6.1f}   Buildbot {theirs.rss_kb / 1024:6.1f}   "
        f"{ratio_text(mine.rss_kb, theirs.rss_kb)}",
        f"  PSS MB          ours {mine.pss_kb / 1024:6.1f}   Buildbot {theirs.pss_kb / 1024:6.1f}   "
        f"{ratio_text(mine.pss_kb, theirs.pss_kb)}",
    ]


# --- the run ----------------------------------------------------------------------------------------------------------


def our_burst(system: System, repository: ours.Repository, revisions: Sequence[str], clients: int) -> BurstFigures:
    result = ours.burst(system, repository, revisions, clients)
    outcome = ", ".join(f"{count} {status}" for status, count in sorted(result.statuses.items()))
    return BurstFigures(len(revisions), result.finished_for, result.cpu_ms_per_build, outcome)


def buildbot_burst(buildbot: Buildbot, events: BuildEvents, count: int, clients: int) -> BurstFigures:
    """``count`` 1-stage builds forced from ``clients`` connections as fast as the master takes them."""
    requests: list[int] = []
    cpu_before = buildbot.cpu_seconds()
    remaining = iter(range(count))
    lock = threading.Lock()
    failures: list[BaseException] = []

    def send() -> None:
        sender = Api(buildbot.www_port)
        try:
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                forced = sender.force(BUILDERS["1-stage"])
                with lock:
                    requests.append(forced.request)
        except BaseException as error:  # reported below: a burst half sent is no figure
            failures.append(error)

    first_sent = time.time()
    threads = [threading.Thread(target=send, name=f"buildbot-client-{n}") for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"forcing Buildbot's burst failed: {failures[0]!r}")
    events.wait(
        lambda: all(request in events.finished for request in requests),
        timeout=max(300, count * 2),
        what=f"Buildbot's {count} builds",
        buildbot=buildbot,
    )
    cpu_after = buildbot.cpu_seconds()
    ends = [events.finished[request] for request in requests]
    names = {0: "succeeded", 1: "warnings", 2: "failed", 3: "skipped", 4: "exception", 5: "retry", 6: "cancelled"}
    results: dict[str, int] = {}
    for _, _, result in ends:
        results[names.get(result, str(result))] = results.get(names.get(result, str(result)), 0) + 1
    return BurstFigures(
        count,
        max(end for end, _, _ in ends) - first_sent,
        {name: (cpu_after[name] - cpu_before.get(name, 0.0)) * 1000 / count for name in cpu_after},
        ", ".join(f"{number} {name}" for name, number in sorted(results.items())),
    )


def run(args: argparse.Namespace) -> None:
    bin_dir = ensure_buildbot(args.buildbot_venv)
    data_dir, _ = ours.setup_environment(args)
    work = data_dir.parent
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    per_kind = args.warmup + args.builds
    print(f"work dir {work}; two repositories ({per_kind} + {per_kind + args.burst} commits)", flush=True)
    repositories = {
        "1-stage": ours.Repository(work / "repos" / "acme" / "one", per_kind + args.burst, manifest(1)),
        "3-stage": ours.Repository(work / "repos" / "acme" / "three", per_kind, manifest(3)),
    }
    revisions = {kind: iter(repository.revisions) for kind, repository in repositories.items()}
    system: System | None = None
    buildbot: Buildbot | None = None
    events: BuildEvents | None = None
    try:
        print("starting make run's process set and Buildbot's master and worker(s)", flush=True)
        system = System(data_dir).start()
        buildbot = Buildbot(bin_dir, work / "buildbot", args.buildbot_workers)
        buildbot.work.mkdir()
        buildbot.start()
        client, api, events = ours.Client(system.port), Api(buildbot.www_port), BuildEvents(buildbot.www_port)
        print(
            f"up: ours {', '.join(system.processes)}; Buildbot {', '.join(buildbot.processes)}; "
            f"warming up with {args.warmup} build(s) of each kind on each",
            flush=True,
        )
        for _ in range(max(1, args.warmup)):
            for kind in KINDS:
                our_build(system, client, repositories[kind], next(revisions[kind]))
                buildbot_build(buildbot, api, events, kind)

        print("idle memory: waiting for both sets to hold still", flush=True)
        memory = {
            "ours": settle_memory(system.pids(), settle=3, timeout=30),
            "buildbot": settle_memory(buildbot.pids(), settle=3, timeout=30),
        }
        memory_by_process = {
            "ours": {name: tree_memory([process.pid]) for name, process in system.processes.items()},
            "buildbot": {name: tree_memory([process.pid]) for name, process in buildbot.processes.items()},
        }

        samples: dict[str, dict[str, dict[str, list[float]]]] = {
            name: {kind: {"started": [], "finished": []} for kind in KINDS} for name in ("ours", "buildbot")
        }
        for number in range(args.builds):
            print(f"\rlatency: build {number + 1} of {args.builds} of each kind on each system", end="", flush=True)
            for kind in KINDS:
                for milestone, value in our_build(system, client, repositories[kind], next(revisions[kind])).items():
                    samples["ours"][kind][milestone].append(value)
                forced = buildbot_build(buildbot, api, events, kind)
                for milestone in ("started", "finished"):
                    value = forced.since_sent(milestone)
                    samples["buildbot"][kind][milestone].append(float("nan") if value is None else value)
        print(flush=True)

        bursts = None
        if args.burst:
            print(f"throughput: a burst of {args.burst} 1-stage builds on ours, then on Buildbot", flush=True)
            pushed = [next(revisions["1-stage"]) for _ in range(args.burst)]
            bursts = (
                our_burst(system, repositories["1-stage"], pushed, args.clients),
                buildbot_burst(buildbot, events, args.burst, args.clients),
            )
    finally:
        print("stopping both systems", flush=True)
        if events is not None:
            events.close()
        if buildbot is not None:
            buildbot.stop()
        if system is not None:
            system.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(
        f"\n== ours (make run's process set, SQLite, host executor) vs Buildbot {BUILDBOT_VERSION} "
        f"({args.buildbot_workers} worker(s), SQLite), same run =="
    )
    print("ratios: ours / Buildbot's, and which way that goes")
    print("\nidle, both up and warmed up (RSS MB by process, with what it started):")
    for line in memory_lines(memory["ours"], memory["buildbot"]):
        print(line)
    for name, label in (("ours", "ours:    "), ("buildbot", "Buildbot:")):
        print(
            f"    {label} "
            + ", ".join(f"{process} {m.rss_kb / 1024:.1f}" for process, m in memory_by_process[name].items())
        )
    print(f"\nlatency, {args.builds} builds of each kind per system, one at a time, interleaved; ms from the trigger")
    for line in latency_lines(samples):
        print(line)
    if bursts is not None:
        print(f"\nthroughput, a burst of {args.burst} 1-stage builds from {args.clients} connections")
        for line in burst_lines(*bursts):
            print(line)


def main() -> None:
    args = parse_args()

    def stop_on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # unwinds through run()'s finally: every process started is stopped

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    started = time.perf_counter()
    try:
        run(args)
    except KeyboardInterrupt:
        raise SystemExit("interrupted: every process this bench started was stopped") from None
    print(f"(bench ran {time.perf_counter() - started:.0f}s)")


if __name__ == "__main__":
    main()
