"""Publish after commit: the outbox table and the relay that moves it to JetStream.

``publish_on_commit`` writes one ``OutboxMessage`` row in the caller's transaction. The relay
claims unsent rows with a conditional UPDATE (a lease, so several relays can run and a dead one's
rows come back), publishes each with ``Nats-Msg-Id = dedup_key`` and marks it sent. Losing the relay
between commit and publish loses nothing (the row waits); losing it between publish and mark makes
the next relay publish again, and JetStream drops the copy inside its duplicate window.

A row the NATS server can never take (larger than its ``max_payload``: the client refuses it before sending) is moved
to a ``DeadLetter`` (consumer ``OUTBOX_RELAY``) with an error log, and the rows behind it go on: retrying it would
fail the same way forever and hold back every event written after it.

A process running its own relay (``start_relay_in_process``) writes its rows already claimed by that
relay and hands them over on commit: the relay publishes them at once, without a claiming transaction
of its own. Should the process die first, the lease runs out and any relay publishes them.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.core.serializers.json import DjangoJSONEncoder
from django.db import close_old_connections, connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from nats.errors import MaxPayloadError

from estafette.lib import request_ids
from estafette.lib.db import atomic_with_retry, retry_on_serialization_failure
from estafette.queue import jetstream, subjects
from estafette.queue.models import DeadLetter, HandledEvent, OutboxMessage

logger = logging.getLogger(__name__)

OUTBOX_RELAY = "outbox-relay"  # the ``DeadLetter.consumer`` of rows the relay could not publish

_claimants: list[tuple[int, Claimant]] = []  # with the pid that registered it: a forked child has no relay thread
_claimants_lock = threading.Lock()


class Claimant(Protocol):
    """A relay that takes this process's rows as they commit (``register_claimant``)."""

    token: str  # the claim its rows are written with
    lease_seconds: float

    def accepting(self) -> bool:
        """Whether it is running and will publish what it is handed."""

    def hand(self, message: OutboxMessage) -> None:
        """Take a committed row it holds the claim of (thread-safe, cheap)."""


def publish_on_commit(subject: str, payload: Mapping[str, Any], *, dedup_key: str | None = None) -> OutboxMessage:
    """Queue ``payload`` (a JSON object) for ``subject``; it is published once the caller's transaction commits.

    Call it inside the transaction that makes the change the event reports: the row commits or rolls
    back with it. ``dedup_key`` becomes the event id (``Nats-Msg-Id``, ``ReceivedEvent.id``); pass a
    natural key (a webhook delivery id, ``"build-42-finished"``) when the caller itself may run twice,
    otherwise a random one is used. Raises ``ValueError`` for a subject outside the stream or a
    payload that is not a JSON object.
    """
    if not subjects.is_event_subject(subject):
        raise ValueError(f"cannot publish to {subject!r}: event subjects look like {subjects.PREFIX}.<kind>")
    if not isinstance(payload, Mapping):
        raise ValueError(f"an event payload is a JSON object, got {type(payload).__name__}")
    key = dedup_key or f"outbox-{uuid.uuid4()}"
    if len(key) > 200:
        raise ValueError("dedup_key is longer than 200 characters")
    claimant = _claimant()
    claim: dict[str, Any] = {}
    if claimant is not None:
        lease = timedelta(seconds=claimant.lease_seconds)
        claim = {"claimed_by": claimant.token, "claimed_until": timezone.now() + lease, "attempts": 1}
    message = OutboxMessage.objects.create(
        subject=subject,
        payload=json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")),
        dedup_key=key,
        request_id=request_ids.current_request_id(),
        **claim,
    )
    if claimant is not None:
        transaction.on_commit(functools.partial(claimant.hand, message))
    return message


def _headers(message: OutboxMessage) -> dict[str, str]:
    headers = {jetstream.MSG_ID_HEADER: message.dedup_key}
    if message.request_id:  # the consumer's log lines and the job it starts carry the request's id
        headers[request_ids.HEADER] = message.request_id
    return headers


def register_claimant(claimant: Claimant) -> Callable[[], None]:
    """Let ``claimant`` (this process's relay) claim the rows this process writes from now on, and be handed
    each one when its transaction commits. Returns a function that ends this."""
    entry = (os.getpid(), claimant)
    with _claimants_lock:
        _claimants.append(entry)

    def remove() -> None:
        with _claimants_lock:
            if entry in _claimants:
                _claimants.remove(entry)

    return remove


def _claimant() -> Claimant | None:
    pid = os.getpid()
    with _claimants_lock:
        return next((claimant for owner, claimant in _claimants if owner == pid and claimant.accepting()), None)


# --- the relay's database steps (sync; each one short retried transaction) ---------------------------


def _claimable(now: datetime) -> Q:
    return Q(sent_at__isnull=True) & (Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))


def claim_batch(*, token: str, limit: int, lease_seconds: float) -> list[OutboxMessage]:
    """Claim up to ``limit`` unsent rows for ``token`` until the lease ends; returns them in id order.

    A plain read first: an idle relay polls often, and on SQLite every write transaction takes the
    database's write lock, so an empty outbox must cost no lock at all.
    """
    if not OutboxMessage.objects.filter(_claimable(timezone.now())).exists():
        return []
    return _claim(token=token, limit=limit, lease_seconds=lease_seconds)


@atomic_with_retry
def _claim(*, token: str, limit: int, lease_seconds: float) -> list[OutboxMessage]:
    # The UPDATE repeats the claimable condition, so two relays racing for the same rows each get only
    # the rows their own UPDATE changed (on SERIALIZABLE databases the loser retries on 40001).
    now = timezone.now()
    candidates = list(OutboxMessage.objects.filter(_claimable(now)).order_by("id").values_list("id", flat=True)[:limit])
    if not candidates:
        return []
    OutboxMessage.objects.filter(_claimable(now), id__in=candidates).update(
        claimed_by=token,
        claimed_until=now + timedelta(seconds=lease_seconds),
        attempts=F("attempts") + 1,
    )
    return list(OutboxMessage.objects.filter(id__in=candidates, claimed_by=token, sent_at__isnull=True).order_by("id"))


@atomic_with_retry
def mark_sent(*, token: str, ids: list[int]) -> int:
    """Mark published rows sent, if this claim still holds them. Returns how many rows were marked."""
    if not ids:
        return 0
    return OutboxMessage.objects.filter(id__in=ids, claimed_by=token, sent_at__isnull=True).update(
        sent_at=timezone.now(), claimed_by="", claimed_until=None, last_error=""
    )


@atomic_with_retry
def release_claim(*, token: str, ids: list[int], error: str) -> None:
    """Give rows back after a failed publish so the next round (of any relay) retries them."""
    if ids:
        OutboxMessage.objects.filter(id__in=ids, claimed_by=token, sent_at__isnull=True).update(
            claimed_by="", claimed_until=None, last_error=error[:2000]
        )


@atomic_with_retry
def dead_letter(*, token: str, message_id: int, reason: str) -> bool:
    """Move a claimed row that can never be published to a ``DeadLetter`` (kept there, payload and all, to publish
    again once the cause is fixed). Returns whether this claim still held the row."""
    row = OutboxMessage.objects.filter(id=message_id, claimed_by=token, sent_at__isnull=True).first()
    if row is None:
        return False
    DeadLetter.objects.create(
        consumer=OUTBOX_RELAY,
        subject=row.subject,
        event_id=row.dedup_key,
        deliveries=row.attempts,
        payload=row.payload,
        reason=reason,
    )
    row.delete()
    return True


@retry_on_serialization_failure
def prune(*, outbox_retention_seconds: float, handled_retention_seconds: float) -> int:
    """Delete sent outbox rows and handled-event records that are too old to matter. Returns rows deleted."""
    now = timezone.now()
    deleted, _ = OutboxMessage.objects.filter(sent_at__lt=now - timedelta(seconds=outbox_retention_seconds)).delete()
    handled, _ = HandledEvent.objects.filter(handled_at__lt=now - timedelta(seconds=handled_retention_seconds)).delete()
    return deleted + handled


# --- the relay ---------------------------------------------------------------------------------------


class OutboxRelay:
    """Moves outbox rows to JetStream until stopped.

    ``await relay.run(stop)`` runs it on the current event loop (the ``relay_outbox`` command);
    ``relay.start_in_thread()`` runs it beside a web server or a test harness. Database work runs on
    one worker thread of its own (the ORM is sync); publishing runs on the event loop.
    """

    PRUNE_EVERY_SECONDS = 300.0
    IDLE_POLL_SECONDS = 1.0  # the longest pause between polls of an empty outbox

    def __init__(self, queue: jetstream.QueueSettings, *, batch_size: int = 100, name: str = "outbox-relay") -> None:
        if queue.outbox_lease_seconds >= queue.duplicate_window_seconds:
            raise ValueError(
                "the outbox lease must be shorter than the JetStream duplicate window, or a relay that "
                "re-publishes an expired claim could double an event: lower ESTAFETTE_OUTBOX_LEASE_SECONDS"
            )
        self.queue = queue
        self.batch_size = batch_size
        self.name = name
        self.published = 0  # messages acknowledged by JetStream since start (duplicates included)
        self.token = uuid.uuid4().hex  # the claim of the rows this process writes while the relay runs in it
        self.lease_seconds = queue.outbox_lease_seconds
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_prune = 0.0
        self._handed: list[OutboxMessage] = []
        self._handed_lock = threading.Lock()
        self._accepting = False

    def wake(self) -> None:
        """Ask the relay to look at the outbox now (thread-safe)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def accepting(self) -> bool:
        return self._accepting

    def hand(self, message: OutboxMessage) -> None:
        """Publish ``message``, committed under this relay's claim, at once (thread-safe)."""
        with self._handed_lock:
            self._handed.append(message)
        self.wake()

    async def run(self, stop: asyncio.Event, *, claim_on_commit: bool = False) -> None:
        """Relay until ``stop`` is set, then return after finishing the batch in hand.

        With ``claim_on_commit`` the rows this process writes meanwhile are claimed by this relay as they are
        written and published as soon as they commit (``register_claimant``); it polls for others as usual.
        """
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        remove_claimant = register_claimant(self) if claim_on_commit else (lambda: None)
        nc = await jetstream.connect_until_stopped(self.queue, name=self.name, stop=stop)
        try:
            if nc is None or not await jetstream.wait_for_stream(nc.jetstream(), self.queue, name=self.name, stop=stop):
                return
            js = nc.jetstream()
            logger.info("%s: relaying the outbox to %s (stream %s)", self.name, self.queue.url, self.queue.stream)
            self._accepting = claim_on_commit
            loop = asyncio.get_running_loop()
            next_poll = loop.time()
            interval = self.queue.outbox_poll_interval_seconds
            while not stop.is_set():
                self._wake.clear()  # before looking: a row handed over from now on wakes the next sleep
                await self._publish_handed(js)
                if loop.time() >= next_poll:
                    sent = await self.relay_once(js)
                    await self._maybe_prune()
                    if sent >= self.batch_size:
                        continue  # more is waiting
                    interval = self._next_interval(interval, sent=sent)
                    next_poll = loop.time() + (interval if sent >= 0 else 1.0)
                await self._sleep(stop, max(0.0, next_poll - loop.time()))
        finally:
            self._accepting = False
            remove_claimant()
            if nc is not None:
                await self._publish_handed(nc.jetstream())  # handed over before the stop: rows claimed by us
            if nc is not None:
                await jetstream.close_quietly(nc)
            await asyncio.get_running_loop().run_in_executor(self._db, connections.close_all)
            self._db.shutdown(wait=True)

    def _next_interval(self, interval: float, *, sent: int) -> float:
        """The pause before the next poll: the configured interval while rows come, doubling up to
        ``IDLE_POLL_SECONDS`` while the outbox stays empty (an idle installation's relay polled 20 times a second,
        2.6% of a CPU, for rows that its writers' own relays publish on commit anyway)."""
        configured = self.queue.outbox_poll_interval_seconds
        if sent != 0:
            return configured
        return min(interval * 2, max(configured, self.IDLE_POLL_SECONDS))

    async def relay_once(self, js: Any) -> int:
        """Claim, publish and mark one batch. Returns how many were sent, or -1 after a failure."""
        token = uuid.uuid4().hex
        try:
            batch = await self._in_db(
                claim_batch, token=token, limit=self.batch_size, lease_seconds=self.queue.outbox_lease_seconds
            )
        except Exception:  # a database outage must not end the relay
            logger.exception("%s: cannot claim outbox rows, retrying", self.name)
            return -1
        if not batch:
            return 0
        return await self._publish(js, batch, token=token)

    async def _publish_handed(self, js: Any) -> int:
        """Publish the rows handed over on commit (claimed by ``self.token``); as ``relay_once``."""
        with self._handed_lock:
            batch, self._handed = self._handed, []
        return await self._publish(js, batch, token=self.token) if batch else 0

    async def _publish(self, js: Any, batch: list[OutboxMessage], *, token: str) -> int:
        """Publish ``batch`` (claimed by ``token``) in order and mark it sent (a row too large for the server goes to
        a dead letter); after a failure the rest are given back for any relay to retry. Returns how many rows were
        handled (sent or dead-lettered), or -1 after a failure."""
        published: list[int] = []
        dead: set[int] = set()
        failure = ""
        for message in batch:
            data = message.payload.encode()
            try:
                ack = await js.publish(message.subject, data, timeout=5, headers=_headers(message))
            except MaxPayloadError:
                # Permanent: the server's max_payload does not change between attempts. Set it aside, go on.
                if await self._dead_letter(message, size=len(data), token=token):
                    dead.add(message.id)
                    continue
                failure = "MaxPayloadError: cannot move the row to a dead letter"
                break
            except Exception as error:  # noqa: BLE001 - NATS down or slow: keep the row, retry later
                failure = f"{type(error).__name__}: {error}"
                logger.warning("%s: publishing %s failed (%s); it stays in the outbox", self.name, message.id, failure)
                break
            if ack.duplicate:
                logger.info("%s: %s was already in the stream (a re-publish after a crash)", self.name, message.id)
            published.append(message.id)
        self.published += len(published)
        try:
            await self._in_db(mark_sent, token=token, ids=published)
            unsent = [m.id for m in batch if m.id not in {*published, *dead}]  # after a failure: give them back
            await self._in_db(release_claim, token=token, ids=unsent, error=failure)
        except Exception:  # the claim expires and a later round re-publishes (deduplicated)
            logger.exception("%s: cannot mark outbox rows sent; they will be re-published and deduplicated", self.name)
            return -1
        return len(published) + len(dead) if not failure else -1  # a dead letter is handled too: go on

    async def _dead_letter(self, message: OutboxMessage, *, size: int, token: str) -> bool:
        """Move ``message``, too large for the server, to a dead letter; whether it moved (else it is retried)."""
        reason = (
            f"{size} bytes on {message.subject} is more than the NATS server's max_payload, so it can never be "
            "published: raise max_payload (nats-server config) or bound what the publisher puts in the event, "
            "then publish the dead letter's payload again"
        )
        try:
            moved = await self._in_db(dead_letter, token=token, message_id=message.id, reason=reason)
        except Exception:  # the database is away: the row stays claimed, the lease runs out, a later round retries
            logger.exception("%s: cannot move outbox row %s to a dead letter", self.name, message.id)
            return False
        if moved:
            logger.error(
                "%s: outbox row %s (%s, event %s) is %d bytes, more than the NATS server takes (max_payload); "
                "moved to a dead letter (consumer %r) and going on with the rows behind it",
                self.name,
                message.id,
                message.subject,
                message.dedup_key,
                size,
                OUTBOX_RELAY,
            )
        return moved

    def start_in_thread(self) -> Callable[[], None]:
        """Run the relay on a thread of its own, claiming this process's rows on commit (``run``); returns a
        function that stops it and waits."""
        ready = threading.Event()
        holder: dict[str, Any] = {}

        def main() -> None:
            async def body() -> None:
                holder["loop"] = asyncio.get_running_loop()
                holder["stop"] = asyncio.Event()
                ready.set()
                await self.run(holder["stop"], claim_on_commit=True)

            asyncio.run(body())

        thread = threading.Thread(target=main, name=self.name, daemon=True)
        thread.start()
        ready.wait(10)

        def stop() -> None:
            holder["loop"].call_soon_threadsafe(holder["stop"].set)
            thread.join(30)

        return stop

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        assert self._wake is not None
        waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
        _, pending = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending:
            waiter.cancel()

    async def _maybe_prune(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_prune < self.PRUNE_EVERY_SECONDS:
            return
        self._last_prune = loop.time()
        try:
            await self._in_db(
                prune,
                outbox_retention_seconds=self.queue.outbox_retention_seconds,
                handled_retention_seconds=self.queue.stream_max_age_seconds,
            )
        except Exception:  # pruning is housekeeping; the next round tries again
            logger.exception("%s: pruning the outbox failed", self.name)

    async def _in_db(self, func: Callable[..., Any], /, **kwargs: Any) -> Any:
        def call() -> Any:
            close_old_connections()
            return func(**kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._db, call)


_in_process: dict[int, tuple[OutboxRelay, Callable[[], None]]] = {}
_in_process_lock = threading.Lock()


def start_relay_in_process(queue: jetstream.QueueSettings | None = None) -> OutboxRelay:
    """Run a relay on a thread of this process, woken by this process's commits. Idempotent per process.

    The dedicated ``relay_outbox`` process polls; a process that writes events (a web worker, a
    consumer) publishes its own rows right after commit with this instead of waiting for that poll,
    and polls itself only every few seconds. Rows it does not get to (it dies, NATS is away) are
    still published by the dedicated relay; relays never double an event.
    """
    with _in_process_lock:
        running = _in_process.get(os.getpid())  # keyed by pid: a forked child needs its own thread
        if running is None:
            queue = queue or jetstream.QueueSettings.from_django()
            queue = replace(queue, outbox_poll_interval_seconds=max(queue.outbox_poll_interval_seconds, 5.0))
            relay = OutboxRelay(queue, name=f"outbox-relay-{os.getpid()}")
            running = _in_process[os.getpid()] = (relay, relay.start_in_thread())
        return running[0]


def stop_relay_in_process() -> None:
    """Stop this process's in-process relay, if one runs (tests; shutdown)."""
    with _in_process_lock:
        running = _in_process.pop(os.getpid(), None)
    if running is not None:
        running[1]()


def relay_pending(queue: jetstream.QueueSettings | None = None, *, batch_size: int = 100) -> int:
    """Publish everything the outbox holds now, then return how many rows were handled (published, or moved to a
    dead letter when too large for the server; sync; for tests and scripts)."""

    async def body() -> int:
        relay = OutboxRelay(queue or jetstream.QueueSettings.from_django(), batch_size=batch_size, name="outbox-once")
        nc = await jetstream.connect(relay.queue, name=relay.name)
        try:
            js = nc.jetstream()
            await jetstream.ensure_stream(js, relay.queue)
            total = 0
            while (sent := await relay.relay_once(js)) > 0:
                total += sent
            if sent < 0:
                raise RuntimeError("the outbox relay could not publish everything; see the log")
            return total
        finally:
            await jetstream.close_quietly(nc)
            await asyncio.get_running_loop().run_in_executor(relay._db, connections.close_all)
            relay._db.shutdown(wait=True)

    return asyncio.run(body())
