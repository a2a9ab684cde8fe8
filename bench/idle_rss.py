#!/usr/bin/env python3
"""Idle memory of ``make run``'s process set: RSS and PSS per process and in total.

    .venv/bin/python bench/idle_rss.py                       # the repository's Procfile
    .venv/bin/python bench/idle_rss.py --layout separate     # beside it: one process per task, as before issue 17
    .venv/bin/python bench/idle_rss.py --layout both         # both, one after the other, in the same run

Starts the process set as ``make run`` does (``scripts/supervise.py`` runs the Procfile under supervisord) on free
ports, with a SQLite database in a temporary data directory, waits until the web server answers, the consumers
subscribed and the builder standbys are ready, then until the set is idle (its total RSS moved by less than 1 MB
over ``--settle`` seconds), and prints every process of the set with what it started (gunicorn's workers, the
standbys), from ``/proc/PID/smaps_rollup``:

* **RSS**: resident pages, shared ones counted in each process that maps them (the issue's figure);
* **PSS**: each shared page divided among the processes that share it (what the set really holds).

supervisord is counted in the totals: it is part of what ``make run`` keeps resident (its restart of a crashed
process is required by the "Deploy and operate" issue), so the issue's target (``TARGET_RSS_MB``) is checked with it.
The total without it is printed too, the figure the measurements before this round gave (in Kubernetes there is no
supervisor). The last line says whether the Procfile's set meets the target.

``--layout separate`` is the process set before issue 17: relay, cron and sweeper each in a process of its own, two
gunicorn workers and two builder standbys; the commands are the same ones the Kubernetes chart still runs one per
Deployment.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import Memory, children_of, memory_of  # noqa: E402
from builder.testing import reserve_port  # noqa: E402

# The process set before issue 17 (the Procfile at main c0ebced), with its standbys and gunicorn workers.
SEPARATE_PROCFILE = """\
web: .venv/bin/gunicorn estafette.wsgi --bind 127.0.0.1:${ESTAFETTE_HTTP_PORT:-8000} --workers 2 \
--worker-class gthread --threads 128 --access-logfile - --no-control-socket --config python:estafette.gunicorn_conf
nats: .venv/bin/python manage.py run_nats
relay: .venv/bin/python manage.py relay_outbox
consumers: .venv/bin/python manage.py consume --all
cron: .venv/bin/python manage.py cron_loop
sweeper: .venv/bin/python manage.py sweep_jobs --every
"""
SEPARATE_ENV = {"ESTAFETTE_LOCAL_JOB_STANDBYS": "2"}
SUPERVISOR = "(supervisord)"
TARGET_RSS_MB = 250  # issue 17: idle RSS of the whole `make run` process set, its supervisor included
EXTRA_ENV: dict[str, str] = {}


def command_of(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    words = [word.decode(errors="replace") for word in raw.split(b"\0") if word]
    # the interesting words: the program and what it runs, without the virtualenv's path
    return " ".join(Path(words[0]).name if index == 0 else word for index, word in enumerate(words))[:70]


class ProcessSet:
    """A Procfile under ``scripts/supervise.py``, run from the repository, with its own data dir and ports."""

    def __init__(self, procfile: Path, env: dict[str, str], work: Path) -> None:
        self.procfile = procfile
        self.data_dir = work / "data"
        self.data_dir.mkdir(parents=True)
        self.port = reserve_port()
        self.env = {key: value for key, value in os.environ.items() if not key.startswith(("ESTAFETTE_", "DJANGO_"))}
        self.env.update(
            ESTAFETTE_DATA_DIR=str(self.data_dir),
            ESTAFETTE_HTTP_PORT=str(self.port),
            ESTAFETTE_NATS_PORT=str(reserve_port()),
            ESTAFETTE_BUILDER_EXECUTOR="host",
            PROMETHEUS_MULTIPROC_DIR=str(self.data_dir / "metrics"),
            **env,
        )
        (self.data_dir / "metrics").mkdir()
        self.log = work / "processes.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        python = str(ROOT / ".venv" / "bin" / "python")
        subprocess.run(
            [python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env, check=True, timeout=300
        )
        with open(self.log, "wb") as output:
            self.process = subprocess.Popen(
                [
                    python,
                    "scripts/supervise.py",
                    "--procfile",
                    str(self.procfile),
                    "--directory",
                    str(ROOT),
                    "--state-dir",
                    str(self.data_dir / "supervisor"),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def programs(self) -> dict[str, int]:
        """The pid of each Procfile process, from supervisorctl."""
        supervisorctl = ROOT / ".venv" / "bin" / "supervisorctl"
        config = self.data_dir / "supervisor" / "supervisord.conf"
        answer = subprocess.run(
            [str(supervisorctl), "-c", str(config), "status"], capture_output=True, text=True, check=False
        ).stdout
        pids = {}
        for line in answer.splitlines():
            words = line.split()
            if len(words) >= 4 and words[1] == "RUNNING" and words[2] == "pid":
                pids[words[0]] = int(words[3].rstrip(","))
        return pids

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise SystemExit(f"supervisord ended; see {self.log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readiness", timeout=2) as response:
                if response.status != 200:
                    return False
        except OSError:
            return False
        return "starting consumers" in self.log.read_text(errors="replace")

    def rows(self) -> list[tuple[str, int, str, Memory]]:
        """(program, pid, command, memory) of every process of the set, supervisord first."""
        assert self.process is not None
        children = children_of()
        rows = []
        supervisord = memory_of(self.process.pid)
        if supervisord is not None:
            rows.append((SUPERVISOR, self.process.pid, command_of(self.process.pid), supervisord))

        def walk(name: str, pid: int) -> None:
            memory = memory_of(pid)
            if memory is not None:
                rows.append((name, pid, command_of(pid), memory))
            for child in sorted(children.get(pid, ())):
                walk(name, child)

        for name, pid in sorted(self.programs().items()):
            walk(name, pid)
        return rows

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def total(rows: list[tuple[str, int, str, Memory]], *, supervisor: bool = True) -> Memory:
    counted = [memory for name, _, _, memory in rows if supervisor or name != SUPERVISOR]
    return Memory(sum(m.rss_kb for m in counted), sum(m.pss_kb for m in counted))


def measure(label: str, procfile: Path, env: dict[str, str], *, settle: float, timeout: float) -> Memory:
    with tempfile.TemporaryDirectory(prefix="estafette-idle-rss-") as work:
        processes = ProcessSet(procfile, env, Path(work))
        try:
            processes.start()
            deadline = time.monotonic() + timeout
            while not processes.ready():
                if time.monotonic() > deadline:
                    raise SystemExit(f"the process set was not ready within {timeout:.0f} s; see {processes.log}")
                time.sleep(0.5)
            # idle: the total RSS stays within 1 MB over `settle` seconds (standbys started, imports done)
            previous = total(processes.rows()).rss_kb
            steady_since = time.monotonic()
            while time.monotonic() - steady_since < settle:
                if time.monotonic() > deadline:
                    break
                time.sleep(1)
                now = total(processes.rows()).rss_kb
                if abs(now - previous) > 1024:
                    steady_since = time.monotonic()
                previous = now
            rows = processes.rows()
        finally:
            processes.stop()
    print(f"\n== {label} ({procfile.name if procfile.parent == ROOT else 'layout before issue 17'})")
    print(f"{'process':<12} {'pid':>8} {'RSS MB':>8} {'PSS MB':>8}  command")
    for name, pid, command, memory in rows:
        print(f"{name:<12} {pid:>8} {memory.rss_kb / 1024:>8.1f} {memory.pss_kb / 1024:>8.1f}  {command}")
    whole = total(rows)
    without = total(rows, supervisor=False)
    print(f"{'total':<12} {'':>8} {whole.rss_kb / 1024:>8.1f} {whole.pss_kb / 1024:>8.1f}  (supervisord included)")
    print(f"{'':<12} {'':>8} {without.rss_kb / 1024:>8.1f} {without.pss_kb / 1024:>8.1f}  (without supervisord)")
    return whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layout", choices=("procfile", "separate", "both"), default="procfile")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds the RSS must hold still to count as idle")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the set to be idle")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="for the Procfile's set")
    args = parser.parse_args()
    EXTRA_ENV.update(item.split("=", 1) for item in args.env)
    results = {}
    with tempfile.TemporaryDirectory(prefix="estafette-idle-rss-procfile-") as spare:
        separate = Path(spare) / "Procfile.separate"
        separate.write_text(SEPARATE_PROCFILE)
        if args.layout in ("separate", "both"):
            results["separate"] = measure(
                "one process per task", separate, SEPARATE_ENV, settle=args.settle, timeout=args.timeout
            )
        if args.layout in ("procfile", "both"):
            results["procfile"] = measure(
                "make run's Procfile", ROOT / "Procfile", EXTRA_ENV, settle=args.settle, timeout=args.timeout
            )
    if "procfile" in results:
        rss_mb = results["procfile"].rss_kb / 1024
        verdict = "met" if rss_mb <= TARGET_RSS_MB else "MISSED"
        print(f"\nidle RSS of make run's set with supervisord: {rss_mb:.1f} MB; target ≤ {TARGET_RSS_MB} MB: {verdict}")
    if len(results) == 2:
        before, after = results["separate"], results["procfile"]
        print(
            f"\nRSS {before.rss_kb / 1024:.0f} MB → {after.rss_kb / 1024:.0f} MB "
            f"({after.rss_kb / before.rss_kb:.2f} x); PSS {before.pss_kb / 1024:.0f} MB → {after.pss_kb / 1024:.0f} MB "
            f"({after.pss_kb / before.pss_kb:.2f} x)"
        )


if __name__ == "__main__":
    main()
