"""A request's id travels with the events it publishes: in the outbox row, as a NATS header, into the consumer that
handles the event and the events that consumer publishes in turn."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest
from django.db import transaction

from estafette.lib.request_ids import HEADER, bound, current_request_id
from estafette.queue import jetstream
from estafette.queue.consumer import Consumer, RawDelivery, ReceivedEvent, Verdict
from estafette.queue.models import OutboxMessage
from estafette.queue.outbox import publish_on_commit, relay_pending

pytestmark = pytest.mark.django_db(transaction=True)


class Noting(Consumer):
    durable = "noting"
    subject = "estafette.events.git"

    def __init__(self) -> None:
        self.request_ids: list[str] = []

    def handle(self, event: ReceivedEvent) -> None:
        self.request_ids.append(current_request_id())
        publish_on_commit("estafette.events.test.echo", {"of": event.id})


def delivery(request_id: str) -> RawDelivery:
    return RawDelivery(
        subject="estafette.events.git",
        data=json.dumps({"revision": "a1"}).encode(),
        event_id="push-1",
        deliveries=1,
        stream_sequence=1,
        published_at=None,
        request_id=request_id,
    )


@pytest.mark.nats
def test_an_event_published_in_a_request_carries_its_id_as_a_nats_header(
    queue_settings: jetstream.QueueSettings,
) -> None:
    # given an event published while request "req-42" is handled
    with bound("req-42"), transaction.atomic():
        publish_on_commit("estafette.events.git", {"revision": "a1"}, dedup_key="push-1")
    assert OutboxMessage.objects.get().request_id == "req-42"
    # when the relay publishes it, then the message in the stream has the header
    assert relay_pending(queue_settings) == 1
    assert last_headers(queue_settings, "estafette.events.git").get(HEADER) == "req-42"


def test_the_consumer_handles_the_event_under_its_request_id_and_passes_it_on() -> None:
    # given a consumer, when it handles an event that came from request "req-42"
    noting = Noting()
    outcome = noting.process(delivery("req-42"), max_deliver=3)
    # then its handler ran under that id, and what it published carries it too
    assert outcome.verdict is Verdict.ACK
    assert noting.request_ids == ["req-42"]
    assert OutboxMessage.objects.get(subject="estafette.events.test.echo").request_id == "req-42"
    # and outside the handling no id is left behind
    assert current_request_id() == ""


def test_an_event_without_a_request_id_is_handled_under_its_event_id() -> None:
    noting = Noting()
    noting.process(replace(delivery(""), event_id="push-7"), max_deliver=3)
    assert noting.request_ids == ["push-7"]  # the id the event was published with (Nats-Msg-Id)


def last_headers(queue: jetstream.QueueSettings, subject: str) -> dict[str, str]:
    async def body() -> dict[str, str]:
        nc = await jetstream.connect(queue, name="headers", wait_seconds=10)
        try:
            message = await nc.jetstream().get_last_msg(queue.stream, subject)
            return dict(message.headers or {})
        finally:
            await jetstream.close_quietly(nc)

    return asyncio.run(body())
