"""Live tails over real HTTP: lines as they are stored, ``close`` when the run is final, the same read rules."""

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import override_settings

from builder.contracts import TailLogLine
from builds.services import build_finish
from builds.testing import make_build
from estafette.testing import client_for, make_user
from releases.services import bot_create, bot_start
from releases.testing import make_release
from runs.models import RunStatus
from runs.registry import run_kind
from runs.reports import log_record_for_attempt
from runs.services import log_append
from runs.tail import hub
from runs.testing import output_line
from tests.tooling.waiting import wait_until

API = "/api/pipelines/github.com/acme/api"


def line(text: str, number: int, step: str = "build") -> TailLogLine:
    return output_line(step, text, number)


class EventReader:
    """Reads an SSE response in a thread, collecting ``(event, data)`` pairs."""

    def __init__(self, base_url: str, path: str, *, cookie: str | None = None) -> None:
        parts = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(parts.netloc, timeout=30)
        headers = {"Accept": "text/event-stream", **({"Cookie": cookie} if cookie else {})}
        self.connection.request("GET", path, headers=headers)
        self.socket = self.connection.sock
        self.response = self.connection.getresponse()
        self.events: list[tuple[str, Any]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        if self.response.status != 200:
            return
        with contextlib.suppress(OSError, ValueError):
            self._read_events()

    def _read_events(self) -> None:
        event, data = "", ""
        for raw in self.response:
            text = raw.decode().rstrip("\n")
            if text.startswith("event: "):
                event = text[7:]
            elif text.startswith("data: "):
                data += text[6:]
            elif text == "" and event:
                self.events.append((event, json.loads(data)))
                event, data = "", ""

    def texts(self) -> list[str]:
        return [data["logLine"]["text"] for event, data in self.events if event == "log" and "logLine" in data]

    def names(self) -> list[str]:
        return [event for event, _ in self.events]

    def close(self) -> None:
        """Disconnect (the reading thread still holds the socket: shut it down rather than only drop our reference)."""
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)
        self.connection.close()


@pytest.fixture(autouse=True)
def tails_closed() -> Iterator[None]:
    """Each test's tails end before its database goes: a server notices a client is gone when a write fails, at the
    second ping after the disconnection (≤ 10 s)."""
    yield
    wait_until(lambda: hub.open_tails == 0, timeout=15, what="the test's tails to end")


@pytest.fixture
def anonymous_read() -> Iterator[None]:
    with override_settings(ANONYMOUS_READ=True):
        yield


@pytest.mark.django_db(transaction=True)
def test_it_streams_lines_as_they_are_stored_and_closes_when_the_build_finished(live_server, anonymous_read) -> None:  # type: ignore[no-untyped-def]
    # given a running build with one stored batch
    build = make_build(status=RunStatus.RUNNING)
    record = log_record_for_attempt(kind=run_kind("build"), run=build, attempt_key="a")
    log_append(record=record, seq=1, lines=[line("one", 1), TailLogLine(step="build", status="RUNNING")])
    # when a client opens the live tail
    reader = EventReader(live_server.url, f"{API}/builds/{build.pk}/logs.stream")
    try:
        assert reader.response.status == 200
        assert reader.response.getheader("Content-Type") == "text/event-stream"
        assert reader.response.getheader("X-Accel-Buffering") == "no"
        # then it gets what was stored, with the step's identity and status
        wait_until(lambda: len(reader.names()) == 3, timeout=10, what="the stored batch")
        assert reader.names() == ["ping", "log", "log"]
        assert reader.texts() == ["one"]
        status_update = reader.events[2][1]
        assert (status_update["step"], status_update["status"], status_update["type"]) == ("build", "RUNNING", "stage")
        # and a batch stored later arrives within a second
        stored_at = time.monotonic()
        log_append(record=record, seq=2, lines=[line("two", 2), line("three", 3)])
        wait_until(lambda: reader.texts() == ["one", "two", "three"], timeout=10, what="the new lines")
        assert time.monotonic() - stored_at < 1.5
        assert "close" not in reader.names()
        # and when the build finishes, the stream closes after the last lines
        log_append(record=record, seq=3, lines=[line("four", 4)])
        build_finish(build=build, status=RunStatus.SUCCEEDED)
        reader.thread.join(10)
        assert not reader.thread.is_alive(), "the stream did not end"
        assert reader.texts() == ["one", "two", "three", "four"]
        assert reader.names()[-1] == "close"
    finally:
        reader.close()
    wait_until(lambda: hub.open_tails == 0, timeout=10, what="the tail to be forgotten")


@pytest.mark.django_db(transaction=True)
def test_a_tail_of_a_run_without_logs_waits_for_them_and_a_finished_one_closes_at_once(
    live_server,  # type: ignore[no-untyped-def]
    anonymous_read,
) -> None:
    # given a pending release (no log yet) and a finished build
    release = make_release(make_build(status=RunStatus.SUCCEEDED))
    finished = make_build(status=RunStatus.FAILED)
    waiting = EventReader(live_server.url, f"{API}/releases/{release.pk}/logs.stream")
    closed = EventReader(live_server.url, f"{API}/builds/{finished.pk}/logs.stream")
    try:
        # then the finished build's tail closes at once
        closed.thread.join(10)
        assert closed.names() == ["ping", "close"]
        # and the release's tail follows the log once the builder opens it
        record = log_record_for_attempt(kind=run_kind("release"), run=release, attempt_key="r")
        log_append(record=record, seq=1, lines=[line("deploying", 1, step="deploy")])
        wait_until(lambda: waiting.texts() == ["deploying"], timeout=10, what="the release's line")
    finally:
        waiting.close()
        closed.close()


@pytest.mark.django_db(transaction=True)
def test_it_closes_when_a_new_attempt_starts(live_server, anonymous_read) -> None:  # type: ignore[no-untyped-def]
    # given a tail of a running build's first attempt
    build = make_build(status=RunStatus.RUNNING)
    first = log_record_for_attempt(kind=run_kind("build"), run=build, attempt_key="first")
    log_append(record=first, seq=1, lines=[line("first try", 1)])
    reader = EventReader(live_server.url, f"{API}/builds/{build.pk}/logs.stream")
    try:
        wait_until(lambda: reader.texts() == ["first try"], timeout=10)
        # when Kubernetes re-runs the pod and the new builder reports
        log_record_for_attempt(kind=run_kind("build"), run=build, attempt_key="second")
        # then the stream closes (the web UI reloads the stored log: the new attempt's)
        reader.thread.join(10)
        assert reader.names()[-1] == "close"
    finally:
        reader.close()


@pytest.mark.django_db(transaction=True)
def test_it_follows_the_read_rules_of_the_other_endpoints(live_server) -> None:  # type: ignore[no-untyped-def]
    # given a running bot run
    build = make_build(status=RunStatus.SUCCEEDED)
    bot_run = bot_create(pipeline=build.pipeline, name="tidy")
    assert bot_start(bot_run=bot_run)
    path = f"{API}/bots/{bot_run.pk}/logs.stream"
    session = client_for(make_user()).cookies["sessionid"].value
    # then an anonymous visitor is refused, a member gets the stream, an unknown run is 404
    anonymous = EventReader(live_server.url, path)
    assert anonymous.response.status == 401
    member = EventReader(live_server.url, path, cookie=f"sessionid={session}")
    assert member.response.status == 200
    wait_until(lambda: member.names() == ["ping"], timeout=10)
    member.close()
    missing = EventReader(live_server.url, f"{API}/builds/987654321/logs.stream", cookie=f"sessionid={session}")
    assert missing.response.status == 404
    anonymous.close()
    missing.close()
