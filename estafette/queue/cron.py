"""The cron sender: one ``estafette.events.cron`` event per minute, ``{"time": <UTC now>}`` (ESTAFETTE.md §8).

In Kubernetes a CronJob runs ``manage.py send_cron_event`` every minute; ``make run`` runs
``manage.py cron_loop``. The message id is the minute (``cron-2024-05-01T12:03Z``), so two senders
in the same minute — a retried CronJob, a loop beside a CronJob — publish one event, not two.

The loop writes each tick to the outbox (``cron_tick_enqueue``) rather than publishing it: a tick taken while
nats-server is down (restarting, unreachable) waits in the database and the relay publishes it when NATS is back, so
the cron triggers of that minute still fire, late, instead of never.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import close_old_connections, transaction

from estafette.queue import jetstream, subjects
from estafette.queue.models import OutboxMessage
from estafette.queue.outbox import publish_on_commit

logger = logging.getLogger(__name__)

# The cron trigger kind's subject (``triggers.kinds``): this sender is its publisher.
CRON = subjects.event_subject("cron")


def cron_event(now: datetime) -> tuple[dict[str, str], str]:
    """The payload and message id of the tick for ``now`` (an aware datetime)."""
    utc = now.astimezone(UTC)
    payload = {"time": utc.isoformat(timespec="seconds").replace("+00:00", "Z")}
    return payload, f"cron-{utc:%Y-%m-%dT%H:%M}Z"


async def publish_cron_event(js: Any, now: datetime) -> bool:
    """Publish the tick for ``now``'s minute. Returns False when that minute's tick was already in the stream."""
    payload, message_id = cron_event(now)
    ack = await js.publish(CRON, json.dumps(payload).encode(), timeout=5, headers={jetstream.MSG_ID_HEADER: message_id})
    return not ack.duplicate


def send_cron_event(queue: jetstream.QueueSettings, *, now: datetime | None = None, wait_seconds: float = 5) -> bool:
    """Connect, make sure the stream exists, publish one tick (sync). See ``publish_cron_event``."""

    async def body() -> bool:
        nc = await jetstream.connect(queue, name="send_cron_event", wait_seconds=wait_seconds)
        try:
            js = nc.jetstream()
            await jetstream.ensure_stream(js, queue)
            return await publish_cron_event(js, now or datetime.now(UTC))
        finally:
            await jetstream.close_quietly(nc)

    return asyncio.run(body())


def seconds_until_next_minute(now: datetime) -> float:
    next_minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return (next_minute - now).total_seconds()


def cron_tick_enqueue(now: datetime) -> OutboxMessage:
    """Write the tick for ``now``'s minute to the outbox (its own transaction); the relay publishes it, once NATS
    takes it. Idempotent per minute downstream: the minute is the message id."""
    payload, message_id = cron_event(now)
    close_old_connections()
    with transaction.atomic():
        return publish_on_commit(CRON, payload, dedup_key=message_id)


async def run_cron_loop(stop: asyncio.Event) -> int:
    """Queue a tick at the start of every minute until ``stop`` is set; returns how many were queued."""
    queued = 0
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), seconds_until_next_minute(datetime.now(UTC)))
            break
        except TimeoutError:
            pass
        now = datetime.now(UTC)
        try:
            await asyncio.to_thread(cron_tick_enqueue, now)
        except Exception as error:  # noqa: BLE001 - a tick the database refused is logged; the next minute tries
            logger.warning("cron tick for %s not queued: %s: %s", now, type(error).__name__, error)
            continue
        queued += 1
        logger.info("cron tick %s queued for the relay", cron_event(now)[1])
    return queued
