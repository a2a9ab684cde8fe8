"""The asyncio side of consuming: fetch from a durable pull consumer, run the sync handler, settle.

This is the only place where async (nats-py) meets sync (the ORM, ``Consumer.handle``): each
consumer gets one worker thread of its own and ``process`` runs there, so its database connection
stays on that thread. While a handler runs, the message's ack deadline is extended (``in_progress``).

Stopping (SIGTERM, SIGINT, or ``stop.set()``): no new fetches; the message being handled finishes and
is settled; messages fetched with it but not started are given back at once (nak without delay).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import nats.errors
from django.db import connections
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from estafette.lib import metrics, request_ids
from estafette.lib.backoff import until_ready
from estafette.queue import jetstream
from estafette.queue.consumer import Consumer, Outcome, RawDelivery, Verdict

logger = logging.getLogger(__name__)

FETCH_TIMEOUT_SECONDS = 1.0  # how long a pull waits for messages; also how quickly a stop is noticed


class ConsumerWorker:
    """Runs one ``Consumer`` against its durable pull consumer until ``stop`` is set."""

    def __init__(self, consumer: Consumer, queue: jetstream.QueueSettings) -> None:
        self.consumer = consumer
        self.queue = queue
        self.max_deliver = consumer.max_deliver or queue.max_deliver
        self.ack_wait = float(consumer.ack_wait_seconds or queue.ack_wait_seconds)
        self.settled: dict[Verdict, int] = dict.fromkeys(Verdict, 0)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"consume-{consumer.durable}")

    async def run(self, js: JetStreamContext, stop: asyncio.Event) -> None:
        durable = self.consumer.durable
        subscription = None
        try:
            subscription = await self._subscribe(js, stop)
            if subscription is not None:
                logger.info("%s: consuming %s", durable, self.consumer.subject)
            while subscription is not None and not stop.is_set():
                try:
                    messages = await subscription.fetch(self.consumer.batch_size, timeout=FETCH_TIMEOUT_SECONDS)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError):
                    await asyncio.sleep(0.25)  # the client is reconnecting; pull again once it is back
                    continue
                except Exception:
                    logger.exception("%s: fetching failed; retrying", durable)
                    await asyncio.sleep(1.0)
                    continue
                await self._process_batch(messages, stop)
        finally:
            if subscription is not None:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()
            # Close this thread's database connection before the thread ends, not whenever GC gets to it.
            await asyncio.get_running_loop().run_in_executor(self._thread, connections.close_all)
            self._thread.shutdown(wait=True)
        logger.info("%s: stopped (%s)", durable, ", ".join(f"{v.value} {n}" for v, n in self.settled.items()))

    async def _subscribe(self, js: JetStreamContext, stop: asyncio.Event) -> JetStreamContext.PullSubscription | None:
        """Create or update the durable consumer and bind to it; wait while JetStream is unavailable."""

        async def bind() -> JetStreamContext.PullSubscription:
            await jetstream.ensure_stream(js, self.queue)
            await jetstream.ensure_consumer(
                js,
                self.queue,
                durable=self.consumer.durable,
                subject=self.consumer.subject,
                ack_wait_seconds=self.ack_wait,
                max_deliver=self.max_deliver,
            )
            return await js.pull_subscribe_bind(durable=self.consumer.durable, stream=self.queue.stream)

        def waiting(attempt: int, error: BaseException) -> None:  # JetStream starting up or restarting
            if attempt == 1 or attempt % 20 == 0:
                logger.warning(
                    "%s: JetStream not ready (%s: %s); waiting", self.consumer.durable, type(error).__name__, error
                )

        return await until_ready(bind, stop=stop, on_failure=waiting)

    async def _process_batch(self, messages: Iterable[Msg], stop: asyncio.Event) -> None:
        for message in messages:
            if stop.is_set():
                # Not started: hand it back now rather than after the ack wait.
                with contextlib.suppress(Exception):
                    await message.nak()
                continue
            await self._process_one(message)

    async def _process_one(self, message: Msg) -> None:
        raw = raw_delivery(message, stream=self.queue.stream)
        _note_lag(self.consumer.durable, message, raw)
        keep_alive = asyncio.ensure_future(self._extend_deadline(message))
        try:
            outcome = await asyncio.get_running_loop().run_in_executor(
                self._thread, lambda: self.consumer.process(raw, max_deliver=self.max_deliver)
            )
        finally:
            keep_alive.cancel()
        await self._settle(message, raw, outcome)

    async def _extend_deadline(self, message: Msg) -> None:
        """Tell JetStream a long handler is still working, so the message is not redelivered meanwhile."""
        while True:
            await asyncio.sleep(max(self.ack_wait / 3, 0.2))
            with contextlib.suppress(Exception):
                await message.in_progress()

    async def _settle(self, message: Msg, raw: RawDelivery, outcome: Outcome) -> None:
        """Ack, nak or term. If that fails (connection lost), the message is redelivered after the ack
        wait and the idempotent handler sees it again; nothing else can be done here."""
        try:
            if outcome.verdict is Verdict.ACK:
                await message.ack_sync(timeout=5)
            elif outcome.verdict is Verdict.RETRY:
                await message.nak(delay=outcome.delay_seconds)
            else:
                await message.term()
        except Exception as error:  # noqa: BLE001
            logger.warning(
                "%s: could not %s event %s (%s); it will be redelivered",
                *(self.consumer.durable, outcome.verdict.value, raw.event_id, error),
            )
            return
        self.settled[outcome.verdict] += 1
        metrics.events_handled.labels(self.consumer.durable, outcome.verdict.value).inc()


def _note_lag(durable: str, message: Msg, raw: RawDelivery) -> None:
    """The consumer's lag behind the stream as this event is taken: its age and what waits behind it."""
    if raw.published_at is not None:
        age = (datetime.now(UTC) - raw.published_at).total_seconds()
        metrics.queue_lag.labels(durable).set(max(0.0, age))
    pending = getattr(message.metadata, "num_pending", None)
    if pending is not None:
        metrics.queue_pending.labels(durable).set(pending)


def raw_delivery(message: Msg, *, stream: str) -> RawDelivery:
    metadata = message.metadata
    sequence = metadata.sequence.stream if metadata.sequence else None
    event_id = (message.headers or {}).get(jetstream.MSG_ID_HEADER) or f"{stream}-{sequence}"
    published_at: datetime | None = metadata.timestamp if isinstance(metadata.timestamp, datetime) else None
    return RawDelivery(
        subject=message.subject,
        data=message.data,
        event_id=event_id,
        deliveries=metadata.num_delivered or 1,
        stream_sequence=sequence,
        published_at=published_at,
        request_id=request_ids.acceptable((message.headers or {}).get(request_ids.HEADER)),
    )


async def run_consumers(
    consumers: list[Consumer],
    queue: jetstream.QueueSettings,
    *,
    stop: asyncio.Event | None = None,
    handle_signals: bool = False,
    name: str = "consume",
) -> dict[str, dict[Verdict, int]]:
    """Run the consumers on one NATS connection until ``stop`` is set (or SIGTERM/SIGINT when
    ``handle_signals``). Returns how many messages each consumer settled, by verdict."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if handle_signals:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, _request_stop, stop, signum)
    nc = await jetstream.connect_until_stopped(queue, name=name, stop=stop)
    workers = [ConsumerWorker(consumer, queue) for consumer in consumers]
    try:
        if nc is not None:
            js = nc.jetstream()
            # With nothing to consume, still wait for the stop: under supervisord an exiting process is started again.
            await asyncio.gather(stop.wait(), *(worker.run(js, stop) for worker in workers))
    finally:
        if nc is not None:
            await jetstream.close_quietly(nc)
        if handle_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
    return {worker.consumer.durable: worker.settled for worker in workers}


def _request_stop(stop: asyncio.Event, signum: int) -> None:
    if not stop.is_set():
        logger.info("received %s: finishing the events in hand, then stopping", signal.Signals(signum).name)
    stop.set()
