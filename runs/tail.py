"""Live tails of run logs (``GET …/logs.stream``): Server-Sent Events fed from the log store.

Each open tail holds a web worker thread for as long as it is open (gunicorn's ``gthread`` workers: see the Procfile)
but no database connection: one poller thread per process (``TailHub``) reads the log store for every open tail —
a few queries per tick, however many tails are open — and hands each tail its new lines. The stream itself is
``estafette.lib.sse``: a ``log`` event per TailLogLine, a ``ping`` every 5 s, ``close`` once the run is final and
every stored line was sent, or when a new attempt of the run starts (the web UI then reloads the stored log).

Because each open tail holds a thread, their number is capped (``TailSlots``): per process
(``LIVE_TAILS_PER_PROCESS``, well under the worker's threads, so a flood of streams leaves threads for every other
request) and per signed-in user (``LIVE_TAILS_PER_USER``). A stream over a cap is refused at once — 503 (the process
is full) or 429 (the user has too many open) with ``Retry-After`` — and the web UI retries with back-off. What a tail
holds in memory is bounded too: the hub reads a tail's next lines only once its stream has taken the previous ones.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections
from django.http import HttpRequest, StreamingHttpResponse
from rest_framework.renderers import BaseRenderer, JSONRenderer

from estafette.lib import metrics
from estafette.lib.errors import TooManyRequests, Unavailable
from estafette.lib.sse import Poll, sse_response, sse_stream
from runs.models import FINAL_STATUSES, LogRecord
from runs.registry import run_kind
from runs.selectors import log_entries_after

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.1  # how stale a tail may be; each tick costs a few indexed queries per process
# Chunks per tail and read; a tail behind by more catches up over the next ticks. Each read waits until the stream
# has taken the previous one, so a slow client of a huge log holds one read, not the log.
READ_LIMIT = 10
RETRY_AFTER_SECONDS = 5
# An open stream polls its subscription at least every second (``sse_stream``'s interval). One not polled for this
# long belongs to a response the server stopped iterating without closing it (a vanished client, a server shut down
# under an open stream): the hub forgets it, so nothing keeps reading the log store for nobody.
ABANDONED_AFTER_SECONDS = 60.0
MAX_RETRY_SECONDS = 5.0  # the longest pause between polls while the database keeps failing


@dataclass(eq=False)
class Subscription:
    """One open tail: what the hub found for it and has not been sent yet."""

    kind: str
    run_id: int
    record_id: int | None = None
    cursor: int = 0
    seen_updated_at: Any = None
    behind: bool = False  # the last read found lines: there may be more
    items: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = False
    wake: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_polled: float = field(default_factory=time.monotonic)

    def poll(self, cursor: int) -> Poll[int]:
        """For ``sse_stream``: the lines found since the last poll (the cursor is the hub's, not the caller's)."""
        with self.lock:
            items, self.items = self.items, []
            finished = self.finished and not items
            self.wake.clear()
            self.last_polled = time.monotonic()
        return Poll(items=items, cursor=cursor + len(items), finished=finished)

    def wait(self, seconds: float) -> None:
        self.wake.wait(seconds)

    def _deliver(self, items: list[dict[str, Any]], *, finished: bool) -> None:
        with self.lock:
            self.items.extend(items)
            self.finished = self.finished or finished
        if items or finished:
            self.wake.set()


class TailHub:
    """The per-process poller serving every open tail; its thread runs while at least one tail is open."""

    def __init__(self, *, tick: float = TICK_SECONDS, abandoned_after: float = ABANDONED_AFTER_SECONDS) -> None:
        self.tick = tick
        self.abandoned_after = abandoned_after
        self._subscriptions: set[Subscription] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def subscribe(self, *, kind: str, run_id: int) -> Subscription:
        subscription = Subscription(kind=kind, run_id=run_id)
        with self._lock:
            self._subscriptions.add(subscription)
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="tail-hub", daemon=True)
                self._thread.start()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    @property
    def open_tails(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    def _forget_abandoned(self) -> list[Subscription]:
        """The subscriptions still polled by their streams; the others are dropped (see ABANDONED_AFTER_SECONDS)."""
        oldest_alive = time.monotonic() - self.abandoned_after
        with self._lock:
            abandoned = {
                subscription for subscription in self._subscriptions if subscription.last_polled < oldest_alive
            }
            self._subscriptions -= abandoned
            return list(self._subscriptions)

    def _run(self) -> None:
        failures = 0
        try:
            while not self._stop.is_set():
                subscriptions = self._forget_abandoned()
                with self._lock:
                    if not subscriptions and not self._subscriptions:
                        self._thread = None
                        return
                try:
                    close_old_connections()
                    self.poll_once(subscriptions)
                except Exception:  # a database hiccup must not end every tail: log, reconnect, back off, try again
                    failures += 1
                    if failures == 1:
                        logger.exception("live tail poller failed; retrying with back-off")
                    connections.close_all()
                else:
                    if failures:
                        logger.warning("live tail poller recovered after %d failed polls", failures)
                    failures = 0
                self._stop.wait(min(self.tick * 2**failures, MAX_RETRY_SECONDS))
        finally:
            connections.close_all()

    def stop(self) -> None:
        """Stop the poller and forget every tail (open streams then see no more lines): for shutdown and tests."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._subscriptions.clear()
            self._stop.set()
        if thread is not None:
            thread.join(timeout=5)

    def poll_once(self, subscriptions: list[Subscription]) -> None:
        """One tick: statuses and latest records of all tailed runs (one query each per kind), then new lines."""
        by_kind: dict[str, list[Subscription]] = {}
        for subscription in subscriptions:
            by_kind.setdefault(subscription.kind, []).append(subscription)
        for kind, group in by_kind.items():
            ids = {subscription.run_id for subscription in group}
            # Statuses first: a run that was final before its lines are read has all of them stored (the builder
            # sends its final status after its last batch; the sweeper writes its reason with the status).
            final = {
                pk
                for pk, status in run_kind(kind).model.objects.filter(pk__in=ids).values_list("pk", "status")
                if status in FINAL_STATUSES
            }
            latest: dict[int, tuple[int, Any]] = {}
            for pk, run_id, updated_at in (
                LogRecord.objects.filter(run_kind=kind, run_id__in=ids)
                .order_by("run_id", "attempt")
                .values_list("pk", "run_id", "updated_at")
            ):
                latest[run_id] = (pk, updated_at)
            for subscription in group:
                self._advance(subscription, latest.get(subscription.run_id), final=subscription.run_id in final)

    @staticmethod
    def _advance(subscription: Subscription, latest: tuple[int, Any] | None, *, final: bool) -> None:
        with subscription.lock:
            if subscription.items:
                return  # its stream has not taken the last lines yet (a slow client): read on once it has
        if latest is None:
            subscription._deliver([], finished=final)
            return
        record_id, updated_at = latest
        if subscription.record_id is None:
            subscription.record_id = record_id
        elif subscription.record_id != record_id and not subscription.behind:
            subscription._deliver([], finished=True)  # a new attempt: the client reloads the stored log
            return
        if updated_at == subscription.seen_updated_at and not subscription.behind:
            subscription._deliver([], finished=final)
            return
        items, cursor = log_entries_after(
            record=LogRecord(pk=subscription.record_id), after_seq=subscription.cursor, limit=READ_LIMIT
        )
        # After a read that found something, read again next tick even if the record looks unchanged: the read is
        # bounded, and a batch may have committed with the timestamp already seen.
        subscription.behind = cursor != subscription.cursor
        subscription.cursor = cursor
        subscription.seen_updated_at = updated_at
        subscription._deliver(items, finished=final and not subscription.behind)


hub = TailHub()


def _release_database_connections() -> None:
    # An open tail holds its thread for minutes; it must not hold a database connection too (the hub reads for it).
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


class TooManyTails(Unavailable):
    """Every live-tail slot of this process is taken (503, ``Retry-After``)."""

    retry_after = RETRY_AFTER_SECONDS


class TooManyTailsOfUser(TooManyRequests):
    """The user has as many live tails open as one user may (429, ``Retry-After``)."""

    retry_after = RETRY_AFTER_SECONDS


class TailSlots:
    """Counts the open tails of this process, overall and per user; ``take`` one before a stream opens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = 0
        self._per_user: dict[str, int] = {}

    @property
    def open(self) -> int:
        with self._lock:
            return self._open

    def take(self, *, user: str | None, per_process: int, per_user: int) -> Callable[[], None]:
        """A slot for a stream of ``user`` (None: anonymous, counted for the process only); returns its release,
        which may be called any number of times. Raises ``TooManyTails`` or ``TooManyTailsOfUser`` when full."""
        with self._lock:
            if self._open >= per_process:
                raise TooManyTails(
                    f"this server has {self._open} live log streams open, as many as it serves at once; "
                    f"retry in {RETRY_AFTER_SECONDS} s or reload the log"
                )
            if user is not None and self._per_user.get(user, 0) >= per_user:
                raise TooManyTailsOfUser(
                    f"you have {per_user} live log streams open on this server, as many as one user may; "
                    "close one (another tab or window) or retry later"
                )
            self._open += 1
            if user is not None:
                self._per_user[user] = self._per_user.get(user, 0) + 1
        metrics.live_tails.inc()
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if released.is_set():
                    return
                released.set()
                metrics.live_tails.dec()
                self._open -= 1
                if user is not None:
                    left = self._per_user.pop(user) - 1
                    if left:
                        self._per_user[user] = left

        return release


slots = TailSlots()


class _Stream:
    """The events of one tail; ``close()`` (which the server calls when the response ends, even one never iterated,
    unlike a generator's ``finally``) gives back its slot and subscription."""

    def __init__(self, events: Iterator[bytes], release: Callable[[], None]) -> None:
        self._events = events
        self._release = release

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._events)

    def close(self) -> None:
        try:
            self._events.close()  # type: ignore[attr-defined]
        finally:
            self._release()


def tail_user(request: HttpRequest) -> str | None:
    """Whom a tail counts for: the signed-in user's id; None for anonymous readers (the process cap bounds them)."""
    user = getattr(request, "user", None)
    return str(user.pk) if user is not None and user.is_authenticated else None


def log_tail_response(*, kind: str, run_id: int, user: str | None = None) -> StreamingHttpResponse:
    """The SSE response tailing the latest log record of run ``kind`` ``run_id`` (already authorised).

    Raises ``TooManyTails``/``TooManyTailsOfUser`` when this process or ``user`` has no tail slot left.
    """
    release_slot = slots.take(
        user=user, per_process=settings.LIVE_TAILS_PER_PROCESS, per_user=settings.LIVE_TAILS_PER_USER
    )
    try:
        subscription = hub.subscribe(kind=kind, run_id=run_id)
    except BaseException:
        release_slot()
        raise

    def release() -> None:
        hub.unsubscribe(subscription)
        release_slot()

    def events() -> Iterator[bytes]:
        _release_database_connections()
        yield from sse_stream(subscription.poll, 0, interval=1.0, sleep=subscription.wait)

    return sse_response(_Stream(events(), release))


class EventStreamRenderer(BaseRenderer):
    """Lets a tail view accept ``Accept: text/event-stream`` (what EventSource sends); errors are rendered as JSON."""

    media_type = "text/event-stream"
    format = "event-stream"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return JSONRenderer().render(data)


TAIL_RENDERERS = (JSONRenderer, EventStreamRenderer)
