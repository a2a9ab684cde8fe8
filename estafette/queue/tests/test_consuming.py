"""Consumers through a real nats-server: delivery, redelivery, nak/term, long handlers, restarts."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any, ClassVar

import pytest
from nats.js.errors import NotFoundError

from estafette.queue import jetstream
from estafette.queue.consumer import Consumer, PermanentError, ReceivedEvent, Verdict
from estafette.queue.jetstream import QueueSettings, ensure_consumer, ensure_stream
from estafette.queue.models import DeadLetter, HandledEvent, OutboxMessage
from estafette.queue.outbox import OutboxRelay, publish_on_commit, relay_pending
from estafette.queue.worker import run_consumers
from tests.tooling.nats import BackgroundLoop, NatsServer
from tests.tooling.waiting import wait_until

pytestmark = [pytest.mark.nats, pytest.mark.django_db(transaction=True)]


class Scripted(Consumer):
    """Records every delivery; ``script`` says what to do on the n-th delivery of an event."""

    subject = "estafette.events.git"
    durable = "scripted"
    retry_delays = (0.1,)
    script: ClassVar[list[str]] = []  # per delivery: "ok", "fail", "permanent", "sleep:<seconds>"

    def __init__(self) -> None:
        self.deliveries: list[ReceivedEvent] = []
        self.lock = threading.Lock()

    def handle(self, event: ReceivedEvent) -> None:
        with self.lock:
            self.deliveries.append(event)
        step = self.script[min(event.deliveries, len(self.script)) - 1] if self.script else "ok"
        if step == "fail":
            raise RuntimeError(f"failure on delivery {event.deliveries}")
        if step == "permanent":
            raise PermanentError("cannot ever work")
        if step.startswith("sleep:"):
            time.sleep(float(step.split(":")[1]))


def consuming(queue: QueueSettings, *consumers: Consumer) -> BackgroundLoop:
    """The consumers running in the background, once each one's durable exists on the server (a test asking for a
    durable's state before the worker created it would get "consumer not found")."""
    running = BackgroundLoop(lambda stop: run_consumers(list(consumers), queue, stop=stop), name="consumers").start()
    for consumer in consumers:
        wait_until(lambda durable=consumer.durable: durable_exists(queue, durable), what=f"durable {consumer.durable}")
    return running


def durable_exists(queue: QueueSettings, durable: str) -> bool:
    async def body() -> bool:
        nc = await jetstream.connect(queue, name="test", wait_seconds=10)
        try:
            await nc.jetstream().consumer_info(queue.stream, durable)
        except NotFoundError:  # no stream yet, or no such consumer yet
            return False
        finally:
            await nc.close()
        return True

    return asyncio.run(body())


def publish(queue: QueueSettings, subject: str, payload: Any, *, message_id: str | None = None) -> None:
    async def body() -> None:
        nc = await jetstream.connect(queue, name="test", wait_seconds=10)
        js = nc.jetstream()
        await ensure_stream(js, queue)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        await js.publish(subject, data, headers={"Nats-Msg-Id": message_id} if message_id else None)
        await nc.close()

    asyncio.run(body())


def consumer_state(queue: QueueSettings, durable: str) -> dict[str, int]:
    async def body() -> dict[str, int]:
        nc = await jetstream.connect(queue, name="test", wait_seconds=10)
        info = await nc.jetstream().consumer_info(queue.stream, durable)
        await nc.close()
        return {
            "ack_pending": info.num_ack_pending or 0,
            "pending": info.num_pending or 0,
            "redelivered": info.num_redelivered or 0,  # redelivered and not yet acked
            "deliveries": info.delivered.consumer_seq if info.delivered else 0,  # redeliveries included
        }

    return asyncio.run(body())


def test_it_delivers_a_published_event_and_acks_it(queue_settings: QueueSettings) -> None:
    # given
    scripted = type("Ok", (Scripted,), {"script": ["ok"]})()
    running = consuming(queue_settings, scripted)
    try:
        # when
        publish_on_commit("estafette.events.git", {"revision": "abc"}, dedup_key="push-1")
        relay_pending(queue_settings)
        wait_until(lambda: scripted.deliveries, what="the delivery")
        wait_until(lambda: consumer_state(queue_settings, "scripted")["ack_pending"] == 0, what="the ack")
    finally:
        settled = running.stop()

    # then
    [event] = scripted.deliveries
    assert (event.id, event.subject, event.payload, event.deliveries) == (
        "push-1",
        "estafette.events.git",
        {"revision": "abc"},
        1,
    )
    assert event.published_at is not None
    assert consumer_state(queue_settings, "scripted") == {
        "ack_pending": 0,
        "pending": 0,
        "redelivered": 0,
        "deliveries": 1,
    }
    assert settled["scripted"][Verdict.ACK] == 1


def test_it_redelivers_a_failed_event_after_a_nak_with_delay(queue_settings: QueueSettings) -> None:
    # given
    scripted = type("FailOnce", (Scripted,), {"script": ["fail", "ok"]})()
    running = consuming(queue_settings, scripted)
    try:
        # when
        publish(queue_settings, "estafette.events.git", {"n": 1}, message_id="ev-1")
        wait_until(lambda: len(scripted.deliveries) == 2, what="the redelivery")
        wait_until(lambda: consumer_state(queue_settings, "scripted")["ack_pending"] == 0, what="the ack")
    finally:
        running.stop()

    # then
    assert [(e.id, e.deliveries) for e in scripted.deliveries] == [("ev-1", 1), ("ev-1", 2)]
    assert not DeadLetter.objects.exists()


def test_it_terminates_an_event_after_its_last_delivery_and_records_a_dead_letter(
    queue_settings: QueueSettings,
) -> None:
    # given: max_deliver is 3 in the test settings
    scripted = type("AlwaysFail", (Scripted,), {"script": ["fail"]})()
    running = consuming(queue_settings, scripted)
    try:
        # when
        publish(queue_settings, "estafette.events.git", {"n": 1}, message_id="ev-doomed")
        wait_until(DeadLetter.objects.exists, what="the dead letter")
        time.sleep(queue_settings.ack_wait_seconds + 0.5)  # long enough for any (wrong) redelivery
    finally:
        running.stop()

    # then
    assert [e.deliveries for e in scripted.deliveries] == [1, 2, 3]
    assert consumer_state(queue_settings, "scripted")["deliveries"] == 3
    letter = DeadLetter.objects.get()
    assert (letter.consumer, letter.event_id, letter.deliveries) == ("scripted", "ev-doomed", 3)
    assert letter.reason == "failed 3 times, last: RuntimeError: failure on delivery 3"
    assert consumer_state(queue_settings, "scripted")["ack_pending"] == 0


def test_it_terminates_undecodable_bytes_and_permanent_errors_at_once(queue_settings: QueueSettings) -> None:
    # given
    scripted = type("Permanent", (Scripted,), {"script": ["permanent"]})()
    running = consuming(queue_settings, scripted)
    try:
        # when
        publish(queue_settings, "estafette.events.git", b"\x00garbage\xff", message_id="ev-garbage")
        publish(queue_settings, "estafette.events.git", {"n": 1}, message_id="ev-refused")
        wait_until(lambda: DeadLetter.objects.count() == 2, what="two dead letters")
        time.sleep(queue_settings.ack_wait_seconds + 0.5)
    finally:
        running.stop()

    # then
    assert [e.id for e in scripted.deliveries] == ["ev-refused"]
    reasons = dict(DeadLetter.objects.values_list("event_id", "reason"))
    assert reasons["ev-garbage"].startswith("undecodable event: not UTF-8 JSON")
    assert DeadLetter.objects.get(event_id="ev-garbage").payload == "\\x00garbage\\xff"
    assert reasons["ev-refused"] == "permanent error: cannot ever work"
    assert consumer_state(queue_settings, "scripted")["ack_pending"] == 0


def test_it_redelivers_a_message_that_was_never_acked_after_the_ack_wait(queue_settings: QueueSettings) -> None:
    """A consumer that vanished without acking: JetStream hands the event out again after ack_wait."""

    async def body() -> list[int]:
        nc = await jetstream.connect(queue_settings, name="test", wait_seconds=10)
        js = nc.jetstream()
        await ensure_stream(js, queue_settings)
        await ensure_consumer(
            js, queue_settings, durable="forgetful", subject="estafette.events.git", ack_wait_seconds=1, max_deliver=3
        )
        await js.publish("estafette.events.git", b"{}")
        subscription = await js.pull_subscribe_bind(durable="forgetful", stream=queue_settings.stream)
        [first] = await subscription.fetch(1, timeout=5)  # given: taken and never acked
        started = time.monotonic()
        [second] = await subscription.fetch(1, timeout=5)  # when: waiting
        waited = time.monotonic() - started
        await second.ack_sync()
        await nc.close()
        assert waited >= 0.8
        return [first.metadata.num_delivered, second.metadata.num_delivered]

    # then
    assert asyncio.run(body()) == [1, 2]


def test_a_handler_running_longer_than_the_ack_wait_is_not_redelivered_meanwhile(
    queue_settings: QueueSettings,
) -> None:
    # given: ack wait 2 s, a handler taking 3 s
    scripted = type("Slow", (Scripted,), {"script": ["sleep:3"]})()
    running = consuming(queue_settings, scripted)
    try:
        # when
        publish(queue_settings, "estafette.events.git", {"n": 1}, message_id="ev-slow")
        wait_until(lambda: consumer_state(queue_settings, "scripted")["pending"] == 0, what="the delivery")
        time.sleep(3.5)
    finally:
        running.stop()

    # then
    assert [e.deliveries for e in scripted.deliveries] == [1]
    assert consumer_state(queue_settings, "scripted") == {
        "ack_pending": 0,
        "pending": 0,
        "redelivered": 0,
        "deliveries": 1,
    }


class Counting(Consumer):
    """Idempotent: its effect is a ``HandledEvent`` row per event id, so doubles would show as retries, not rows."""

    subject = "estafette.events.git"
    durable = "counting"
    idempotent = True
    retry_delays = (0.1,)

    def __init__(self) -> None:
        self.calls = 0

    def handle(self, event: ReceivedEvent) -> None:
        self.calls += 1


def test_no_event_is_lost_or_doubled_when_nats_server_restarts_with_events_in_flight(
    queue_settings: QueueSettings, nats_server: NatsServer
) -> None:
    # given: a relay and a consumer running, events being committed
    counting = Counting()
    relay = OutboxRelay(queue_settings, batch_size=5)
    relaying = BackgroundLoop(relay.run, name="relay").start()
    running = consuming(queue_settings, counting)
    try:
        for n in range(20):
            publish_on_commit("estafette.events.git", {"n": n}, dedup_key=f"ev-{n}")
        wait_until(lambda: relay.published >= 5, what="some events to be published")

        # when: the server is restarted (gracefully, then killed) while more events are committed
        nats_server.restart()
        for n in range(20, 30):
            publish_on_commit("estafette.events.git", {"n": n}, dedup_key=f"ev-{n}")
        nats_server.kill()
        for n in range(30, 40):
            publish_on_commit("estafette.events.git", {"n": n}, dedup_key=f"ev-{n}")
        nats_server.start()

        # then
        wait_until(lambda: HandledEvent.objects.count() == 40, timeout=60, what="all 40 events to be handled")
        wait_until(lambda: not OutboxMessage.objects.filter(sent_at__isnull=True).exists(), what="the outbox to drain")
    finally:
        running.stop()
        relaying.stop()
    handled = sorted(HandledEvent.objects.values_list("event_id", flat=True))
    assert handled == sorted(f"ev-{n}" for n in range(40))
    assert nats_server.stream_info()["state"]["messages"] == 40
