"""What several benchmarks share: the database they run on, ``make run``'s process set, and what ``/proc`` says about
a set of processes (CPU time, memory) with everything they started."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from honcho.environ import parse_procfile

ROOT = Path(__file__).resolve().parent.parent


def use_database(*, database_url: str | None, postgres: bool, default_url: str | None) -> Any:
    """Point ``ESTAFETTE_DATABASE_URL`` (read when Django loads its settings) at the benchmark's database.

    ``database_url`` wins; else ``postgres`` starts a throw-away PostgreSQL server with a ``bench`` database;
    else ``default_url`` (``None``: the settings' own default). Returns the server to stop afterwards, if one
    was started.
    """
    if database_url:
        os.environ["ESTAFETTE_DATABASE_URL"] = database_url
        return None
    if postgres:
        from tests.tooling.postgres import PostgresServer

        server = PostgresServer().start()
        server.psql("CREATE DATABASE bench")
        os.environ["ESTAFETTE_DATABASE_URL"] = server.url("bench")
        return server
    if default_url is None:
        os.environ.pop("ESTAFETTE_DATABASE_URL", None)
    else:
        os.environ["ESTAFETTE_DATABASE_URL"] = default_url
    return None


# --- /proc ------------------------------------------------------------------------------------------------------------


@dataclass
class Memory:
    rss_kb: int
    pss_kb: int


def memory_of(pid: int) -> Memory | None:
    """RSS and PSS of one process (None once it ended)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            values[key] = int(rest.split()[0])
    return Memory(values.get("Rss", 0), values.get("Pss", 0))


def children_of() -> dict[int, list[int]]:
    """Every process's direct children, by parent pid."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        ppid = int(raw[raw.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def descendants(pid: int, children: dict[int, list[int]]) -> list[int]:
    """``pid`` and every process below it."""
    found = [pid]
    for child in children.get(pid, ()):
        found += descendants(child, children)
    return found


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU time of one process, its reaped children's included (0 once it ended)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


def tree_cpu_seconds(pid: int, children: dict[int, list[int]]) -> float:
    """CPU time used so far by ``pid`` with everything it started: the live processes below it, and through the
    reaped-children counters those that ended."""
    return sum(cpu_seconds_of(member) for member in descendants(pid, children))


def tree_memory(pids: Iterable[int]) -> Memory:
    """RSS and PSS of the processes ``pids`` and everything below them, summed."""
    children = children_of()
    rss = pss = 0
    for pid in pids:
        for member in descendants(pid, children):
            memory = memory_of(member)
            if memory is not None:
                rss, pss = rss + memory.rss_kb, pss + memory.pss_kb
    return Memory(rss, pss)


def settle_memory(pids: Iterable[int], *, settle: float, timeout: float) -> Memory:
    """The set's memory once idle: its total RSS moved by less than 1 MB over ``settle`` seconds (or ``timeout``)."""
    pids = list(pids)
    previous = tree_memory(pids)
    deadline = time.monotonic() + timeout
    steady_since = time.monotonic()
    while time.monotonic() - steady_since < settle and time.monotonic() < deadline:
        time.sleep(0.5)
        now = tree_memory(pids)
        if abs(now.rss_kb - previous.rss_kb) > 1024:
            steady_since = time.monotonic()
        previous = now
    return previous


# --- make run's process set -------------------------------------------------------------------------------------------


def procfile_lines(procfile: Path = ROOT / "Procfile") -> dict[str, str]:
    """The processes of a Procfile, name → command, read as ``make run`` reads it (``scripts/supervise.py``)."""
    return dict(parse_procfile(procfile.read_text()).processes)


class System:
    """``make run``'s process set: every line of the repository's Procfile (now ``web`` — gunicorn —, ``nats`` and the
    one ``worker``, which runs the consumers, the outbox relay, cron, the job sweeper and the audit sweep) as a
    process of its own, started as supervisord starts it (``sh -c 'exec LINE'`` in the repository, each in a process
    group of its own), logs in the data dir. Not under supervisord itself: it would only add a process between this
    script and the set, and restart what crashed, which a benchmark must see instead.

    The environment is this process's: the caller sets the data dir, the ports (``ESTAFETTE_HTTP_PORT``) and
    ``PROMETHEUS_MULTIPROC_DIR`` (``scripts/run.sh`` sets it for ``make run``) before :meth:`start`.

    ``lines`` (name → command) replaces the Procfile's processes, e.g. with a layout of several web and worker
    processes (``bench/scale_out.py``); ``logs`` names the directory of their logs in the data dir.
    """

    def __init__(self, data_dir: Path, lines: Mapping[str, str] | None = None, *, logs: str = "logs") -> None:
        self.logs = data_dir / logs
        self.logs.mkdir(exist_ok=True)
        self.lines = dict(lines) if lines is not None else procfile_lines()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.port = int(os.environ["ESTAFETTE_HTTP_PORT"])

    def start(self) -> System:
        try:
            for name, command in self.lines.items():
                with open(self.logs / f"{name}.log", "wb") as log:
                    self.processes[name] = subprocess.Popen(
                        ["/bin/sh", "-c", f"exec {command}"],
                        cwd=ROOT,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
            self._wait_for_web()
        except BaseException:  # Ctrl-C while starting included: nothing started may outlive the bench
            self.stop()
            raise
        return self

    def _wait_for_web(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            with contextlib.suppress(OSError, http.client.HTTPException):
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/liveness")
                if connection.getresponse().status == 200:
                    return
            time.sleep(0.1)
        raise SystemExit(f"gunicorn did not answer within {timeout:.0f}s; see {self.logs}/web.log")

    def check(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise SystemExit(f"{name} exited with {process.returncode}; see {self.logs}/{name}.log")

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes.values()]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by each process with everything it started (reaped children included: a job's
        builder is counted with the worker, whose standby launched it)."""
        children = children_of()
        totals = {name: tree_cpu_seconds(process.pid, children) for name, process in self.processes.items()}
        if os.environ.get("BENCH_CPU_DETAIL"):  # each child process on its own line (which standby ran the jobs)
            for name, process in self.processes.items():
                for child in children.get(process.pid, ()):
                    totals[f"{name}/{child}"] = tree_cpu_seconds(child, children)
                totals[f"{name}/self"] = cpu_seconds_of(process.pid)
        return totals

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        if self.processes:
            # Local jobs run in sessions of their own and outlive the worker (a worker restart must not end a
            # build): what scripts/run.sh does after make run's processes stopped, for a bench stopped mid-build.
            subprocess.run(
                [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "stop_local_jobs", "--grace", "5"],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                check=False,
                timeout=60,
            )


# --- figures ----------------------------------------------------------------------------------------------------------


def ratio_text(ours: float, theirs: float, *, higher_is_better: bool = False) -> str:
    """``ours / theirs`` and which way it goes: "0.25x (4.0x better)" for a latency of 50 against 200 ms."""
    if ours <= 0 or theirs <= 0:
        return "—"
    ratio = ours / theirs
    better = ratio > 1 if higher_is_better else ratio < 1
    factor = ratio if ratio >= 1 else 1 / ratio
    if abs(factor - 1) < 0.005:
        return f"{ratio:.2f}x (the same)"
    return f"{ratio:.2f}x ({factor:.1f}x {'better' if better else 'worse'})"
