#!/usr/bin/env python3
"""Scaling out, measured on one machine: the same burst of pushes on one of each process, then on two of each.

    .venv/bin/python bench/scale_out.py --postgres [--builds 200] [--clients 4]
    .venv/bin/python bench/scale_out.py --database-url postgresql://…   # an existing database

Two layouts run one after the other on the same database (a throw-away PostgreSQL with ``--postgres``: scaling out
is a PostgreSQL or CockroachDB deployment; SQLite works here too but is one file for one machine) and the same
nats-server data:

* **one**: the repository's Procfile (one web process, one worker process with consumers, relay, cron, sweeper);
* **two**: two web processes (gunicorn on two ports, the pushes spread over both), two worker processes, each with
  every consumer and an outbox relay on connections of its own (cron, the job sweeper and the audit sweep only in
  the first: single duties, one replica each in the chart), one nats-server.

Each layout warms up with ``--warmup`` pushes, then takes ``--builds`` pushes from ``--clients`` kept-alive
connections (in the two layout, alternately to either web process). Checked afterwards, or the bench fails: builds
created == pushes accepted, no push with two builds, distinct counters (build versions), every build finished.
Printed per layout: builds/s (first push sent → last build finished), CPU per build of each process (user + system,
with the children it reaped: the jobs its standby forked) and the total.

The machine has two cores, and a second process of each kind adds no core: the rate of the two layout is not a
scale-out factor. What it shows is that the second processes share the work correctly and what they cost per build
(CPU per build); on machines of their own the rate would follow the CPU per build of the busiest process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import trigger_latency as bench  # noqa: E402
from bench.cpu_per_build import direct_children  # noqa: E402
from bench.support import procfile_lines  # noqa: E402
from builder.testing import reserve_port  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--builds", type=int, default=200, help="pushes (builds) measured per layout")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections sending them")
    parser.add_argument("--warmup", type=int, default=10, help="builds per layout before measuring")
    parser.add_argument("--layout", choices=("one", "two", "both"), default="both")
    parser.add_argument("--database-url", help="ESTAFETTE_DATABASE_URL (default: SQLite in the data dir)")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL (tests/tooling)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (logs of every process)")
    args = parser.parse_args()
    args.source = "git"
    return args


def layout_lines(layout: str, port2: int) -> dict[str, str]:
    """The processes of a layout: the Procfile's, or two web and two worker processes."""
    lines = procfile_lines()
    if layout == "one":
        return lines
    web2 = lines["web"].replace("${ESTAFETTE_HTTP_PORT:-8000}", str(port2))
    assert web2 != lines["web"], "the Procfile's web line no longer binds ${ESTAFETTE_HTTP_PORT:-8000}"
    worker2 = ".venv/bin/python manage.py consume --all --with relay"
    return {**lines, "web2": web2, "worker2": worker2}


@dataclass
class Result:
    layout: str
    count: int
    seconds: float  # first push sent → last build finished
    statuses: dict[str, int]
    cpu_ms_per_build: dict[str, float]  # by process (with what it started)
    problems: list[str]

    @property
    def rate(self) -> float:
        return self.count / max(1e-6, self.seconds)


def send_burst(ports: Sequence[int], repository: bench.Repository, revisions: Sequence[str], clients: int) -> float:
    """Push ``revisions`` from ``clients`` connections, spread over ``ports``; when the first was sent."""
    pending = iter(revisions)
    lock = threading.Lock()

    def send(port: int) -> None:
        client = bench.Client(port)
        while True:
            with lock:
                revision = next(pending, None)
                if revision is None:
                    return
                repository.advance(revision)  # in order: main only moves forward
            client.push(repository.path, revision)  # raises unless accepted (202)

    first_sent = time.time()
    threads = [threading.Thread(target=send, args=(ports[n % len(ports)],)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return first_sent


def check(revisions: Sequence[str]) -> tuple[list[str], dict[str, int], float]:
    """What is wrong with the builds of ``revisions`` (empty: nothing), their statuses, when the last finished."""
    from builds.models import Build

    rows = list(
        Build.objects.filter(repo_revision__in=revisions).values_list("repo_revision", "build_version", "status")
    )
    problems = []
    per_push = Counter(revision for revision, _, _ in rows)
    lost = len(set(revisions) - set(per_push))
    if lost:
        problems.append(f"{lost} accepted push(es) without a build")
    doubled = [revision for revision, n in per_push.items() if n > 1]
    if doubled:
        problems.append(f"{len(doubled)} push(es) built more than once")
    versions = Counter(version for _, version, _ in rows)
    if len(versions) != len(rows):
        problems.append(f"{len(rows) - len(versions)} build version(s) given twice")
    statuses = dict(Counter(status for _, _, status in rows))
    unfinished = sum(n for status, n in statuses.items() if status not in bench.FINAL)
    if unfinished:
        problems.append(f"{unfinished} build(s) not finished")
    last = (
        Build.objects.filter(repo_revision__in=revisions).order_by("-updated_at").values_list("updated_at", flat=True)
    )
    return problems, statuses, last[0].timestamp() if last else time.time()


def run_layout(
    layout: str, data_dir: Path, repository: bench.Repository, revisions: Sequence[str], args: argparse.Namespace
) -> Result:
    port2 = reserve_port()
    system = bench.System(data_dir, layout_lines(layout, port2), logs=f"logs-{layout}").start()
    ports = [system.port] + ([port2] if "web2" in system.lines else [])
    try:
        warmup, measured = revisions[: args.warmup], revisions[args.warmup :]
        print(f"[{layout}] up: {', '.join(system.processes)}; {len(warmup)} builds to warm up", flush=True)
        if "worker2" in system.lines:
            # its consumers start their builder standby as they start: then the second worker shares the burst
            bench.wait_until(
                lambda: bool(direct_children(system.processes["worker2"].pid)),
                timeout=120,
                what="the second worker's consumers",
                system=system,
                every=0.2,
            )
        for batch in (warmup, measured):
            if not batch:
                continue
            before = system.cpu_seconds()
            first_sent = send_burst(ports, repository, batch, args.clients)
            bench.wait_until(
                lambda batch=batch: bench.finished(batch) >= len(batch),
                timeout=max(300, 2 * len(batch)),
                what=f"{len(batch)} builds to finish",
                system=system,
                every=0.5,
            )
            after = system.cpu_seconds()
        problems, statuses, last_finished = check(measured)
        cpu = {name: (after[name] - before.get(name, 0.0)) * 1000 / len(measured) for name in after}
    finally:
        system.stop()
    return Result(layout, len(measured), last_finished - first_sent, statuses, cpu, problems)


def report(results: list[Result]) -> None:
    for result in results:
        print(f"\n== {result.layout}: {result.count} builds {result.statuses}")
        print(f"{'process':<12} {'CPU ms/build':>12}")
        for name, used in result.cpu_ms_per_build.items():
            print(f"{name:<12} {used:>12.1f}")
        total = sum(result.cpu_ms_per_build.values())
        print(f"{'total':<12} {total:>12.1f}")
        print(f"rate: {result.rate:.1f} builds/s (first push sent → last build finished, {result.seconds:.1f} s)")
        print(
            "checks: "
            + (
                "no build lost or doubled, counters distinct, all finished"
                if not result.problems
                else "; ".join(result.problems)
            )
        )
    if len(results) == 2:
        one, two = results
        cpu_one, cpu_two = sum(one.cpu_ms_per_build.values()), sum(two.cpu_ms_per_build.values())
        print(
            f"\ntwo of each vs one: rate {two.rate / one.rate:.2f} x, CPU per build {cpu_two / cpu_one:.2f} x "
            f"({cpu_one:.0f} → {cpu_two:.0f} ms) on this machine's two cores, load {os.getloadavg()[0]:.1f}"
        )


def main() -> None:
    args = parse_args()
    data_dir, database_server = bench.setup_environment(args)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    layouts = ["one", "two"] if args.layout == "both" else [args.layout]
    per_layout = args.warmup + args.builds
    print(f"data dir {data_dir}; a repository with {per_layout * len(layouts)} commits to push", flush=True)
    repository = bench.Repository(data_dir.parent / "repos" / "acme" / "api", per_layout * len(layouts))
    results = []
    try:
        for n, layout in enumerate(layouts):
            revisions = repository.revisions[n * per_layout : (n + 1) * per_layout]
            results.append(run_layout(layout, data_dir, repository, revisions, args))
    finally:
        if database_server is not None:
            database_server.stop()
    report(results)
    if args.keep:
        print(f"kept {data_dir.parent}")
    else:
        shutil.rmtree(data_dir.parent, ignore_errors=True)
    if any(result.problems for result in results):
        raise SystemExit("the burst lost or doubled builds: see the checks above")


if __name__ == "__main__":
    main()
