#!/usr/bin/env python3
"""A hundred open live tails against gunicorn as the Procfile runs it: do other requests still get answered quickly?

    .venv/bin/python bench/live_tails.py                 # the Procfile's `web` line, 100 tails, SQLite
    .venv/bin/python bench/live_tails.py --tails 200
    .venv/bin/python bench/live_tails.py --compare "--workers 2 --threads 8"   # also a worker model to compare

Migrates a fresh SQLite database, creates a running build, starts gunicorn with the worker options of the
Procfile's `web` line, and measures, sequentially over kept-alive connections: a read (GET the build), a builder
log batch (POST …/logs with the job token) and a builder heartbeat (POST …/status) — first with no tail open
(baseline), then with ``--tails`` SSE tails of the build open. It also measures how long a stored batch takes to
reach every open tail. Prints p50/p99 and the ratio to the baseline. A configuration whose threads all hold tails
answers nothing else: ``--compare`` shows that (requests that time out after 2 s are counted).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from builder.testing import reserve_port  # noqa: E402

PIPELINE = "/api/pipelines/github.com/acme/api"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tails", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per kind and phase")
    parser.add_argument("--compare", help="gunicorn worker options to measure as well, e.g. '--workers 2 --threads 8'")
    return parser.parse_args()


def procfile_worker_options() -> list[str]:
    """The worker options (everything after the app, minus --bind and the access log) of the Procfile's web line."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    # The shell expands the line's ${NAME:-default} under make run (``--workers ${ESTAFETTE_WEB_WORKERS:-1}``).
    line = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda match: os.environ.get(match[1]) or match[2], line)
    argv = shlex.split(line.split(":", 1)[1])
    options: list[str] = []
    skip = False
    for part in argv[2:]:
        if skip:
            skip = False
            continue
        if part in ("--bind", "--access-logfile"):
            skip = True
            continue
        options.append(part)
    return options


def prepare(data_dir: str) -> dict[str, str]:
    """Migrate, create a running build, return the environment and what the clients need."""
    env = {
        **os.environ,
        "ESTAFETTE_DATA_DIR": data_dir,
        "ESTAFETTE_SECRET_KEY": "bench-secret-key",
        "ESTAFETTE_ANONYMOUS_READ": "true",
        "ESTAFETTE_OUTBOX_RELAY_IN_PROCESS": "false",
        # Room for every tail the bench opens in one process (the default cap, 64 per process, would refuse some):
        # the bench measures the other requests' latency with all of them open.
        "ESTAFETTE_LIVE_TAILS_PER_PROCESS": "10000",
        "DJANGO_SETTINGS_MODULE": "estafette.settings",
    }
    Path(data_dir, "static").mkdir(exist_ok=True)
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    script = """
from builds.testing import make_build
from runs.models import RunStatus
from estafette.lib.jobtokens import issue_job_token
import json
build = make_build(status=RunStatus.RUNNING)
print(json.dumps({"build": build.pk, "token": issue_job_token(kind="build", run_id=build.pk)}))
"""
    out = subprocess.run(
        [python, "-c", "import django; django.setup(); exec(open(0).read())"],
        input=script,
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = json.loads(out.strip().splitlines()[-1])
    env["BENCH_BUILD"], env["BENCH_TOKEN"] = str(found["build"]), found["token"]
    return env


class Server:
    def __init__(self, env: dict[str, str], options: list[str]) -> None:
        self.port = reserve_port()
        argv = [str(ROOT / ".venv" / "bin" / "gunicorn"), "estafette.wsgi", "--bind", f"127.0.0.1:{self.port}"]
        self.log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(argv + options, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/liveness")
                if connection.getresponse().status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start; see {self.log.name}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Tail:
    """One SSE client: counts ``log`` events and notes when a marker text arrived."""

    def __init__(self, port: int, path: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n".encode())
        self.seen: dict[str, float] = {}
        self.opened = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        with contextlib.suppress(OSError):
            while chunk := self.sock.recv(65536):
                buffer += chunk
                if b"event: ping" in buffer:
                    self.opened.set()
                for marker in re.findall(rb'"text":"(marker-\d+)"', buffer):
                    self.seen.setdefault(marker.decode(), time.monotonic())
                buffer = buffer[-200:]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def timed(count: int, call: Callable[[], int], *, timeout_ok: bool = False) -> tuple[list[float], int]:
    samples: list[float] = []
    timeouts = 0
    for _ in range(count):
        started = time.perf_counter()
        try:
            status = call()
        except (TimeoutError, OSError):
            if not timeout_ok:
                raise
            timeouts += 1
            continue
        assert status < 300, (call.__name__, status)
        samples.append((time.perf_counter() - started) * 1000)
        # a 200 for a log batch would mean "stored before": not the path being measured
        assert getattr(call, "__name__", "") != "log_batch" or status == 201, status
    return samples, timeouts


def percentile(samples: list[float], p: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Client:
    def __init__(self, port: int, env: dict[str, str], timeout: float) -> None:
        self.port, self.timeout = port, timeout
        self.build, self.token = env["BENCH_BUILD"], env["BENCH_TOKEN"]
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    _seq = 0  # shared by all clients: a seq stored before is answered "stored before" without storing

    @classmethod
    def next_seq(cls) -> int:
        cls._seq += 1
        return cls._seq

    def _send(self, method: str, path: str, body: bytes | None = None) -> int:
        headers = {"Content-Type": "application/json"}
        if path.startswith("/api/builder/"):  # a job token is refused (401) anywhere else; reads are anonymous here
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                response.read()
                return response.status
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # the server closed the kept-alive connection while it was idle: one fresh try
                self._reconnect()
                if attempt:
                    raise
            except (TimeoutError, OSError):
                self._reconnect()
                raise
        raise AssertionError("unreachable")

    def _reconnect(self) -> None:
        self.connection.close()
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def read(self) -> int:
        return self._send("GET", f"{PIPELINE}/builds/{self.build}")

    def log_batch(self, text: str = "a line of output") -> int:
        seq = self.next_seq()
        line = {
            "step": "build",
            "logLine": {"line": seq, "timestamp": "2024-01-01T00:00:00Z", "streamType": "stdout", "text": text},
        }
        body = json.dumps({"contractVersion": 1, "seq": seq, "attempt": "bench", "lines": [line]}).encode()
        return self._send("POST", f"/api/builder/v1/build/{self.build}/logs", body)

    def heartbeat(self) -> int:
        body = json.dumps(
            {"eventType": "heartbeat", "jobType": "build", "id": self.build, "timestamp": "2024-01-01T00:00:00Z"}
        ).encode()
        return self._send("POST", f"/api/builder/v1/build/{self.build}/status", body)


def measure(client: Client, requests: int, *, timeout_ok: bool = False) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name, call in (("read", client.read), ("log batch", client.log_batch), ("heartbeat", client.heartbeat)):
        samples, timeouts = timed(requests, call, timeout_ok=timeout_ok)
        figures[name] = {"p50": percentile(samples, 50), "p99": percentile(samples, 99), "timeouts": timeouts}
    return figures


def run(env: dict[str, str], options: list[str], args: argparse.Namespace, *, label: str) -> dict[str, Any]:
    print(f"\n== {label}: gunicorn {' '.join(options)}", flush=True)
    server = Server(env, options)
    tails: list[Tail] = []
    try:
        client = Client(server.port, env, timeout=10)
        measure(client, 20)  # warm up both workers' imports and connections
        baseline = measure(client, args.requests)
        print(f"opening {args.tails} tails…", flush=True)
        tails = [Tail(server.port, f"{PIPELINE}/builds/{env['BENCH_BUILD']}/logs.stream") for _ in range(args.tails)]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and sum(t.opened.is_set() for t in tails) < len(tails):
            time.sleep(0.05)
        opened = sum(t.opened.is_set() for t in tails)
        print(f"{opened} of {args.tails} tails answered", flush=True)
        busy_client = Client(server.port, env, timeout=2)
        requests = args.requests if opened == len(tails) else 10
        loaded = measure(busy_client, requests, timeout_ok=True)
        delivery: list[float] = []
        if opened == len(tails):
            for n in range(20):
                marker = f"marker-{n}"
                sent = time.monotonic()
                busy_client.log_batch(marker)
                wait_until = time.monotonic() + 10
                while time.monotonic() < wait_until and not all(marker in t.seen for t in tails):
                    time.sleep(0.005)
                delivery.extend((t.seen[marker] - sent) * 1000 for t in tails if marker in t.seen)
        report(baseline, loaded, delivery, tails=args.tails, opened=opened)
        return {"baseline": baseline, "loaded": loaded, "opened": opened}
    finally:
        for tail in tails:
            tail.close()
        server.stop()


def report(baseline: dict[str, Any], loaded: dict[str, Any], delivery: list[float], *, tails: int, opened: int) -> None:
    header = f"{'request':<11} {'p50 ms':>8} {'p99 ms':>8} | {'with tails p50':>14} {'p99':>8} {'timeouts':>8}"
    print(f"{header} | ratio p50")
    for name, base in baseline.items():
        busy = loaded[name]
        ratio = busy["p50"] / base["p50"] if base["p50"] else float("nan")
        print(
            f"{name:<11} {base['p50']:>8.2f} {base['p99']:>8.2f} | {busy['p50']:>14.2f} {busy['p99']:>8.2f} "
            f"{busy['timeouts']:>8} | {ratio:.2f}x"
        )
    if delivery:
        print(
            f"a stored batch reached all {opened} tails: p50 {statistics.median(delivery):.0f} ms, "
            f"max {max(delivery):.0f} ms ({len(delivery)} deliveries)"
        )
    elif opened < tails:
        print(f"only {opened} of {tails} tails were served: the other requests wait for a free thread")


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="estafette-bench-tails-") as data_dir:
        env = prepare(data_dir)
        run(env, procfile_worker_options(), args, label="Procfile web")
        if args.compare:
            run(env, shlex.split(args.compare), args, label="compared")


if __name__ == "__main__":
    main()
