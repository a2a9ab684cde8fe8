"""Job start latency of the local runner: cold builder processes against the warm standby pool.

    .venv/bin/python bench/job_start.py [--jobs 50] [--burst 200] [--standbys 2]

Each job is a 1-stage ``true`` build on the host executor, started with ``LocalProcessJobRunner.start(spec)``
and reporting to its own fake API (``builder.testing.FakeApi``, which notes when each report arrives). Timed from
calling ``start`` to the API receiving:

  (a) the builder's ``running`` status event,
  (b) the first stage's ``RUNNING`` status and its first log line (they travel in the same log batch),
  (c) the final status (``succeeded``), sent after every log batch was delivered.

1. **Latency**: ``--jobs`` jobs one after the other, p50 and p99, cold (``standbys=0``: a fresh ``python -m builder
   job`` under the shell wrapper, the baseline measured in the same run) and warm (``--standbys`` pre-started
   builders that fork each job). Also how long ``start`` itself took.
2. **Throughput**: ``--burst`` jobs started back to back as fast as ``start`` returns, then jobs/s from the first
   ``start`` until the API holds every final status, cold and warm.

The spine's targets (issue 5) are for the whole path from a signed webhook: p50 ≤ 100 ms to the first stage
running, ≤ 150 ms to finished, ≥ 20 builds/s; this measures the job-start part of that path.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.contracts import LogBatch, StatusEvent  # noqa: E402
from builder.secrets import generate_key  # noqa: E402
from builder.testing import FakeApi  # noqa: E402
from estafette.jobs.base import JobSpec, JobStatus  # noqa: E402
from estafette.jobs.local import LocalProcessJobRunner  # noqa: E402

STAGE = "first"
MILESTONES = ("running", "stage RUNNING", "first log line", "final")


class TimedApi(FakeApi):
    """The fake API, noting when each milestone of the job arrived (``time.perf_counter()``)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, float] = {}
        self.finished = threading.Event()

    def _note(self, milestone: str) -> None:
        self.arrived.setdefault(milestone, time.perf_counter())

    def _store_status(self, event: StatusEvent) -> tuple[int, dict[str, Any]]:
        answer = super()._store_status(event)
        if event.status == "running":
            self._note("running")
        elif event.status in ("succeeded", "failed", "canceled"):
            self._note("final")
            self.finished.set()
        return answer

    def _store_batch(self, batch: LogBatch, body: bytes) -> tuple[int, dict[str, Any]]:
        for line in batch.lines:
            if line.step == STAGE and line.status == "RUNNING":
                self._note("stage RUNNING")
            if line.step == STAGE and line.log_line is not None:
                self._note("first log line")
        return super()._store_batch(batch, body)


def job_config(api: FakeApi, run_id: int) -> dict[str, Any]:
    return {
        "jobType": "build",
        "build": {"id": str(run_id)},
        "git": {
            "repoSource": "github.com",
            "repoOwner": "acme",
            "repoName": "bench",
            "repoBranch": "main",
            "repoRevision": "0" * 40,
        },
        "version": {"version": f"1.0.{run_id}"},
        "stages": [{"name": STAGE, "image": "alpine", "commands": ["true"]}],
        "ciServer": api.ci_server().to_dict(),
    }


class Bench:
    def __init__(self, *, standbys: int) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="bench-job-start-"))
        self.runner = LocalProcessJobRunner(
            jobs_dir=self.directory / "jobs", python_path=(ROOT,), grace_seconds=5, standbys=standbys
        )
        self.run_ids = iter(range(1, 1_000_000))
        self.launchers: dict[str, int] = {}  # how many jobs a standby launched ("standby") or started cold ("spawn")
        if self.runner.standbys is not None and not self.runner.standbys.wait_until_ready(timeout=120):
            sys.exit("the standbys did not start within 120 s")

    def start(self) -> tuple[str, TimedApi, float, float]:
        """Start one job: its name, its API, when ``start`` was called and when it returned."""
        api = TimedApi().start()
        run_id = next(self.run_ids)
        spec = JobSpec.for_run(
            job_type="build",
            repo_owner="acme",
            repo_name="bench",
            run_id=run_id,
            config=job_config(api, run_id),
            secret_key=generate_key(),
        )
        called = time.perf_counter()
        name = self.runner.start(spec)
        return name, api, called, time.perf_counter()

    def finish(self, name: str, api: TimedApi) -> None:
        if not api.finished.wait(60):
            log = self.runner.workspace(name) / "job.log"
            sys.exit(f"{name} did not report a final status within 60 s; its log:\n{log.read_text()}")
        deadline = time.monotonic() + 30
        while self.runner.status(name) is not JobStatus.SUCCEEDED:  # the builder process ended with exit code 0
            if time.monotonic() > deadline:
                sys.exit(f"{name} did not end: {self.runner.status(name)}")
            time.sleep(0.005)
        # the server's shutdown waits for its poll interval (0.5 s): not on the measured path
        threading.Thread(target=api.stop, daemon=True).start()
        launcher = json.loads((self.runner.workspace(name) / "job.json").read_text())["startedBy"]
        self.launchers[launcher] = self.launchers.get(launcher, 0) + 1
        self.runner.cleanup(name)

    def close(self) -> None:
        self.runner.close()
        shutil.rmtree(self.directory, ignore_errors=True)


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latency(bench: Bench, jobs: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {milestone: [] for milestone in ("start() returns", *MILESTONES)}
    for _ in range(jobs):
        name, api, called, returned = bench.start()
        bench.finish(name, api)
        samples["start() returns"].append((returned - called) * 1000)
        for milestone in MILESTONES:
            samples[milestone].append((api.arrived[milestone] - called) * 1000)
    return samples


def throughput(bench: Bench, jobs: int) -> tuple[float, float]:
    """(jobs/s from the first start until every final status arrived, starts/s)."""
    started = []
    first = time.perf_counter()
    for _ in range(jobs):
        started.append(bench.start())
    all_started = time.perf_counter()
    for _, api, _, _ in started:
        api.finished.wait(120)
    last_final = max(api.arrived.get("final", float("inf")) for _, api, _, _ in started)
    for name, api, _, _ in started:
        bench.finish(name, api)
    return jobs / (last_final - first), jobs / (all_started - first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=50, help="jobs for the latency figures")
    parser.add_argument("--burst", type=int, default=200, help="jobs started back to back for throughput")
    parser.add_argument("--standbys", type=int, default=2, help="standbys of the warm pool")
    args = parser.parse_args()
    os.environ["ESTAFETTE_BUILDER_EXECUTOR"] = "host"  # a builder setting: passed on to the jobs

    results: dict[str, dict[str, list[float]]] = {}
    rates: dict[str, tuple[float, float]] = {}
    launchers: dict[str, dict[str, int]] = {}
    for mode, standbys in (("cold", 0), ("warm", args.standbys)):
        bench = Bench(standbys=standbys)
        try:
            latency(bench, 3)  # warm the page cache and the fake API's code paths
            results[mode] = latency(bench, args.jobs)
            rates[mode] = throughput(bench, args.burst)
            launchers[mode] = bench.launchers
        finally:
            bench.close()

    print(f"1-stage `true` job, host executor, {args.jobs} jobs one after another; ms from runner.start(spec)")
    print(f"  {'to':<26}{'cold p50':>10}{'p99':>9}{'warm p50':>11}{'p99':>9}{'cold/warm p50':>15}")
    for milestone in results["cold"]:
        cold, warm = results["cold"][milestone], results["warm"][milestone]
        cold_p50, warm_p50 = statistics.median(cold), statistics.median(warm)
        print(
            f"  {milestone:<26}{cold_p50:10.1f}{percentile(cold, 0.99):9.1f}{warm_p50:11.1f}"
            f"{percentile(warm, 0.99):9.1f}{cold_p50 / warm_p50:14.1f}x"
        )
    print(f"\n{args.burst} jobs started back to back (all running at once), until the API holds every final status")
    for mode in ("cold", "warm"):
        done, starts = rates[mode]
        print(f"  {mode}: {done:7.1f} jobs/s finished   ({starts:7.1f} starts/s)")
    print(f"  warm/cold: {rates['warm'][0] / rates['cold'][0]:.1f}x")
    print(f"\njobs launched by a standby / started cold: cold run {launchers['cold']}, warm run {launchers['warm']}")
    warm = results["warm"]
    print(
        f"\nwarm p50 to stage RUNNING {statistics.median(warm['stage RUNNING']):.1f} ms and to final status "
        f"{statistics.median(warm['final']):.1f} ms — of issue 5's 100 ms / 150 ms budgets for the whole path"
    )


if __name__ == "__main__":
    main()
