"""Fakes for testing the builder and its API side: a fake API server, a recording sink, and ports for test servers.

:class:`FakeApi` is a small ``http.server`` app with the builder endpoints (status events and log batches), checking
the job token and the contract like the real API must: 401 without the token, 400 with ``{"code", "message"}`` for a
malformed body, log batches stored once per ``seq``, and 409 for every report of a run once its final status was stored
(the job token ends with its run; several runs may report to one fake). It records what it received and can fail on
demand (a number of requests, all of them while "down", or answers lost after the request was stored) to exercise
retries. The API side reuses it and ``builder/tests/api_contract.py`` (which any implementation of
:class:`ApiUnderTest` can run).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from builder.contracts import (
    BuildLogStep,
    CiServerConfig,
    ContractError,
    EndReport,
    LogBatch,
    LogLine,
    StatusEvent,
    StepTree,
    StreamType,
    TailLogLine,
)
from builder.steps import StepRef

STATUS_PATH = "/api/builder/status"
LOGS_PATH = "/api/builder/logs"
END_PATH = "/api/builder/end"


class ApiUnderTest(Protocol):
    """What the builder ↔ API contract tests need from an API implementation (fake or real)."""

    status_url: str
    logs_url: str
    job_token: str
    run_id: str  # the build the URLs and the token are for

    def stored_statuses(self) -> list[str]:
        """The statuses of the ``updateStatus`` events stored so far, in order."""
        ...

    def stored_lines(self) -> list[TailLogLine]:
        """The stored tail lines, batches in ``seq`` order."""
        ...


class FakeApi:
    """The builder endpoints on ``127.0.0.1:<free port>``; use as a context manager or ``start()``/``stop()``."""

    def __init__(self, *, token: str = "fake-job-token", end_route: bool = True) -> None:  # noqa: S107 — test token
        self.job_token = token
        # False: an older API, which gives no endUrl and has no such route (ci_server(end_url=True) gives one anyway,
        # as a newer dispatcher would, and the route answers 404)
        self.end_route = end_route
        self.run_id = "1"  # any id is accepted; the contract tests report this one
        self.statuses: list[StatusEvent] = []
        self.request_ids: set[str] = set()  # the X-Request-ID headers the builder sent
        self.heartbeats: list[StatusEvent] = []
        # batches are validated on arrival but kept as the bytes received, parsed again when read: a million parsed
        # lines kept alive make the garbage collector, not the builder, the bottleneck of a throughput benchmark
        self._bodies: dict[int, bytes] = {}
        self._parsed: dict[int, LogBatch] = {}
        self.duplicate_batches = 0
        self._line_count = 0
        self.requests: list[tuple[str, int]] = []  # (path, answered status)
        self.connections = 0  # TCP connections accepted
        self._lock = threading.Lock()
        self._fail_next = 0
        self._fail_status = 503
        self._lose_answers = 0
        self._down = False
        self._ended = False  # end_run(): every run has ended
        self._ended_runs: set[str] = set()  # runs a final status was stored for
        self._runs_of_attempts: dict[str, str] = {}
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------------------

    def start(self) -> FakeApi:
        api = self

        class Handler(_Handler):
            fake = api

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-api").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the fake API first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def status_url(self) -> str:
        return self.base_url + STATUS_PATH

    @property
    def logs_url(self) -> str:
        return self.base_url + LOGS_PATH

    @property
    def end_url(self) -> str:
        return self.base_url + END_PATH

    def ci_server(self, *, end_url: bool | None = None) -> CiServerConfig:
        """Where a builder reports to this API; ``end_url`` (default: whether it has the route) gives the end's."""
        with_end = self.end_route if end_url is None else end_url
        return CiServerConfig(
            base_url=self.base_url,
            status_url=self.status_url,
            logs_url=self.logs_url,
            job_token=self.job_token,
            end_url=self.end_url if with_end else None,
        )

    def build_config(
        self,
        *,
        build_id: str,
        version: str,
        revision: str,
        stages: list[dict[str, Any]],
        **more: Any,
    ) -> dict[str, Any]:
        """A build job's configuration (the ``builder-config.json`` the API writes) for ``acme/api`` on ``main``,
        reporting here; ``more`` adds top-level fields (``manifest``, ``credentials`` …)."""
        return {
            "jobType": "build",
            "build": {"id": build_id},
            "git": {
                "repoSource": "github.com",
                "repoOwner": "acme",
                "repoName": "api",
                "repoBranch": "main",
                "repoRevision": revision,
            },
            "version": {"version": version},
            "stages": stages,
            "ciServer": self.ci_server().to_dict(),
            **more,
        }

    # --- faults -------------------------------------------------------------------------------------------------------

    def fail_next(self, count: int, *, status: int = 503) -> None:
        """Answer the next ``count`` requests with ``status`` without storing anything."""
        with self._lock:
            self._fail_next, self._fail_status = count, status

    def lose_answers(self, count: int) -> None:
        """Handle the next ``count`` requests as usual but answer 502, as if the answer were lost on its way back."""
        with self._lock:
            self._lose_answers = count

    def end_run(self) -> None:
        """End the runs as the API's sweeper or a cancel would: every report from now on is answered 409."""
        with self._lock:
            self._ended = True

    def set_down(self, down: bool) -> None:
        """While down, every request is answered 503 and nothing is stored."""
        with self._lock:
            self._down = down

    # --- what was received --------------------------------------------------------------------------------------------

    def stored_statuses(self) -> list[str]:
        with self._lock:
            return [event.status or "" for event in self.statuses]

    @property
    def batches(self) -> dict[int, LogBatch]:
        """The stored batches by ``seq``, in order."""
        with self._lock:
            bodies = dict(self._bodies)
        for seq, body in bodies.items():
            if seq not in self._parsed:
                self._parsed[seq] = LogBatch.from_dict(json.loads(body))
        return {seq: self._parsed[seq] for seq in sorted(bodies)}

    def line_count(self) -> int:
        """How many tail lines are stored (cheap: no parsing)."""
        with self._lock:
            return self._line_count

    def stored_lines(self) -> list[TailLogLine]:
        return [line for batch in self.batches.values() for line in batch.lines]

    def steps(self) -> list[BuildLogStep]:
        tree = StepTree()
        tree.apply_all(self.stored_lines())
        return tree.steps()

    def texts(self, step: str) -> list[str]:
        """The log texts of the stage or service named ``step``."""
        return [line.log_line.text for line in self.stored_lines() if line.log_line is not None and line.step == step]

    def wait_until(self, predicate: Callable[[FakeApi], bool], *, timeout: float = 10.0) -> None:
        """Block until ``predicate(self)`` holds; AssertionError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() >= deadline:
                raise AssertionError(f"the fake API did not reach the expected state within {timeout}s")
            time.sleep(0.02)

    # --- request handling ---------------------------------------------------------------------------------------------

    def _injected_failure(self) -> tuple[int, dict[str, Any]] | None:
        with self._lock:
            if self._down:
                return 503, _error(503, "the fake API is down")
            if self._fail_next > 0:
                self._fail_next -= 1
                return self._fail_status, _error(self._fail_status, "failing on purpose")
        return None

    def _handle(self, path: str, authorization: str, body: bytes) -> tuple[int, dict[str, Any]]:
        failure = self._injected_failure()
        if failure is not None:
            return failure
        answer = self._answer(path, authorization, body)
        with self._lock:
            if self._lose_answers > 0:
                self._lose_answers -= 1
                return 502, _error(502, "the answer was lost on purpose")
        return answer

    def _answer(self, path: str, authorization: str, body: bytes) -> tuple[int, dict[str, Any]]:
        if authorization != f"Bearer {self.job_token}":
            return 401, _error(401, "a valid job token is required")
        if path not in (STATUS_PATH, LOGS_PATH, END_PATH) or (path == END_PATH and not self.end_route):
            return 404, _error(404, f"no builder endpoint at {path}")
        try:
            data = json.loads(body)
            if path == STATUS_PATH:
                event = StatusEvent.from_dict(data)
                return self._refuse_if_ended(event.id) or self._store_status(event)
            if path == END_PATH:
                return self._store_end(EndReport.from_dict(data), data)
            batch = LogBatch.from_dict(data)
            # A batch names no run: it belongs to the run its attempt reported a status for (or the fake's own).
            with self._lock:
                run_id = self._runs_of_attempts.get(batch.attempt or "", self.run_id)
            return self._refuse_if_ended(run_id) or self._store_batch(batch, body)
        except (ValueError, ContractError) as error:  # JSONDecodeError is a ValueError
            return 400, _error(400, str(error))

    def _store_end(self, end: EndReport, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        refused = self._refuse_if_ended(end.status.id)
        if refused:
            return refused
        if end.batch is not None:  # kept as its own body, as a batch posted alone would be
            self._store_batch(end.batch, json.dumps(data["batch"]).encode())
        return self._store_status(end.status)

    def _refuse_if_ended(self, run_id: str) -> tuple[int, dict[str, Any]] | None:
        with self._lock:
            if self._ended or run_id in self._ended_runs:
                return 409, _error(409, f"build {run_id} has ended: its job takes no more reports")
        return None

    def _store_status(self, event: StatusEvent) -> tuple[int, dict[str, Any]]:
        with self._lock:
            (self.heartbeats if event.event_type == "heartbeat" else self.statuses).append(event)
            if event.attempt:
                self._runs_of_attempts[event.attempt] = event.id
            if event.status in ("succeeded", "failed", "canceled"):
                self._ended_runs.add(event.id)
        return 200, {"stored": True}

    def _store_batch(self, batch: LogBatch, body: bytes) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if batch.seq in self._bodies:
                self.duplicate_batches += 1
                return 200, {"stored": False}
            self._bodies[batch.seq] = body
            self._line_count += len(batch.lines)
        return 201, {"stored": True}

    def _record(self, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((path, status))


def _error(status: int, message: str) -> dict[str, str]:
    from http import HTTPStatus

    return {"code": HTTPStatus(status).phrase, "message": message}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeApi
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server
    # headers and body go out in two writes: with Nagle's algorithm the second waits for the client's delayed ACK
    # (~40 ms per request), which would make the fake API, not the builder, the limit of throughput tests
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake.connections += 1

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.fake.request_ids.add(self.headers.get("X-Request-ID", ""))
        status, answer = self.fake._handle(self.path, self.headers.get("Authorization", ""), body)
        self.fake._record(self.path, status)
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class RecordingSink:
    """Records every update and log line as :class:`TailLogLine` objects (thread-safe)."""

    def __init__(self) -> None:
        self.lines: list[TailLogLine] = []
        self._lock = threading.Lock()

    def update(self, tail: TailLogLine) -> None:
        with self._lock:
            self.lines.append(tail)

    def log_lines(
        self, ref: StepRef, stream: StreamType, first_line: int, timestamp: str, texts: Sequence[str]
    ) -> None:
        with self._lock:
            self.lines.extend(
                ref.tail(log_line=LogLine(line=number, timestamp=timestamp, stream_type=stream, text=text))
                for number, text in enumerate(texts, first_line)
            )

    def steps(self) -> list[BuildLogStep]:
        tree = StepTree()
        with self._lock:
            tree.apply_all(self.lines)
        return tree.steps()

    def step(self, name: str, *, parent: str | None = None) -> BuildLogStep:
        """The step named ``name`` (top level, nested or service); KeyError when there is none."""
        for step in self.steps():
            for candidate, candidate_parent in _walk(step, ""):
                if candidate.step == name and (parent is None or candidate_parent == parent):
                    return candidate
        raise KeyError(name)

    def texts(self, name: str) -> list[str]:
        with self._lock:
            return [line.log_line.text for line in self.lines if line.log_line is not None and line.step == name]

    def statuses(self, name: str) -> list[str]:
        with self._lock:
            return [line.status for line in self.lines if line.status is not None and line.step == name]


def _walk(step: BuildLogStep, parent: str) -> list[tuple[BuildLogStep, str]]:
    found = [(step, parent)]
    for child in (*step.nested_steps, *step.services):
        found.extend(_walk(child, step.step))
    return found


# --- ports for test servers -------------------------------------------------------------------------------------------
#
# A server that can bind port 0 and tell which port it got should (FakeApi, nats-server with a ports file). The others
# must be told their port before they start (PostgreSQL, gunicorn under honcho, whose port the other processes are
# told too; a service a manifest names). Binding port 0 and closing the socket, the old way to find one, gave neither
# of the two guarantees below: in 1,000 calls some 30 ports came back twice, and two of those handed to one test
# (nats-server's client and monitoring ports) made its server fail to start.

_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def reserve_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` for a test server that must be told its port before it starts.

    * Never the same port twice in this process (a port :func:`claim_port` recorded included), so two servers of
      one test, or a server and a port a test keeps for a restart, never get the same one.
    * No other socket on the machine gets it from the kernel for a minute: the port is left in TIME_WAIT, which the
      kernel's own choice of a port (``bind`` to port 0, ``connect``) avoids, and which a server that sets
      ``SO_REUSEADDR`` binds through (PostgreSQL, gunicorn, nats-server and Python's servers all set it).
    """
    with _handed_out_lock:
        port = _port_in_time_wait(host)
        while port in _handed_out:  # one this process handed out over a minute ago: take another, never that one
            port = _port_in_time_wait(host)
        _handed_out.add(port)
    return port


def claim_port(port: int) -> None:
    """Record a port a server chose itself (bound to port 0) so that :func:`reserve_port` never hands it out: the
    server may rebind it after a restart, and nothing else may take it meanwhile."""
    with _handed_out_lock:
        _handed_out.add(port)


def _port_in_time_wait(host: str) -> int:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, 0))
        listener.listen(1)
        port = int(listener.getsockname()[1])
        with socket.create_connection((host, port), timeout=5):
            accepted, _ = listener.accept()
            accepted.close()  # the side that closes first keeps the connection, on this port, in TIME_WAIT
    return port
