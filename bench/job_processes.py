#!/usr/bin/env python3
"""CPU time and page faults per process of a job: the standby's forks (leader, builder) and what they run.

    .venv/bin/python bench/job_processes.py [--builds 40] [--clients 2] [--keep-trace FILE]

``bench/cpu_per_build.py`` reads a job's CPU from ``/proc`` as one figure: the leader, the builder and everything
they start are reaped into the standby's children time. This bench splits it, without touching the processes: it
runs the same system and burst (the same code), and while the burst runs, ``perf record -a`` (root) notes every
fork, exec, every CPU time slice (``sched:sched_stat_runtime``) and every minor page fault (a copy-on-write fault
among them). Then each process is placed in the job's tree under the standby:

    leader            the standby's fork that leads the job's process group
    builder           the leader's fork that runs ``python -m builder job`` (all its threads)
    <program>         what the builder's descendants exec'd (bwrap, setpriv, sh, git, date, ...), by name
    python fork       the builder's forks before they exec (``subprocess``'s child)

and printed per build: milliseconds of CPU, minor faults, and processes started. The standby's own CPU (its fork of
each leader) and the rest of the worker process are printed too.

perf adds some CPU to what it observes (every fault is a sample): take totals from ``bench/cpu_per_build.py``, and
the split between processes from here.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import cpu_per_build  # noqa: E402
from bench import trigger_latency as bench  # noqa: E402

EVENTS = "sched:sched_process_fork,sched:sched_process_exec,sched:sched_stat_runtime,minor-faults"
_LINE = re.compile(
    r"^\s*(?P<comm>.*?)\s+(?P<pid>-?\d+)/(?P<tid>\d+)\s+(?P<time>[\d.]+):\s+(?P<event>[\w:-]+):\s?(?P<trace>.*)$"
)
_FIELD = re.compile(r"(\w+)=(\S+)")


@dataclass
class Process:
    pid: int
    parent: int | None = None  # the process (thread group) that forked it
    forked_at: float = 0.0
    execs: list[tuple[float, str]] = field(default_factory=list)  # (when, program name)
    runtime: list[tuple[float, int]] = field(default_factory=list)  # (when, ns)
    faults: list[float] = field(default_factory=list)

    def image_at(self, moment: float, processes: dict[int, Process]) -> str | None:
        """The program this process ran at ``moment``: its last exec before, else what its parent ran when it forked
        (``None``: a fork of a Python process that has not exec'd)."""
        name = None
        for when, program in self.execs:
            if when <= moment:
                name = program
        if name is not None:
            return name
        parent = processes.get(self.parent) if self.parent is not None else None
        if parent is None:
            return None
        return parent.image_at(self.forked_at, processes)


def parse(trace: Path) -> tuple[dict[int, Process], dict[int, int]]:
    """Processes by pid and the thread group of each thread id, from ``perf script`` output."""
    processes: dict[int, Process] = {}
    group_of: dict[int, int] = {}  # tid → pid
    forks: list[tuple[float, int, int]] = []  # (when, parent tid, child tid)
    runtimes: list[tuple[float, int, int]] = []  # (when, tid, ns)
    faults: list[tuple[float, int]] = []
    execs: list[tuple[float, int, str]] = []
    with subprocess.Popen(
        ["perf", "script", "-i", str(trace), "-F", "comm,pid,tid,time,event,trace"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as script:
        assert script.stdout is not None
        for line in script.stdout:
            match = _LINE.match(line)
            if match is None:
                continue
            pid, tid, moment, event = int(match["pid"]), int(match["tid"]), float(match["time"]), match["event"]
            if pid > 0:
                group_of.setdefault(tid, pid)
            fields = dict(_FIELD.findall(match["trace"]))
            if event == "sched:sched_process_fork":
                forks.append((moment, tid, int(fields["child_pid"])))
            elif event == "sched:sched_process_exec":
                execs.append((moment, pid, os.path.basename(fields["filename"])))
            elif event == "sched:sched_stat_runtime":
                runtimes.append((moment, int(fields["pid"]), int(fields["runtime"])))
            elif event == "minor-faults":
                faults.append((moment, pid))

    def process(pid: int) -> Process:
        return processes.setdefault(pid, Process(pid))

    for moment, parent_tid, child in forks:
        child_group = group_of.get(child, child)
        if child_group == child:  # a new process, not a thread
            entry = process(child)
            entry.parent = group_of.get(parent_tid, parent_tid)
            entry.forked_at = moment
    for moment, pid, program in execs:
        process(pid).execs.append((moment, program))
    for moment, tid, ns in runtimes:
        process(group_of.get(tid, tid)).runtime.append((moment, ns))
    for moment, pid in faults:
        process(pid).faults.append(moment)
    return processes, group_of


def role_of(process: Process, processes: dict[int, Process], standbys: set[int]) -> str | None:
    """``leader``/``builder`` for the standby's forks and their forks, else the job's program; None: not a job's."""
    chain = [process.pid]
    current = process
    while current.parent is not None and current.parent not in standbys:
        current = processes.get(current.parent) or Process(current.parent)
        chain.append(current.pid)
        if len(chain) > 64:
            return None
    if current.parent not in standbys:
        return None
    depth = len(chain)
    if depth == 1:
        return "leader"
    if depth == 2:
        return "builder"
    return ""  # a descendant of the builder: named by its image at each moment


def summarise(processes: dict[int, Process], standbys: set[int]) -> dict[str, list[float]]:
    """Per role: [CPU ns, minor faults, processes]."""
    totals: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
    for process in processes.values():
        if process.pid in standbys:
            totals["standby"][0] += sum(ns for _, ns in process.runtime)
            totals["standby"][1] += len(process.faults)
            continue
        role = role_of(process, processes, standbys)
        if role is None:
            continue
        if role:
            totals[role][0] += sum(ns for _, ns in process.runtime)
            totals[role][1] += len(process.faults)
            totals[role][2] += 1
            continue
        seen: set[str] = set()
        for moment, ns in process.runtime:
            name = process.image_at(moment, processes) or "python fork"
            totals[name][0] += ns
            seen.add(name)
        for moment in process.faults:
            name = process.image_at(moment, processes) or "python fork"
            totals[name][1] += 1
            seen.add(name)
        for _, program in process.execs:
            totals[program][2] += 1
        if not process.execs:
            totals[process.image_at(process.forked_at, processes) or "python fork"][2] += 1
    return totals


def standby_pids(worker: int) -> set[int]:
    found = set()
    for child in cpu_per_build.direct_children(worker):
        with contextlib.suppress(OSError):
            if b"standby" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.add(child)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--builds", type=int, default=40, help="pushes (builds) measured")
    parser.add_argument("--clients", type=int, default=2, help="concurrent connections sending them")
    parser.add_argument("--warmup", type=int, default=10, help="builds before measuring")
    parser.add_argument("--keep-trace", type=Path, help="keep perf's recording in this file")
    args = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which("perf"):
        sys.exit("this bench records every process with `perf record -a`: run it as root with perf installed")
    args.source, args.database_url, args.postgres = "git", None, False
    data_dir, _ = bench.setup_environment(args)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    repository = bench.Repository(data_dir.parent / "repos" / "acme" / "api", args.warmup + args.builds)
    revisions = iter(repository.revisions)
    system = bench.System(data_dir).start()
    trace = args.keep_trace or Path(tempfile.mkdtemp(prefix="bench-job-processes-")) / "perf.data"
    try:
        client = bench.Client(system.port)
        print(f"system up; {args.warmup} builds to warm up", flush=True)
        bench.latency_round(system, client, repository, [next(revisions) for _ in range(max(1, args.warmup))])
        time.sleep(2)
        worker = system.processes["worker"].pid
        standbys = standby_pids(worker)
        recorder = subprocess.Popen(
            ["perf", "record", "-a", "-c", "1", "-e", EVENTS, "-o", str(trace), "--", "sleep", "3600"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(1.5)  # perf attaches to every CPU
        worker_before = cpu_per_build.cpu_by_process(system)
        result = bench.burst(system, repository, [next(revisions) for _ in range(args.builds)], args.clients)
        worker_after = cpu_per_build.cpu_by_process(system)
        time.sleep(0.5)  # the last jobs' processes exit
        os.killpg(recorder.pid, signal.SIGINT)
        recorder.wait(120)
    finally:
        system.stop()
    print(f"\n{args.builds} builds ({result.statuses}); standbys {sorted(standbys)}; parsing {trace}", flush=True)
    processes, _ = parse(trace)
    totals = summarise(processes, standbys)
    builds = args.builds
    print(f"{'process':<22}{'CPU ms/build':>13}{'minor faults/build':>20}{'started/build':>15}")
    order = sorted(totals, key=lambda name: -totals[name][0])
    job = 0.0
    for name in order:
        ns, faults, started = totals[name]
        job += ns if name != "standby" else 0
        print(f"{name:<22}{ns / 1e6 / builds:>13.2f}{faults / builds:>20.0f}{started / builds:>15.2f}")
    print(f"{'job (all but standby)':<22}{job / 1e6 / builds:>13.2f}")
    worker_self = (worker_after["worker/self"] - worker_before["worker/self"]) * 1000 / builds
    print(f"(from /proc, perf's overhead included: worker process itself {worker_self:.1f} ms/build)")
    shutil.rmtree(data_dir.parent, ignore_errors=True)
    if args.keep_trace is None:
        shutil.rmtree(trace.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
