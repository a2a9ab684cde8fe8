#!/usr/bin/env python3
"""CPU time per trivial build, all processes: what a build costs this machine, independent of how busy it is.

    .venv/bin/python bench/cpu_per_build.py [--builds 200] [--clients 2] [--profile DIR]

Runs the system as ``make run`` does (every Procfile line as a process of its own, as ``bench/trigger_latency.py``
does: the same code starts it), with the host executor and its sandbox, on SQLite in a temporary data dir. A local
git repository has a 1-stage manifest (``commands: [true]``... here ``date``, as the latency bench); every push is a
new commit on ``main``. After ``--warmup`` builds, ``--builds`` pushes are sent from ``--clients`` kept-alive
connections, and the CPU time (utime + stime, children reaped included, from ``/proc``) of every process of the set
with everything it started is read before and after all those builds finished. Printed: milliseconds of CPU per
build for each Procfile process and each of its direct children (gunicorn's workers; the worker's standby, whose
forks run the jobs: leader, builder, git, bwrap), and the total.

Wall-clock throughput on a shared machine says little; CPU per build does not depend on the neighbours (beyond cache
effects) and is what bounds the rate on two cores: 1000 ms·cores / (CPU ms per build).

With ``--profile DIR``, ``py-spy record`` samples the web worker(s) and the worker process (and with
``--subprocesses`` what the standby forks: the builders) during the burst, and writes collapsed stacks
(``DIR/<process>.txt``, for ``flamegraph.pl`` or speedscope) and the top functions by own samples
(``DIR/<process>.top.txt``). py-spy slows what it samples a little: take the CPU figures from a run without it.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import trigger_latency as bench  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--builds", type=int, default=200, help="pushes (builds) measured")
    parser.add_argument("--clients", type=int, default=2, help="concurrent connections sending them")
    parser.add_argument("--warmup", type=int, default=10, help="builds before measuring")
    parser.add_argument("--profile", type=Path, help="py-spy record the processes into this directory")
    parser.add_argument("--database-url", help="ESTAFETTE_DATABASE_URL (default: SQLite in the data dir)")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL (tests/tooling)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (logs of every process)")
    args = parser.parse_args()
    args.source = "git"
    return args


def direct_children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                raw = (entry / "stat").read_text()
                if int(raw[raw.rindex(")") + 2 :].split()[1]) == pid:
                    found.append(int(entry.name))
    return sorted(found)


def start_profiles(system: bench.System, directory: Path) -> list[tuple[str, subprocess.Popen[bytes]]]:
    """py-spy on each Python process of interest: the gunicorn workers, the worker (and the standby's forks)."""
    directory.mkdir(parents=True, exist_ok=True)
    py_spy = str(ROOT / ".venv" / "bin" / "py-spy")
    targets: list[tuple[str, int, list[str]]] = []
    for child in direct_children(system.processes["web"].pid):
        targets.append((f"web-{child}", child, []))
    worker = system.processes.get("worker") or system.processes.get("consumers")
    if worker is not None:
        targets.append(("worker", worker.pid, []))
        for child in direct_children(worker.pid):
            targets.append((f"standby-{child}", child, ["--subprocesses"]))
    profiles = []
    for name, pid, extra in targets:
        profiles.append(
            (
                name,
                subprocess.Popen(
                    [
                        *(py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200"),
                        # only what holds the GIL: CPU, not threads waiting on a lock or a socket
                        *("--gil", "--nonblocking"),
                        *extra,
                        *("--output", str(directory / f"{name}.txt")),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=open(directory / f"{name}.py-spy.log", "wb"),  # noqa: SIM115 - closed with the process
                ),
            )
        )
    time.sleep(1)  # py-spy attaches
    return profiles


def stop_profiles(profiles: list[tuple[str, subprocess.Popen[bytes]]], directory: Path) -> None:
    for _, process in profiles:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
    for name, process in profiles:
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        collapsed = directory / f"{name}.txt"
        if collapsed.exists():
            (directory / f"{name}.top.txt").write_text(top_functions(collapsed))


def top_functions(collapsed: Path, count: int = 40) -> str:
    """Own and inclusive samples of the functions in a collapsed-stack file, the busiest first."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, samples = line.rpartition(" ")
        if not samples.isdigit():
            continue
        number = int(samples)
        total += number
        frames = stack.split(";")
        own[frames[-1]] += number
        for frame in set(frames):
            inclusive[frame] += number
    lines = [f"{total} samples", "", "own %   function"]
    lines += [f"{100 * n / max(1, total):5.1f}   {frame}" for frame, n in own.most_common(count)]
    lines += ["", "incl %  function"]
    lines += [f"{100 * n / max(1, total):5.1f}   {frame}" for frame, n in inclusive.most_common(count * 2)]
    return "\n".join(lines) + "\n"


def cpu_by_process(system: bench.System) -> dict[str, float]:
    os.environ["BENCH_CPU_DETAIL"] = "1"  # each direct child on its own line too
    return system.cpu_seconds()


def main() -> None:
    args = parse_args()
    data_dir, database_server = bench.setup_environment(args)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    total = args.warmup + args.builds
    print(f"data dir {data_dir}; a repository with {total} commits to push", flush=True)
    repository = bench.Repository(data_dir.parent / "repos" / "acme" / "api", total)
    revisions = iter(repository.revisions)
    system = bench.System(data_dir).start()
    profiles: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        client = bench.Client(system.port)
        print(f"system up (Procfile: {', '.join(system.processes)}); {args.warmup} builds to warm up", flush=True)
        bench.latency_round(system, client, repository, [next(revisions) for _ in range(max(1, args.warmup))])
        time.sleep(2)  # let the warm-up's last reports and polls settle
        if args.profile:
            profiles = start_profiles(system, args.profile)
        before = cpu_by_process(system)
        started = time.monotonic()
        result = bench.burst(system, repository, [next(revisions) for _ in range(args.builds)], args.clients)
        elapsed = time.monotonic() - started
        after = cpu_by_process(system)
        if profiles:
            stop_profiles(profiles, args.profile)
    finally:
        system.stop()
        if database_server is not None:
            database_server.stop()
    builds = args.builds
    print(f"\n{builds} builds ({result.statuses}) in {elapsed:.1f} s wall clock (shared machine: not a rate)")
    print(f"{'process':<28} {'CPU ms/build':>12}")
    names = [name for name in after if "/" not in name]
    for name in names:
        print(f"{name:<28} {(after[name] - before.get(name, 0.0)) * 1000 / builds:>12.1f}")
        for child in sorted(key for key in after if key.startswith(f"{name}/")):
            used = (after[child] - before.get(child, 0.0)) * 1000 / builds
            if used >= 0.05:
                print(f"  {child:<26} {used:>12.1f}")
    whole = sum(after[name] - before.get(name, 0.0) for name in names) * 1000 / builds
    print(f"{'total':<28} {whole:>12.1f}")
    print(f"(bound on two cores: {2000 / whole:.0f} builds/s)")
    if args.profile:
        print(f"profiles in {args.profile} (*.top.txt: busiest functions; *.txt: collapsed stacks)")
    if args.keep:
        print(f"kept {data_dir.parent}")
    else:
        shutil.rmtree(data_dir.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
