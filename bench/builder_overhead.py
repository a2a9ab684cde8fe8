"""Builder overhead: per-stage cost of the host executor, and log lines/s delivered end to end.

    .venv/bin/python bench/builder_overhead.py [--stages 50] [--lines 1000000]

1. **Per-stage overhead** (target ≤ 30 ms): the same command (``true``) run N times as a raw ``sh -c`` (the baseline,
   measured in the same run), through the host executor (entrypoint script, process, output threads), and as a whole
   stage through the runner (``when``, environment, statuses, masking), unsandboxed and in the bwrap sandbox.
   Overhead = median time - median baseline.
2. **Start-up**: ``python -m builder job`` from process start until the first stage's command runs (it writes a
   timestamp), against ``python -c pass`` as the baseline (the spine wants < 100 ms push-to-first-stage overall).
3. **Lines/s end to end** (target ≥ 100 k lines/s): ``python -m builder job`` (host executor) runs one stage printing
   N lines (``seq``) while the fake API (``builder.testing.FakeApi``, parsing every batch with ``builder.contracts``)
   receives them over HTTP. Timed from starting the job process until the API holds every line and the final status;
   the baseline is ``seq`` alone writing to a pipe that is read and discarded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.contracts import TailLogLine  # noqa: E402
from builder.executors.base import ContainerSpec  # noqa: E402
from builder.executors.host import HostExecutor, bwrap_available  # noqa: E402
from builder.manifest.when import evaluate_when  # noqa: E402
from builder.output import LineAssembler  # noqa: E402
from builder.plan import StagePlan  # noqa: E402
from builder.runner import PipelineRunner, RunContext  # noqa: E402
from builder.secrets import Masker  # noqa: E402
from builder.testing import FakeApi  # noqa: E402


class NullSink:
    def update(self, tail: TailLogLine) -> None:
        pass

    def log_lines(self, ref: object, stream: str, first_line: int, timestamp: str, texts: object) -> None:
        pass


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm up (page cache, imports)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def stage_overhead(runs: int) -> None:
    workspace = Path(tempfile.mkdtemp(prefix="bench-work-"))
    baseline = median_ms(lambda: subprocess.run(["sh", "-c", "true"], check=True), runs)
    print(f"per-stage cost of `true`, median of {runs} runs")
    print(f"  baseline: raw sh -c                         {baseline:7.2f} ms")
    variants = [False, True] if bwrap_available() else [False]
    for sandbox in variants:
        executor = HostExecutor(sandbox=sandbox)
        executor.open(run_id="bench")
        label = "bwrap sandbox" if sandbox else "no sandbox"
        spec = ContainerSpec(
            name="s", image="alpine", workspace=workspace, work_dir="/estafette-work", commands=["true"]
        )

        def through_executor(spec: ContainerSpec = spec, executor: HostExecutor = executor) -> None:
            assembler = LineAssembler(Masker(), lambda stream, lines: None)
            container = executor.start(spec, assembler.feed)
            assert container.wait() == 0
            assembler.close()

        def through_runner(executor: HostExecutor = executor) -> None:
            runner = PipelineRunner(
                RunContext(executor=executor, sink=NullSink(), workspace=workspace, evaluate_when=evaluate_when)
            )
            assert runner.run([StagePlan(name="s", image="alpine", commands=("true",))]) == "succeeded"

        for name, action in (("executor", through_executor), ("runner stage", through_runner)):
            took = median_ms(action, runs)
            overhead = took - baseline
            verdict = "ok" if overhead <= 30 else "OVER TARGET"
            print(f"  host {name:<13} ({label:<13}) {took:7.2f} ms  overhead {overhead:6.2f} ms  ({verdict}, ≤ 30 ms)")
        executor.close()


def _job_config(api: FakeApi, commands: list[str], *, run_id: int = 1) -> dict:
    return {
        "jobType": "build",
        "build": {"id": str(run_id)},  # a run of its own per job: the fake API refuses reports after a run's end
        "git": {
            "repoSource": "github.com",
            "repoOwner": "acme",
            "repoName": "bench",
            "repoBranch": "main",
            "repoRevision": "0" * 40,
        },
        "version": {"version": "1.0.0"},
        "stages": [{"name": "first", "image": "alpine", "commands": commands}],
        "ciServer": api.ci_server().to_dict(),
    }


def _job_argv(directory: str, config: dict) -> list[str]:
    config_file = Path(directory) / "config.json"
    config_file.write_text(json.dumps(config))
    argv = [sys.executable, "-m", "builder", "job", "--config", str(config_file), "--executor", "host"]
    return [*argv, "--workspace", str(Path(directory) / "work")]


def startup(runs: int) -> None:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    baseline = median_ms(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), runs)
    samples = []
    with FakeApi() as api:
        for run_id in range(1, runs + 1):
            with tempfile.TemporaryDirectory(prefix="bench-start-") as directory:
                argv = _job_argv(directory, _job_config(api, ["date +%s.%N > started"], run_id=run_id))
                started = time.time()
                subprocess.run(argv, cwd=directory, env=env, capture_output=True, check=True)
                first_command = float((Path(directory) / "work" / "started").read_text())
                samples.append((first_command - started) * 1000)
    sandbox = "bwrap sandbox" if bwrap_available() else "no sandbox"
    print(f"\nstart-up, median of {runs} runs")
    print(f"  baseline: python -c pass                    {baseline:7.1f} ms")
    print(
        f"  job process start → first command runs      {statistics.median(samples):7.1f} ms"
        f"  (host executor, {sandbox})"
    )


def lines_per_second(lines: int) -> None:
    # baseline: seq into a pipe that is drained
    started = time.perf_counter()
    subprocess.run(f"seq 1 {lines} | cat > /dev/null", shell=True, check=True)
    baseline = time.perf_counter() - started

    with FakeApi() as api, tempfile.TemporaryDirectory(prefix="bench-job-") as directory:
        argv = _job_argv(directory, _job_config(api, [f"seq 1 {lines}"]))
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
        started = time.perf_counter()
        result = subprocess.run(argv, cwd=directory, env=env, capture_output=True, text=True, check=False)
        api.wait_until(lambda fake: len(fake.statuses) >= 2, timeout=600)
        took = time.perf_counter() - started
        received = sum(1 for line in api.stored_lines() if line.step == "first" and line.log_line is not None)
        echoed = 1  # the entrypoint echoes the command as one line
    if result.returncode != 0 or received != lines + echoed:
        print(f"job failed (exit {result.returncode}, {received} lines received):\n{result.stderr}")
        sys.exit(1)
    rate = lines / took
    verdict = "ok" if rate >= 100_000 else "UNDER TARGET"
    print(f"\n{lines:,} log lines from one stage, delivered end to end to the fake API over HTTP")
    print(f"  baseline: seq into a drained pipe           {baseline:7.2f} s   {lines / baseline:12,.0f} lines/s")
    print(
        f"  builder job → fake API ({len(api.batches)} batches)     {took:7.2f} s   {rate:12,.0f} lines/s"
        f"  ({verdict}, ≥ 100,000; {took / baseline:.1f} times the baseline)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", type=int, default=50, help="runs per per-stage measurement")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines the stage prints")
    args = parser.parse_args()
    stage_overhead(args.stages)
    startup(max(5, args.stages // 5))
    lines_per_second(args.lines)


if __name__ == "__main__":
    main()
