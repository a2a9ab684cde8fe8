"""Reports a run to the API: status events, log batches and heartbeats over HTTP with the job token.

* **Status**: ``updateStatus`` running at the start and the final status at the end, retried with backoff until a
  deadline; the final event carries ``logBatches`` (how many batches were sent) and goes out only after every batch
  was delivered (or the drain deadline passed).
* **The end in one request**: given an ``endUrl``, the lines still open when the run ends and the final status go
  together (``EndReport``) once every earlier batch was delivered: a short run reports in two requests (running, the
  end) rather than three or more. An API without that route answers 404 (an older API during a rolling upgrade);
  then the last batch and the final status go to ``logsUrl`` and ``statusUrl`` as before.
* **One connection**: the running status, the batches and the end go over the sender's kept-alive connection.
* **Log batches** ``{contractVersion, seq, lines:[TailLogLine]}``: every step update and log line, in order, sealed
  when ``max_batch_lines`` or ``max_batch_bytes`` is reached or the oldest line waited ``flush_interval`` seconds (live
  output, not only at the end) — except while a stage that started less than ``stage_grace`` seconds ago runs, for
  at most ``max_flush_delay`` seconds: a short stage's start, output and end go in one batch, and a short run's lines
  all go with its end, rather than a request every ``flush_interval``. One sender thread delivers them in ``seq``
  order; a failed delivery (connection error, 5xx, 408, 429) is retried with exponential backoff, so an API outage of
  minutes loses nothing: the batches wait in a buffer of at most ``buffer_limit_bytes``; when it is full, producers
  block (the stage's output pipe fills and the stage pauses) until the API is back. A retried batch keeps its ``seq``,
  so the API stores it once. Any other 4xx is permanent (the batch is refused as malformed or the token is invalid):
  logged and dropped.
* **The end of the run**: the API answers 409 to any report once the run has finished (the job token ends with its
  run: canceled from the UI, failed by the API's sweeper, or finished by this builder's own final status whose answer
  was lost on the way). A 409 is final: that report is not retried, nothing more is sent (queued batches are dropped,
  heartbeats stop, the final status is not sent after a refused batch), and it is noted on stderr.
* **Heartbeats**: a ``heartbeat`` status event every ``heartbeat_interval`` seconds, best effort.
* **Attempt**: every status event and batch carries ``attempt``, random per reporter (one per builder process), so the
  API tells a Kubernetes re-run of a lost pod (a new process, seqs from 1 again) from retries of the same one.

Diagnostics go to the builder's stderr without secrets (bodies are never echoed).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from builder.contracts import CONTRACT_VERSION, CiServerConfig, JobType, RunStatus, StatusEvent, TailLogLine
from builder.steps import StepRef, utc_timestamp
from builder.usage import RunUsage

if TYPE_CHECKING:
    import http.client


def _transport_errors() -> tuple[type[Exception], ...]:
    # http.client (~20 ms with its email imports) is first needed in the sender thread, not before the first stage
    import http.client

    return (OSError, http.client.HTTPException)


_TRANSIENT_STATUSES = frozenset({408, 425, 429})
# How a request on a kept-alive connection the server has closed fails (http.client.RemoteDisconnected is a reset).
_CLOSED_WHILE_IDLE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
_quote: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[attr-defined]  # C-accelerated


class PermanentDeliveryError(Exception):
    """The API refused a request in a way retrying will not fix (a 4xx other than 408/425/429)."""


class RunEndedError(PermanentDeliveryError):
    """The API answered 409: the run has finished and takes no more reports."""


class RouteMissingError(PermanentDeliveryError):
    """The API answered 404: no such route (an older API) or no such run."""


RUN_ENDED = 409
NOT_FOUND = 404


class Transport:
    """POSTs JSON to the API over a kept-alive connection per host. Not thread-safe: one per thread."""

    def __init__(self, *, token: str, job_name: str = "", timeout: float = 10.0, request_id: str = "") -> None:
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "X-Estafette-Job-Name": job_name,
        }
        if request_id:  # the API logs its handling of each report under the run's request id
            self._headers["X-Request-ID"] = request_id
        self._timeout = timeout
        self._connections: dict[tuple[str, str], http.client.HTTPConnection] = {}

    def post(self, url: str, body: bytes) -> int:
        """POST ``body``; the HTTP status. Raises ``OSError``/``HTTPException`` when the request does not complete.

        A kept-alive connection the server closed while it was idle (gunicorn does after 2 s, proxies after their idle
        timeout) fails at once, without an answer: the request then goes again, once, on a new connection, rather than
        failing a heartbeat or delaying a log batch by a retry.
        """
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        reused = key in self._connections
        try:
            return self._post(key, path, body)
        except _CLOSED_WHILE_IDLE:
            if not reused:
                raise
        return self._post(key, path, body)

    def _post(self, key: tuple[str, str], path: str, body: bytes) -> int:
        connection = self._connection(key)
        try:
            connection.request("POST", path, body=body, headers=self._headers)
            response = connection.getresponse()
            response.read()
        except _transport_errors():
            self._drop(key)
            raise
        if response.will_close:
            self._drop(key)
        return response.status

    def _connection(self, key: tuple[str, str]) -> http.client.HTTPConnection:
        import http.client
        import ssl

        connection = self._connections.get(key)
        if connection is None:
            scheme, netloc = key
            if scheme == "https":
                connection = http.client.HTTPSConnection(
                    netloc, timeout=self._timeout, context=ssl.create_default_context()
                )
            else:
                connection = http.client.HTTPConnection(netloc, timeout=self._timeout)
            self._connections[key] = connection
        return connection

    def _drop(self, key: tuple[str, str]) -> None:
        connection = self._connections.pop(key, None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        for key in list(self._connections):
            self._drop(key)


def _delivered(status: int) -> bool:
    """Whether an HTTP status means the API has the request (raises for a permanent refusal)."""
    if 200 <= status < 300:
        return True
    if status in _TRANSIENT_STATUSES or status >= 500:
        return False
    if status == RUN_ENDED:
        raise RunEndedError("the API answered 409: the run has already ended")
    if status == NOT_FOUND:
        raise RouteMissingError("the API answered 404: it has no such route or run")
    raise PermanentDeliveryError(f"the API refused it with HTTP {status}")


@dataclass
class _Batch:
    seq: int
    items: list[str]  # TailLogLine JSON texts
    size: int
    body: bytes | None = None


class Reporter:
    """Batches and delivers a run's step updates and log lines (a :class:`builder.steps.Sink`) and its status."""

    def __init__(
        self,
        *,
        ci_server: CiServerConfig,
        job_type: JobType,
        run_id: str,
        job_name: str = "",
        max_batch_lines: int = 5000,
        max_batch_bytes: int = 1024 * 1024,
        flush_interval: float = 0.2,
        stage_grace: float = 0.5,
        max_flush_delay: float = 1.0,
        heartbeat_interval: float = 15.0,
        buffer_limit_bytes: int = 64 * 1024 * 1024,
        backoff_initial: float = 0.25,
        backoff_max: float = 10.0,
        transport_factory: Callable[[], Transport] | None = None,
        log: Callable[[str], None] | None = None,
        attempt: str | None = None,
        request_id: str = "",
    ) -> None:
        self.attempt = attempt or os.urandom(8).hex()  # os, not secrets: start-up time counts here
        self._ci = ci_server
        self._job_type: JobType = job_type
        self._run_id = run_id
        self._job_name = job_name
        self._max_lines = max_batch_lines
        self._max_bytes = max_batch_bytes
        self._flush_interval = flush_interval
        self._stage_grace = stage_grace
        self._max_flush_delay = max(flush_interval, max_flush_delay)
        self._stage_started = float("-inf")  # when the latest stage began running (monotonic)
        self._heartbeat_interval = heartbeat_interval
        self._buffer_limit = buffer_limit_bytes
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._request_id = request_id
        self._new_transport = transport_factory or (
            lambda: Transport(token=ci_server.job_token, job_name=job_name, request_id=request_id)
        )
        self._log = log or (lambda message: print(f"estafette-builder: {message}", file=sys.stderr, flush=True))

        self._cond = threading.Condition()
        self._open: list[str] = []
        self._prefixes: dict[StepRef, str] = {}
        self._open_size = 0
        self._open_since = 0.0
        self._sealed: deque[_Batch] = deque()
        self._buffered = 0
        self._seq = 0
        self._closing = False
        self._abandon = False
        self._stopped = threading.Event()
        self._sender: threading.Thread | None = None
        self._initial_status: RunStatus | None = None
        self._heartbeat: threading.Thread | None = None
        self._transport: Transport | None = None  # the sender's; the end goes over it once the sender is done
        self.delivered_batches = 0
        self.retried_deliveries = 0
        self.dropped_batches = 0
        self.run_ended = threading.Event()  # the API answered 409: the run is over, report nothing more

    # --- lifecycle ----------------------------------------------------------------------------------------------------

    def start(self, *, initial_status: RunStatus | None = None) -> None:
        """Start the sender and heartbeat threads.

        ``initial_status`` (``running``) is sent by the sender thread before any batch, so the caller can start the
        first stage without waiting for the round trip.
        """
        self._initial_status = initial_status
        self._transport = self._new_transport()
        self._sender = threading.Thread(target=self._send_loop, daemon=True, name="reporter-sender")
        self._sender.start()
        if self._heartbeat_interval > 0:
            self._heartbeat = threading.Thread(target=self._heartbeat_loop, daemon=True, name="reporter-heartbeat")
            self._heartbeat.start()

    def close(self, final_status: RunStatus, *, timeout: float = 1800.0, usage: RunUsage | None = None) -> bool:
        """Deliver every batch, then the final status (with the run's ``usage`` maxima where measured); whether
        everything was delivered within ``timeout`` seconds. The final status is retried with back-off for all that
        time: an API restarting or down for minutes gets it when it is back. With an ``endUrl`` the lines still open
        go with the final status, in one request."""
        deadline = time.monotonic() + timeout
        last: _Batch | None = None
        with self._cond:
            self._closing = True
            if self._ci.end_url and self._open:
                # kept out of the sender's queue: they go with the final status, after every sealed batch
                self._seq += 1
                last = _Batch(seq=self._seq, items=self._open, size=self._open_size)
                self._open, self._open_size = [], 0
            else:
                self._seal_locked()
            self._cond.notify_all()
        drained = True
        if self._sender is not None:
            self._sender.join(max(0.0, deadline - time.monotonic()))
            if self._sender.is_alive():
                drained = False
                with self._cond:
                    self._abandon = True
                    lost = sum(len(batch.items) for batch in self._sealed) + (len(last.items) if last else 0)
                    self._cond.notify_all()
                self._log(f"gave up delivering {lost} log lines: the API did not accept them in time")
        self._stopped.set()
        # The sender's connection once it is done with it (a sender still stuck in a request keeps its own).
        transport = self._transport if drained and self._transport is not None else self._new_transport()
        try:
            if self.run_ended.is_set():
                self._log(f"not reporting {final_status}: the API has already ended the run")
                return False
            status_deadline = max(time.monotonic() + 5.0, deadline)
            if self._ci.end_url and drained:
                delivered = self._send_end(
                    transport,
                    end_url=self._ci.end_url,
                    status=final_status,
                    last=last,
                    usage=usage,
                    deadline=status_deadline,
                )
            else:
                delivered = self._deliver(
                    transport,
                    self._ci.status_url,
                    self._status_event("updateStatus", final_status, self._seq, usage),
                    f"status {final_status}",
                    status_deadline,
                )
        finally:
            transport.close()
        # A 409 on the final status: the run is final on the server (this status's first answer may have been lost).
        return drained and (delivered or self.run_ended.is_set())

    def _send_end(
        self,
        transport: Transport,
        *,
        end_url: str,
        status: RunStatus,
        last: _Batch | None,
        usage: RunUsage | None,
        deadline: float,
    ) -> bool:
        """The lines still open and the final status in one request to ``endUrl``; apart when the API has no such
        route (404). Whether the final status was delivered."""
        event = self._status_event("updateStatus", status, self._seq, usage)
        body = b'{"contractVersion":%d,"status":%s' % (CONTRACT_VERSION, event)
        if last is not None:
            body += b',"batch":' + self._batch_body(last)
        body += b"}"
        outcome = self._deliver(transport, end_url, body, f"the end ({status})", deadline, missing=True)
        if outcome is None:
            self._log("the API has no end route (an older API): sending the last batch and the final status apart")
            if last is not None:
                batch_delivered = self._deliver(
                    transport, self._ci.logs_url, self._batch_body(last), f"log batch {last.seq}", deadline
                )
                if self.run_ended.is_set():
                    return False
                self._count(batch_delivered)
            return bool(self._deliver(transport, self._ci.status_url, event, f"status {status}", deadline))
        if last is not None:
            self._count(bool(outcome))
            if not outcome and not self.run_ended.is_set():
                self._log(f"gave up delivering {len(last.items)} log lines: the API did not accept them in time")
        return bool(outcome)

    def _count(self, delivered: bool) -> None:
        with self._cond:
            if delivered:
                self.delivered_batches += 1
            else:
                self.dropped_batches += 1

    # --- status -------------------------------------------------------------------------------------------------------

    def _status_event(
        self, event_type: str, status: RunStatus | None, log_batches: int | None, usage: RunUsage | None = None
    ) -> bytes:
        event = StatusEvent(
            event_type=event_type,  # type: ignore[arg-type]
            job_type=self._job_type,
            id=self._run_id,
            timestamp=utc_timestamp(),
            status=status,
            job_name=self._job_name,
            log_batches=log_batches,
            attempt=self.attempt,
            cpu_max_usage=usage.cpu_max_usage if usage is not None else None,
            memory_max_usage=usage.memory_max_usage if usage is not None else None,
        )
        return json.dumps(event.to_dict()).encode()

    def send_status(
        self,
        status: RunStatus,
        *,
        log_batches: int | None = None,
        timeout: float = 120.0,
        usage: RunUsage | None = None,
    ) -> bool:
        """POST an ``updateStatus`` event, retrying transient failures for up to ``timeout`` seconds."""
        body = self._status_event("updateStatus", status, log_batches, usage)
        transport = self._new_transport()
        try:
            return bool(
                self._deliver(transport, self._ci.status_url, body, f"status {status}", time.monotonic() + timeout)
            )
        finally:
            transport.close()

    def _deliver(
        self, transport: Transport, url: str, body: bytes, what: str, deadline: float | None, *, missing: bool = False
    ) -> bool | None:
        """POST until delivered; False on a permanent refusal, when ``deadline`` passes, or when abandoned. With
        ``missing``, None when the API answers 404 (the caller has another way)."""
        backoff = self._backoff_initial
        failures = 0
        while True:
            try:
                if _delivered(transport.post(url, body)):
                    if failures:
                        self._log(f"delivered {what} after {failures} failed attempts")
                    return True
                problem = "the API is unavailable"
            except RunEndedError as error:
                self._note_run_ended(what, error)
                return False
            except RouteMissingError as error:
                if missing:
                    return None
                self._log(f"dropped {what}: {error}")
                return False
            except PermanentDeliveryError as error:
                self._log(f"dropped {what}: {error}")
                return False
            except _transport_errors() as error:
                problem = f"cannot reach the API ({type(error).__name__})"
            failures += 1
            self.retried_deliveries += 1
            if failures == 1 or failures % 10 == 0:
                self._log(f"{what}: {problem}; retrying (attempt {failures + 1})")
            if self._abandon or (deadline is not None and time.monotonic() + backoff > deadline):
                return False
            time.sleep(backoff)
            backoff = min(self._backoff_max, backoff * 2)

    def _note_run_ended(self, what: str, error: Exception) -> None:
        """The API refused a report with 409: stop reporting (once noted on stderr; wakes waiting producers)."""
        with self._cond:
            first = not self.run_ended.is_set()
            self.run_ended.set()
            self._cond.notify_all()
        self._log(f"{what}: {error}; not retrying" + ("; reporting stops" if first else ""))

    def _heartbeat_loop(self) -> None:
        transport = Transport(
            token=self._ci.job_token, job_name=self._job_name, timeout=5.0, request_id=self._request_id
        )
        try:
            while not self._stopped.wait(self._heartbeat_interval) and not self.run_ended.is_set():
                # best effort: the next one will do
                with contextlib.suppress(*_transport_errors()):
                    if transport.post(self._ci.status_url, self._status_event("heartbeat", None, None)) == RUN_ENDED:
                        self._note_run_ended("heartbeat", RunEndedError("the API answered 409: the run has ended"))
        finally:
            transport.close()

    # --- log lines (the Sink interface) -------------------------------------------------------------------------------

    # Lines are kept as ready JSON text: the hot path formats each line once, with the C string encoder, and a
    # batch body is a join (json.dumps of thousands of dicts cost more than everything else in the builder).

    def update(self, tail: TailLogLine) -> None:
        item = json.dumps(tail.to_dict(), ensure_ascii=False, separators=(",", ":"))
        if tail.status == "RUNNING":
            self._stage_started = time.monotonic()  # read by the sender under the lock _add takes
        self._add([item], [len(item)])

    def log_lines(self, ref: StepRef, stream: str, first_line: int, timestamp: str, texts: Sequence[str]) -> None:
        prefix = self._prefixes.get(ref)
        if prefix is None:
            prefix = (
                json.dumps(ref.json_prefix(), ensure_ascii=False, separators=(",", ":"))[:-1] + ',"logLine":{"line":'
            )
            self._prefixes[ref] = prefix
        middle = f',"timestamp":{_quote(timestamp)},"streamType":{_quote(stream)},"text":'
        items = [f"{prefix}{number}{middle}{_quote(text)}}}}}" for number, text in enumerate(texts, first_line)]
        self._add(items, [len(item) for item in items])

    def _add(self, items: list[str], sizes: list[int]) -> None:
        total = sum(sizes)
        with self._cond:
            while self._buffered + total > self._buffer_limit and self._buffered > 0 and not self._abandon:
                if self.run_ended.is_set():
                    break
                self._cond.wait(1.0)  # backpressure: the API is behind or down
            if self.run_ended.is_set():
                return  # nobody takes these lines any more: the stage must not block on a full buffer
            if not self._open:
                self._open_since = time.monotonic()
                self._cond.notify_all()  # the sender starts the flush timer
            self._buffered += total
            if len(self._open) + len(items) < self._max_lines and self._open_size + total < self._max_bytes:
                self._open.extend(items)
                self._open_size += total
                return
            for item, size in zip(items, sizes, strict=True):
                if self._open and (len(self._open) >= self._max_lines or self._open_size + size > self._max_bytes):
                    self._seal_locked()
                    self._open_since = time.monotonic()
                self._open.append(item)
                self._open_size += size
            if len(self._open) >= self._max_lines or self._open_size >= self._max_bytes:
                self._seal_locked()
            self._cond.notify_all()

    def _seal_locked(self) -> None:
        if not self._open:
            return
        self._seq += 1
        self._sealed.append(_Batch(seq=self._seq, items=self._open, size=self._open_size))
        self._open, self._open_size = [], 0

    # --- sender -------------------------------------------------------------------------------------------------------

    def _next_batch(self) -> _Batch | None:
        with self._cond:
            while True:
                if self._abandon:
                    return None
                if self.run_ended.is_set():
                    self.dropped_batches += len(self._sealed) + (1 if self._open else 0)
                    self._sealed.clear()
                    self._open, self._open_size, self._buffered = [], 0, 0
                    self._cond.notify_all()
                    return None
                if not self._sealed and self._open:
                    due = self._flush_due() - time.monotonic()
                    if due <= 0 or self._closing:
                        self._seal_locked()
                    else:
                        self._cond.wait(due)
                        continue
                if self._sealed:
                    return self._sealed[0]
                if self._closing:
                    return None
                self._cond.wait()

    def _batch_body(self, batch: _Batch) -> bytes:
        if batch.body is None:
            head = (
                f'{{"contractVersion":{CONTRACT_VERSION},"seq":{batch.seq},"attempt":{_quote(self.attempt)},"lines":['
            )
            batch.body = (head + ",".join(batch.items) + "]}").encode()
        return batch.body

    def _flush_due(self) -> float:
        """When the open batch is sealed: ``flush_interval`` after its first line, later while a young stage runs
        (it may end soon, and its end then goes in the same batch), never later than ``max_flush_delay``."""
        due = self._open_since + self._flush_interval
        due = max(due, self._stage_started + self._stage_grace)
        return min(due, self._open_since + self._max_flush_delay)

    def _send_loop(self) -> None:
        transport = self._transport or self._new_transport()
        if self._initial_status is not None:
            body = self._status_event("updateStatus", self._initial_status, None)
            deadline = time.monotonic() + 120
            self._deliver(transport, self._ci.status_url, body, f"status {self._initial_status}", deadline)
        while (batch := self._next_batch()) is not None:
            delivered = self._deliver(
                transport, self._ci.logs_url, self._batch_body(batch), f"log batch {batch.seq}", None
            )
            with self._cond:
                if self._abandon:
                    return
                self._sealed.popleft()
                self._buffered -= batch.size
                if delivered:
                    self.delivered_batches += 1
                else:
                    self.dropped_batches += 1
                self._cond.notify_all()
