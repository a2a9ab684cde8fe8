"""A flood of live-tail connections against the real gunicorn (2 gthread workers of 128 threads, as the Procfile runs).

Each open tail holds a worker thread for as long as it is open. 300 of them used to take every thread of both workers,
and every other request queued behind them for as long as they stayed open. Now each process serves at most
``ESTAFETTE_LIVE_TAILS_PER_PROCESS`` (64) at once and refuses the rest at once (503, ``Retry-After``), so ordinary
requests keep being served.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from builds.models import Build
from builds.testing import make_build
from estafette.queue.jetstream import QueueSettings
from runs.models import RunStatus
from tests.harness.system import System, start_system

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]

FLOOD = 300
PER_PROCESS = 64
WORKERS = 2


@pytest.fixture
def stack(transactional_db: None, queue_settings: QueueSettings, tmp_path: Path) -> Iterator[tuple[System, Build]]:
    # A running build made before the system starts (so no job is dispatched), which the sweeper leaves alone for the
    # test's duration: its tails stay open. Anonymous reading on: the flood needs no account.
    build = make_build(status=RunStatus.RUNNING)
    env = {"ESTAFETTE_ANONYMOUS_READ": "true", "ESTAFETTE_JOB_CHECK_AFTER_SECONDS": "3600"}
    with start_system(queue_settings, tmp_path, env=env) as system:
        yield system, build


class Tail:
    """One raw live-tail connection: sends the request, reads the status line and headers, then stays open."""

    def __init__(self, url: str, path: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
        request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n\r\n"
        self.sock.sendall(request.encode())
        self.head = b""
        while b"\r\n\r\n" not in self.head:
            data = self.sock.recv(65536)
            if not data:
                break
            self.head += data
        self.status = int(self.head.split(b" ", 2)[1]) if self.head else 0

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
            key, _, value = line.decode().partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    def body(self) -> bytes:
        """The rest of a refused answer (it carries a Content-Length)."""
        length = int(self.header("Content-Length") or 0)
        body = self.head.split(b"\r\n\r\n", 1)[1]
        while len(body) < length:
            data = self.sock.recv(65536)
            if not data:
                break
            body += data
        return body[:length]

    def close(self) -> None:
        self.sock.close()


def timed_get(system: System, path: str) -> float:
    started = time.monotonic()
    request = urllib.request.Request(f"{system.processes.url}/api{path}", headers=system.api.headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        response.read()
    return time.monotonic() - started


def test_a_flood_of_live_tails_leaves_the_api_serving(stack: tuple[System, Build]) -> None:
    system, build = stack
    pipeline = build.pipeline
    path = f"/api/pipelines/{pipeline.full_name}/builds/{build.pk}/logs.stream"
    baseline = max(timed_get(system, "/pipelines") for _ in range(5))
    # when 300 clients open the build's live tail at once and keep it open
    tails: list[Tail] = []
    lock = threading.Lock()

    def open_one() -> None:
        tail = Tail(system.processes.url, path)
        with lock:
            tails.append(tail)

    openers = [threading.Thread(target=open_one) for _ in range(FLOOD)]
    try:
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(60)
        assert len(tails) == FLOOD, "every connection got an answer"
        # then each process serves at most its share; the others are refused at once with when to retry
        served = [tail for tail in tails if tail.status == 200]
        refused = [tail for tail in tails if tail.status != 200]
        assert 0 < len(served) <= WORKERS * PER_PROCESS
        assert {tail.status for tail in refused} == {503}
        for tail in refused[:20]:
            assert tail.header("Retry-After") == "5"
            assert json.loads(tail.body())["code"] == "Service Unavailable"
        # and ordinary requests are still answered quickly while the served tails stay open
        during = [timed_get(system, "/pipelines") for _ in range(20)]
        assert max(during) < max(2.0, 10 * baseline), during
        assert all(tail.sock.fileno() != -1 for tail in served)
    finally:
        for tail in tails:
            tail.close()
